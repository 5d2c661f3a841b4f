"""The functional API (Model(inputs, outputs)), return_state, initial_state, stateful layers and
Bidirectional merge_mode=None, against NumPy re-implementations of Keras's equations and
Keras's parameter formulas; save/load of a functional model from Python and from C."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import (GRU, LSTM, Bidirectional, Concatenate, Dense, Embedding, Input,
                            RepeatVector, SimpleRNN, TimeDistributed)

REPO = Path(__file__).resolve().parents[3]


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_ref(x, weights, h=None, c=None, return_sequences=False):
    """Keras's LSTM (gates i, f, c, o) from the given initial state; returns (output, h, c)."""
    kernel, recurrent, bias = [w.astype(np.float64) for w in weights]
    n, steps, _ = x.shape
    units = recurrent.shape[0]
    h = np.zeros((n, units)) if h is None else h
    c = np.zeros((n, units)) if c is None else c
    seq = []
    for t in range(steps):
        z = x[:, t, :] @ kernel + h @ recurrent + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
        g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        seq.append(h)
    return (np.stack(seq, axis=1) if return_sequences else h), h, c


def seq2seq(vocab=11, length=6, out_len=4, units=5, dim=3):
    inputs = Input(shape=(length,))
    enc_out, h, c = LSTM(units, return_state=True)(Embedding(vocab, dim)(inputs))
    dec = LSTM(units, return_sequences=True)(RepeatVector(out_len)(enc_out), initial_state=[h, c])
    outputs = TimeDistributed(Dense(vocab, activation="softmax"))(dec)
    return lstmkit.Model(inputs, outputs, name="seq2seq")


def seq2seq_ref(model, x):
    emb, k1, r1, b1, k2, r2, b2, dk, db = model.get_weights()
    e = emb[x].astype(np.float64)
    enc_out, h, c = lstm_ref(e, (k1, r1, b1))
    rep = np.repeat(enc_out[:, None, :], 4, axis=1)
    dec, _, _ = lstm_ref(rep, (k2, r2, b2), h, c, return_sequences=True)
    logits = dec @ dk + db
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_encoder_decoder_matches_numpy(rng):
    model = seq2seq()
    x = rng.integers(0, 11, size=(9, 6)).astype(np.int32)
    got = model.predict(x, verbose=0)
    assert got.shape == (9, 4, 11)
    np.testing.assert_allclose(got, seq2seq_ref(model, x), rtol=1e-4, atol=1e-6)


def test_encoder_decoder_param_counts_are_keras(capsys):
    model = seq2seq(vocab=1000, length=12, out_len=9, units=256, dim=64)
    lstm = lambda d, u: 4 * (u * (d + u) + u)  # noqa: E731  Keras: 4 * (units * (input + units) + units)
    expected = 1000 * 64 + lstm(64, 256) + lstm(256, 256) + (256 * 1000 + 1000)
    assert model.count_params() == expected
    model.summary()
    text = capsys.readouterr().out
    assert "Connected to" in text and "lstm[0][1], lstm[0][2]" in text
    assert "[(None, 256), (None, 256), (None, 256)]" in text
    assert "{:,}".format(lstm(64, 256)) in text and "Total params: {:,}".format(expected) in text
    assert [l.name for l in model.layers] == ["input_layer", "embedding", "lstm", "repeat_vector",
                                              "lstm_1", "time_distributed"]


@pytest.mark.parametrize("layer, states", [(LSTM, 2), (GRU, 1), (SimpleRNN, 1)])
def test_return_state_outputs(layer, states, rng):
    inputs = Input(shape=(5, 3))
    outs = layer(4, return_state=True, return_sequences=True)(inputs)
    assert len(outs) == 1 + states
    # the last state (h) ends the output sequence; as the model's output it is what Keras returns
    model = lstmkit.Model(inputs, outs[1])
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    h = model.predict(x, verbose=0)
    assert h.shape == (3, 4)
    if layer is LSTM:
        ref_seq, ref_h, _ = lstm_ref(x.astype(np.float64), model.get_weights(), return_sequences=True)
        np.testing.assert_allclose(h, ref_h, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ref_seq[:, -1], ref_h)


