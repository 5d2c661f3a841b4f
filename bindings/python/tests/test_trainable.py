"""Keras's trainable=False (issue #15), from Python and from C: a frozen layer's weights stay
bitwise as they were through fit while the others train and the loss falls, the gradient still
reaches the layers before a frozen one, summary() splits the counts as Keras does, and the
flag survives get_config, save and load."""

import ctypes
import json

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi as C
from lstmkit.layers import LSTM, Dense, Embedding


def data(n=64, t=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 50, size=(n, t)).astype(np.int32)
    y = (x[:, 3] > 25).astype(np.float32)
    return x, y


def test_summary_counts_like_keras():
    model = lstmkit.Sequential([lstmkit.Input(shape=(10,)), Embedding(1000, 16, trainable=False), LSTM(8), Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    # Keras: Embedding 1000*16 = 16,000 (non-trainable), LSTM 4*(8*(16+8)+8) = 800, Dense 8+1 = 9
    assert " Total params: 16,809 (65.66 KB)" in text
    assert " Trainable params: 809 (3.16 KB)" in text
    assert " Non-trainable params: 16,000 (62.50 KB)" in text
    assert model.count_params() == 16_809
    model.close()


def test_frozen_embedding_is_bitwise_unchanged_while_the_rest_trains():
    x, y = data()
    lstmkit.utils.set_random_seed(3)
    model = lstmkit.Sequential([Embedding(50, 8, trainable=False), LSTM(6), Dense(1, activation="sigmoid")])
    model.compile(optimizer=lstmkit.optimizers.Adam(0.02), loss="binary_crossentropy")
    model.build((None, 8))
    before = model.get_weights()
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0, seed=1)
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])
    for b, a in zip(before[1:], after[1:]):
        assert not np.array_equal(a, b)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.01, losses
    assert model.get_config()["layers"][0]["config"]["trainable"] is False
    model.close()


def test_pretrained_embedding_frozen_after_build():
    """The common pattern: build, load a pretrained matrix, freeze, compile, fit."""
    x, y = data()
    model = lstmkit.Sequential([Embedding(50, 8), LSTM(4), Dense(1, activation="sigmoid")])
    model.build((None, 8))
    pretrained = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    model.layers[0].set_weights([pretrained])
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=2)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], pretrained)
    # and unfreezing lets it train again
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=2)
    assert not np.array_equal(model.layers[0].get_weights()[0], pretrained)
    model.close()


def test_gradient_through_a_frozen_layer_is_the_trainable_ones():
    """One SGD step from the same weights: freezing the LSTM leaves it as it was, and the
    embedding and the Dense move exactly as in the all-trainable model (their gradients are the
    same). Had the backward pass stopped at the frozen layer, the embedding would not move."""
    x, y = data(n=32)
    models = []
    for frozen in (False, True):
        m = lstmkit.Sequential([Embedding(50, 4), LSTM(3, trainable=not frozen), Dense(1, activation="sigmoid")])
        m.compile(optimizer=lstmkit.optimizers.SGD(1.0), loss="binary_crossentropy")
        m.build((None, 8))
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    start = models[0].get_weights()
    for m in models:
        m.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0, seed=1)
    ref, frz = models[0].get_weights(), models[1].get_weights()
    for i in (1, 2, 3):
        np.testing.assert_array_equal(frz[i], start[i])
        assert not np.array_equal(ref[i], start[i])
    for i in (0, 4, 5):
        assert not np.array_equal(frz[i], start[i])
        np.testing.assert_array_equal(frz[i], ref[i])
    for m in models:
        m.close()


def test_save_and_load_keep_trainable(tmp_path):
    x, y = data()
    model = lstmkit.Sequential([Embedding(50, 8, trainable=False), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=4)
    frozen = model.layers[0].get_weights()[0]
    path = tmp_path / "frozen.lstmkit"
    model.save(path)
    loaded = lstmkit.models.load_model(path)
    assert loaded.layers[0].trainable is False and loaded.layers[1].trainable is True
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=5)
    np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], frozen)
    model.close()
    loaded.close()


def test_from_c_through_the_config_json():
    config = {"input_shape": [8], "layers": [
        {"class_name": "Embedding", "config": {"input_dim": 50, "output_dim": 4, "trainable": False}},
        {"class_name": "LSTM", "config": {"units": 3}},
        {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}
    out = ctypes.c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(config).encode(), 1, ctypes.byref(out)))
    try:
        text = C.read_text(C.lstmkit_model_config, out)
        assert json.loads(text)["layers"][0]["config"]["trainable"] is False
        summary = C.read_text(C.lstmkit_model_summary, out)
        assert " Non-trainable params: 200 (800.00 B)" in summary
        assert C.lstmkit_model_set_trainable(out, b"no_such_layer", 0) == C.E_INVALID_ARGUMENT
        assert "no_such_layer" in C.last_error()
        assert C.lstmkit_model_set_trainable(out, None, 0) == C.E_INVALID_ARGUMENT
        C.check(C.lstmkit_model_set_trainable(out, b"embedding", 1))
        assert "trainable" not in json.loads(C.read_text(C.lstmkit_model_config, out))["layers"][0]["config"]
        assert " Non-trainable params: 0 (0.00 B)" in C.read_text(C.lstmkit_model_summary, out)
    finally:
        C.lstmkit_model_free(out)
    # a non-boolean trainable is refused
    config["layers"][0]["config"]["trainable"] = "no"
    assert C.lstmkit_model_create(json.dumps(config).encode(), 1, ctypes.byref(out)) == C.E_BAD_CONFIG
    assert "'trainable'" in C.last_error()


def test_trainable_and_non_trainable_weights_split_like_keras():
    """Keras's trainable_weights / non_trainable_weights: a frozen Embedding's table moves to
    the second list, in get_weights() order; unfreezing moves it back."""
    lstmkit.utils.set_random_seed(2)
    emb = Embedding(30, 4, trainable=False)
    model = lstmkit.Sequential([emb, LSTM(3), Dense(1, activation="sigmoid")])
    model.build((None, 6))
    all_weights = model.get_weights()
    assert [w.shape for w in model.non_trainable_weights] == [(30, 4)]
    assert [w.shape for w in model.trainable_weights] == [w.shape for w in all_weights[1:]]
    np.testing.assert_array_equal(model.non_trainable_weights[0], all_weights[0])
    assert emb.trainable_weights == [] and len(emb.non_trainable_weights) == 1
    emb.trainable = True
    assert model.non_trainable_weights == []
    assert len(model.trainable_weights) == len(all_weights)


def test_a_functional_models_weights_split_too():
    x = lstmkit.Input((5,))
    frozen = Dense(3, trainable=False)
    model = lstmkit.Model(x, Dense(1)(frozen(x)))   # built: its input shape is known
    assert [w.shape for w in model.non_trainable_weights] == [(5, 3), (3,)]
    assert [w.shape for w in model.trainable_weights] == [(3, 1), (1,)]
