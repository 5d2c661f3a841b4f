"""Issue #15: a key nobody reads (a misspelling such as return_sequence, activaton, mask_zeros,
learnng_rate) is BAD_CONFIG naming it, with the nearest known key, from C and from Python, in
layer configs, wrapped layers, compile settings and optimizer settings. Keras's own keys at
their defaults still load; options that would change the results and are not implemented are
refused rather than ignored. The binding forwards every layer keyword to the library, which is
the one place that decides."""

import ctypes
import json

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi as C
from lstmkit.errors import BadConfigError
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding, Masking, TimeDistributed

EMB = {"class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 3}}
LSTM2 = {"class_name": "LSTM", "config": {"units": 2}}
OUT = {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}
COMPILE = {"optimizer": "adam", "loss": "binary_crossentropy"}


def with_key(item, **extra):
    item = json.loads(json.dumps(item))
    item["config"].update(extra)
    return item


def c_create(config):
    """(status, message) of lstmkit_model_create; frees a model that was made."""
    out = ctypes.c_void_p()
    status = C.lstmkit_model_create(json.dumps(config).encode(), 1, ctypes.byref(out))
    message = C.last_error()
    if status == C.OK:
        C.lstmkit_model_free(out)
    return status, message


def c_compile(settings, config=None):
    out = ctypes.c_void_p()
    config = config or {"input_shape": [5], "layers": [EMB, LSTM2, OUT]}
    C.check(C.lstmkit_model_create(json.dumps(config).encode(), 1, ctypes.byref(out)))
    try:
        status = C.lstmkit_model_compile(out, json.dumps(settings).encode())
        return status, C.last_error()
    finally:
        C.lstmkit_model_free(out)


# (layers, the key refused, the key suggested)
LAYER_CASES = [
    ([EMB, with_key(LSTM2, return_sequence=True), OUT], "return_sequence", "return_sequences"),
    ([EMB, LSTM2, with_key(OUT, activaton="relu")], "activaton", "activation"),
    ([with_key(EMB, mask_zeros=True), LSTM2, OUT], "mask_zeros", "mask_zero"),
    ([EMB, {"class_name": "Bidirectional", "config": {"layer": with_key(LSTM2, return_sequence=True)}}, OUT],
     "return_sequence", "return_sequences"),
    ([EMB, with_key(LSTM2, return_sequences=True),
      {"class_name": "TimeDistributed", "config": {"layer": with_key(OUT, activaton="relu")}}], "activaton", "activation"),
    ([EMB, with_key(LSTM2, recurent_dropout=0.1), OUT], "recurent_dropout", "recurrent_dropout"),
    ([EMB, LSTM2, with_key(OUT, trainabel=False)], "trainabel", "trainable"),
]


@pytest.mark.parametrize("layers,key,near", LAYER_CASES, ids=[c[1] for c in LAYER_CASES])
def test_c_create_refuses_a_misspelt_layer_key(layers, key, near):
    status, message = c_create({"input_shape": [5], "layers": layers})
    assert status == C.E_BAD_CONFIG, message
    assert "unknown config key '%s'" % key in message
    assert "did you mean '%s'?" % near in message


COMPILE_CASES = [
    ({"optimizer": {"class_name": "adam", "learnng_rate": 0.01}, "loss": "mse"}, "learnng_rate", "learning_rate"),
    ({"optimizer": {"class_name": "Adam", "config": {"learnng_rate": 0.01}}, "loss": "mse"}, "learnng_rate", "learning_rate"),
    ({"optimizer": {"class_name": "sgd", "momentun": 0.9}, "loss": "mse"}, "momentun", "momentum"),
    ({"optimiser": "sgd", "loss": "mse"}, "optimiser", "optimizer"),
    ({"optimizer": "sgd", "loss": "mse", "metric": ["accuracy"]}, "metric", "metrics"),
]


@pytest.mark.parametrize("settings,key,near", COMPILE_CASES, ids=[c[1] for c in COMPILE_CASES])
def test_c_compile_refuses_a_misspelt_key(settings, key, near):
    status, message = c_compile(settings)
    assert status == C.E_BAD_CONFIG, message
    assert "'%s'" % key in message and "did you mean '%s'?" % near in message


@pytest.mark.parametrize("optimizer,key", [
    ({"class_name": "adam", "weight_decay": 0.004}, "weight_decay"),
    ({"class_name": "AdamW", "config": {}}, None),   # an optimizer class not implemented
    ({"class_name": "adam", "use_ema": True}, "use_ema"),
    ({"class_name": "sgd", "gradient_accumulation_steps": 4}, "gradient_accumulation_steps"),
    ({"class_name": "sgd", "decay": 0.01}, "decay"),
])
def test_unimplemented_optimizer_options_are_refused_not_ignored(optimizer, key):
    status, message = c_compile({"optimizer": optimizer, "loss": "mse"})
    assert status == C.E_BAD_CONFIG, message
    assert key is None or "'%s'" % key in message


def test_keras_optimizer_defaults_and_clipping_are_accepted():
    keras3 = {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None, "config": {
        "name": "adam", "learning_rate": 0.001, "weight_decay": None, "clipnorm": 1.0, "global_clipnorm": None,
        "clipvalue": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
        "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False}}
    status, message = c_compile({"optimizer": keras3, "loss": "binary_crossentropy", "loss_weights": None,
                                 "metrics": ["accuracy"], "weighted_metrics": None, "run_eagerly": False,
                                 "steps_per_execution": 1, "jit_compile": False})
    assert status == C.OK, message


def test_fit_options_refuse_a_misspelt_key():
    out = ctypes.c_void_p()
    C.check(C.lstmkit_model_create(json.dumps({"input_shape": [2], "layers": [OUT]}).encode(), 1, ctypes.byref(out)))
    try:
        C.check(C.lstmkit_model_compile(out, json.dumps(COMPILE).encode()))
        x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
        xs, ys = (ctypes.c_int64 * 2)(4, 2), (ctypes.c_int64 * 2)(4, 1)
        xa = C.lstmkit_array(C.FLOAT32, 2, xs, x.ctypes.data_as(ctypes.c_void_p))
        ya = C.lstmkit_array(C.FLOAT32, 2, ys, y.ctypes.data_as(ctypes.c_void_p))
        status = C.lstmkit_model_fit(out, ctypes.byref(xa), ctypes.byref(ya), b'{"epoch": 2}', C.PROGRESS_FN(), None)
        assert status == C.E_BAD_CONFIG and "'epoch'" in C.last_error()
    finally:
        C.lstmkit_model_free(out)


# ---- from Python: the keywords reach the library, which refuses them ----

def build(*layers, compile_kwargs=None):
    model = lstmkit.Sequential(list(layers))
    model.compile(**(compile_kwargs or {"optimizer": "adam", "loss": "binary_crossentropy"}))
    return model


@pytest.mark.parametrize("make,key", [
    (lambda: build(Embedding(10, 3), LSTM(2, return_sequence=True), Dense(1)), "return_sequence"),
    (lambda: build(Embedding(10, 3), LSTM(2), Dense(1, activaton="sigmoid")), "activaton"),
    (lambda: build(Embedding(10, 3, mask_zeros=True), LSTM(2), Dense(1)), "mask_zeros"),
    (lambda: build(Embedding(10, 3), Bidirectional(LSTM(2, return_sequence=True)), Dense(1)), "return_sequence"),
    (lambda: build(Embedding(10, 3), LSTM(2, return_sequences=True), TimeDistributed(Dense(1, activaton="relu"))),
     "activaton"),
    (lambda: build(Embedding(10, 3), LSTM(2), Dense(1),
                   compile_kwargs={"optimizer": {"class_name": "adam", "learnng_rate": 0.1}, "loss": "mse"}),
     "learnng_rate"),
    (lambda: build(Embedding(10, 3), LSTM(2), Dense(1), compile_kwargs={"optimizr": "adam", "loss": "mse"}),
     "optimizr"),
], ids=["return_sequence", "activaton", "mask_zeros", "bidirectional", "time_distributed", "learnng_rate",
        "optimizr"])
def test_python_misspellings_raise_bad_config_naming_the_key(make, key):
    with pytest.raises(BadConfigError, match="'%s'" % key) as info:
        make()
    assert "did you mean" in str(info.value)


def test_python_optimizer_classes_refuse_unknown_keywords():
    # the optimizer classes spell out their arguments, so Python itself refuses (as Keras does)
    with pytest.raises(TypeError, match="learnng_rate"):
        lstmkit.optimizers.Adam(learnng_rate=0.1)


def test_python_forwards_keras_keywords_the_library_accepts():
    model = build(Embedding(10, 3, embeddings_initializer="uniform", dtype="float32"),
                  LSTM(2, implementation=2, unit_forget_bias=True, kernel_regularizer=None, seed=3),
                  Dense(1, kernel_initializer="glorot_uniform"))
    layers = model.get_config()["layers"]
    assert layers[1]["config"]["unit_forget_bias"] is True
    model.close()


def test_zero_output_for_mask_is_honoured_not_ignored():
    """LSTM(return_sequences, zero_output_for_mask=True) outputs zeros at masked steps, and the
    same values as without the flag at the others (without it, a masked step repeats the
    previous output, as Keras does)."""
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0
    x[1, :2] = 0
    outs = []
    for flag in (False, True):
        lstmkit.utils.set_random_seed(7)
        model = lstmkit.Sequential([lstmkit.Input(shape=(5, 2)), Masking(),
                                    LSTM(3, return_sequences=True, zero_output_for_mask=flag)])
        if outs:
            model.set_weights(weights)
        weights = model.get_weights()
        outs.append(model.predict(x, verbose=0))
        assert model.get_config()["layers"][1]["config"].get("zero_output_for_mask", False) is flag
    masked = np.all(x == 0, axis=-1)
    np.testing.assert_array_equal(outs[1][~masked], outs[0][~masked])
    assert np.all(outs[1][masked] == 0)
    # the flag changed something: without it, row 0's padded tail repeats its last output
    assert np.all(np.abs(outs[0][0, 3:]).sum(axis=-1) > 0)


# The model config around the layers: its own keys and each layer entry's.
MODEL_CASES = [
    ({"input_shap": [5], "layers": [EMB, LSTM2, OUT]}, "model config: unknown key 'input_shap'", "input_shape"),
    ({"input_shape": [5], "layer": [EMB, LSTM2, OUT]}, "model config needs a 'layers' list", None),
    ({"input_shape": [5], "layers": [EMB, {"class_name": "LSTM", "confg": {"units": 2}}, OUT]},
     "layer 1: unknown key 'confg'", "config"),
    ({"class_name": "Functional", "name": "f", "input_layer": [["x", 0, 0]], "output_layers": [["d", 0, 0]],
      "layers": [{"class_name": "InputLayer", "name": "x", "config": {"batch_shape": [None, 5]}},
                 {"class_name": "Dense", "name": "d", "config": {"units": 1}, "inbound_nodes": [["x", 0, 0]]}]},
     "model config: unknown key 'input_layer'", "input_layers"),
]


@pytest.mark.parametrize("config,refused,suggested", MODEL_CASES)
def test_unknown_keys_around_the_layers_are_refused_from_c(config, refused, suggested):
    status, message = c_create(config)
    assert status == C.E_BAD_CONFIG
    assert refused in message
    if suggested:
        assert "did you mean '%s'" % suggested in message


def test_a_keras_sequential_config_with_its_bookkeeping_keys_loads():
    """What keras.Sequential.get_config() writes around the layers (Keras 3): module,
    registered_name and build_config describe how Keras rebuilds the objects."""
    wrap = lambda item: dict(item, module="keras.layers", registered_name=None,
                             build_config={"input_shape": [None, 5]})
    config = {"name": "sequential", "trainable": True, "dtype": "float32", "input_shape": [5],
              "build_input_shape": [None, 5], "layers": [wrap(EMB), wrap(LSTM2), wrap(OUT)]}
    assert c_create(config)[0] == C.OK
    status, message = c_create(dict(config, dtype="float16"))
    assert status == C.E_BAD_CONFIG and "'dtype'" in message


def test_model_trainable_false_freezes_every_layer():
    """Keras's model.trainable = False, as saved in the model's config: nothing trains."""
    out = ctypes.c_void_p()
    config = {"trainable": False, "input_shape": [5], "layers": [EMB, LSTM2, OUT]}
    C.check(C.lstmkit_model_create(json.dumps(config).encode(), 1, ctypes.byref(out)))
    try:
        buf = ctypes.create_string_buffer(8192)
        needed = ctypes.c_size_t()
        C.check(C.lstmkit_model_summary(out, buf, len(buf), ctypes.byref(needed)))
        summary = buf.value.decode()
        total = 10 * 3 + 4 * 2 * (3 + 2 + 1) + 2 + 1
        assert "Trainable params: 0" in summary
        assert "Non-trainable params: %d" % total in summary.replace(",", "")
    finally:
        C.lstmkit_model_free(out)