def test_lstm_cell_state_output_matches_numpy(rng):
    inputs = Input(shape=(5, 3))
    _, _, c = LSTM(4, return_state=True)(inputs)
    model = lstmkit.Model(inputs, c)
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    _, _, ref_c = lstm_ref(x.astype(np.float64), model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), ref_c, rtol=1e-4, atol=1e-6)


def test_masked_rows_return_the_last_unmasked_state(rng):
    inputs = Input(shape=(6,))
    _, h, _ = LSTM(4, return_state=True)(Embedding(9, 3, mask_zero=True)(inputs))
    model = lstmkit.Model(inputs, h)
    x = np.array([[3, 1, 4, 1, 5, 2], [6, 2, 8, 0, 0, 0]], dtype=np.int32)
    emb, k, r, b = model.get_weights()
    _, ref_h0, _ = lstm_ref(emb[x[:1]].astype(np.float64), (k, r, b))
    _, ref_h1, _ = lstm_ref(emb[x[1:, :3]].astype(np.float64), (k, r, b))
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, np.concatenate([ref_h0, ref_h1]), rtol=1e-4, atol=1e-6)


def test_functional_save_load_round_trip(tmp_path, rng):
    model = seq2seq()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.integers(0, 11, size=(32, 6)).astype(np.int32)
    y = rng.integers(0, 11, size=(32, 4)).astype(np.int32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, seed=1)
    before = model.predict(x, verbose=0)
    path = tmp_path / "seq2seq.lstmkit"
    model.save(path)
    loaded = lstmkit.load_model(path)
    assert isinstance(loaded, lstmkit.Model)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)  # compiled settings came back too


C_PROGRAM = r"""
#include <stdio.h>
#include "lstmkit.h"
int main(int argc, char **argv) {
    lstmkit_model *m = NULL;
    if (lstmkit_model_load(argv[1], &m) != LSTMKIT_OK) { fprintf(stderr, "%s\n", lstmkit_last_error()); return 1; }
    int32_t ids[12] = {1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 0, 0};
    int64_t shape[2] = {2, 6};
    lstmkit_array x = {LSTMKIT_INT32, 2, shape, ids};
    float out[88];
    size_t count = 0;
    if (lstmkit_model_predict(m, &x, 32, out, 88, &count, NULL, 0, NULL) != LSTMKIT_OK) {
        fprintf(stderr, "%s\n", lstmkit_last_error());
        return 1;
    }
    for (size_t i = 0; i < count; i++) printf("%.9g\n", out[i]);
    lstmkit_model_free(m);
    return 0;
}
"""


def test_functional_model_loads_from_c(tmp_path):
    if shutil.which("cc") is None:
        pytest.skip("cc not installed")
    model = seq2seq()
    path = tmp_path / "seq2seq.lstmkit"
    model.save(path)
    lib = Path(lstmkit.library_path).parent
    src = tmp_path / "load.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "load"
    subprocess.run(["cc", str(src), "-I", str(REPO / "include"), "-L", str(lib), "-llstmkit",
                    "-Wl,-rpath," + str(lib), "-o", str(exe)], check=True)
    done = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=True)
    got = np.array([float(v) for v in done.stdout.split()], dtype=np.float32).reshape(2, 4, 11)
    x = np.array([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 0, 0]], dtype=np.int32)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-6)


def test_bidirectional_merge_mode_none_in_a_functional_model(rng):
    inputs = Input(shape=(5, 3))
    fwd, bwd = Bidirectional(LSTM(4, return_sequences=True), merge_mode=None)(inputs)
    split = lstmkit.Model(inputs, Concatenate()([fwd, bwd]))
    joined = lstmkit.Sequential([Input(shape=(5, 3)), Bidirectional(LSTM(4, return_sequences=True))])
    joined.set_weights(split.get_weights())
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(split.predict(x, verbose=0), joined.predict(x, verbose=0), rtol=1e-6)
    # trained, both halves get gradients
    inputs = Input(shape=(5, 3))
    halves = Bidirectional(LSTM(3, return_sequences=True), merge_mode=None)(inputs)
    out = Dense(1, activation="sigmoid")(GRU(2)(Concatenate()(halves)))
    model = lstmkit.Model(inputs, out)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    before = model.get_weights()
    model.fit(x, np.array([1, 0, 1], np.float32), epochs=1, verbose=0)
    after = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


def test_merge_mode_none_stays_refused_in_sequential():
    model = lstmkit.Sequential([Input(shape=(4, 2)), Bidirectional(LSTM(3), merge_mode=None)])
    with pytest.raises(lstmkit.BadConfigError, match="merge_mode"):
        model.summary()


def test_return_state_is_refused_in_sequential():
    model = lstmkit.Sequential([Input(shape=(4, 2)), LSTM(3, return_state=True)])
    with pytest.raises(lstmkit.BadConfigError, match="functional Model"):
        model.summary()


def test_layers_are_called_once_on_tensors(rng):
    inputs = Input(shape=(4, 2))
    layer = LSTM(3)
    layer(inputs)
    with pytest.raises(ValueError, match="second time"):
        layer(inputs)
    with pytest.raises(TypeError, match="Input"):
        LSTM(3)(rng.normal(size=(1, 4, 2)))
    with pytest.raises(TypeError, match="initial_state"):
        Dense(3)(inputs, initial_state=[inputs])


# ---- stateful ----

def test_stateful_carries_state_across_batches(rng):
    model = lstmkit.Sequential([Input(shape=(3, 2)), LSTM(4, stateful=True, return_sequences=True)])
    x = rng.normal(size=(4, 6, 2)).astype(np.float32)
    first = model.predict(x[:, :3], batch_size=4, verbose=0)
    second = model.predict(x[:, 3:], batch_size=4, verbose=0)
    ref, _, _ = lstm_ref(x.astype(np.float64), model.get_weights(), return_sequences=True)
    np.testing.assert_allclose(first, ref[:, :3], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(second, ref[:, 3:], rtol=1e-4, atol=1e-6)
    # two batches in one call: row i of batch 2 continues row i of batch 1
    model.reset_states()
    both = model.predict(np.concatenate([x[:2, :3], x[:2, 3:]]), batch_size=2, verbose=0)
    np.testing.assert_allclose(both[2:], ref[:2, 3:], rtol=1e-4, atol=1e-6)
    model.layers[0].reset_states()
    np.testing.assert_allclose(model.predict(x[:, :3], batch_size=4, verbose=0), first, rtol=1e-6)
    with pytest.raises(lstmkit.InvalidArgumentError, match="reset_states"):
        model.predict(x[:2, :3], batch_size=2, verbose=0)
    with pytest.raises(lstmkit.InvalidArgumentError, match="multiple of batch_size"):
        model.predict(x[:3, :3], batch_size=2, verbose=0)


def test_stateful_fit_needs_one_batch_size_for_training_and_validation(rng):
    model = lstmkit.Sequential([Input(shape=(3, 2)), LSTM(4, stateful=True), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(80, 3, 2)).astype(np.float32)
    y = rng.normal(size=(80, 1)).astype(np.float32)
    before = model.get_weights()
    # 64 training rows in batches of 32, 16 validation rows in one batch of 16: refused, as Keras
    with pytest.raises(lstmkit.InvalidArgumentError, match="batches of 16 rows, the training data of 32"):
        model.fit(x, y, batch_size=32, validation_split=0.2, verbose=0)
    with pytest.raises(lstmkit.InvalidArgumentError, match="batches of 16 rows, the training data of 32"):
        model.fit(x[:64], y[:64], batch_size=32, validation_data=(x[64:], y[64:]), verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # one size for both: trains, and the states carried out of fit feed the next predict
    history = model.fit(x, y, batch_size=16, validation_split=0.2, verbose=0)
    assert np.isfinite(history.history["val_loss"]).all()
    carried = model.predict(x[:16], batch_size=16, verbose=0)
    model.reset_states()
    fresh = model.predict(x[:16], batch_size=16, verbose=0)
    assert np.abs(carried - fresh).max() > 1e-4


def test_reset_states_of_a_stateless_layer_is_refused():
    model = lstmkit.Sequential([Input(shape=(3, 2)), LSTM(4)])
    model.reset_states()  # nothing stateful: nothing to do
    with pytest.raises(lstmkit.InvalidArgumentError, match="not a stateful"):
        model.layers[0].reset_states()


# ---- Sequential.build after compile ----

def test_build_after_compile_builds():
    model = lstmkit.Sequential([LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.build((None, 7, 3))
    assert model.count_params() == 4 * (4 * (3 + 4) + 4) + 5
    assert model.input_shape == (None, 7, 3)
    assert len(model.get_weights()) == 5
    model.build((None, 7, 3))  # the same shape again is fine
    with pytest.raises(lstmkit.InvalidArgumentError, match="built for"):
        model.build((None, 7, 5))
    x = np.zeros((2, 7, 3), np.float32)
    model.fit(x, np.ones(2, np.float32), verbose=0)


def test_new_c_functions_validate_their_arguments():
    import ctypes
    from lstmkit import _capi
    model = lstmkit.Sequential([Input(shape=(3, 2)), LSTM(4, stateful=True)])
    handle = model._live()
    shape = (ctypes.c_int64 * 3)(-1, 3, 2)
    assert _capi.lstmkit_model_build(None, shape, 3) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_build(handle, None, 3) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_build(handle, shape, 1) == _capi.E_INVALID_ARGUMENT
    assert "ndim" in _capi.lstmkit_last_error().decode()
    bad = (ctypes.c_int64 * 3)(-1, 0, 2)
    assert _capi.lstmkit_model_build(handle, bad, 3) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_build(handle, shape, 3) == _capi.OK
    assert _capi.lstmkit_model_reset_states(None, None) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_reset_states(handle, b"nope") == _capi.E_INVALID_ARGUMENT
    assert "no layer 'nope'" in _capi.lstmkit_last_error().decode()
    assert _capi.lstmkit_model_reset_states(handle, b"\xff") == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_reset_states(handle, b"lstm") == _capi.OK
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 3, 2), np.float32)
    y = np.zeros((4, 4), np.float32)
    xa, ya = model._x(x), model._y(y)
    fit = _capi.lstmkit_model_fit_validation
    progress = _capi.PROGRESS_FN(0)
    assert fit(handle, xa.ref, ya.ref, None, ya.ref, None, progress, None) == _capi.E_INVALID_ARGUMENT
    assert "x_val" in _capi.lstmkit_last_error().decode()
    assert fit(handle, xa.ref, ya.ref, xa.ref, None, None, progress, None) == _capi.E_INVALID_ARGUMENT
    assert fit(None, xa.ref, ya.ref, xa.ref, ya.ref, None, progress, None) == _capi.E_INVALID_ARGUMENT
    assert fit(handle, xa.ref, ya.ref, xa.ref, ya.ref, b"{\"batch_size\": 4}", progress, None) == _capi.OK


def test_default_names_count_the_layer_inside_bidirectional():
    # Keras creates LSTM(4) before wrapping it, so the next LSTM is lstm_1
    inp = Input(shape=(5, 3))
    x = Bidirectional(LSTM(4, return_sequences=True))(inp)
    model = lstmkit.Model(inp, Dense(1)(LSTM(8)(x)))
    assert [l.name for l in model.layers] == ["input_layer", "bidirectional", "lstm_1", "dense"]
    assert model._weight_names()[0] == "bidirectional/forward_lstm/kernel"
