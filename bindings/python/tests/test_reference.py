"""model.predict against a NumPy re-implementation of Keras's layers, on random weights.

Keras's LSTM: z = x_t @ kernel + h @ recurrent_kernel + bias, split into gates in the order
i, f, c, o; i, f, o use sigmoid, the candidate and the output use tanh;
c_t = f * c + i * tanh(z_c), h_t = o * tanh(c_t). Shapes: kernel (D, 4H), recurrent_kernel
(H, 4H), bias (4H,). Dense: activation(x @ kernel + bias) on the last axis.
"""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import LSTM, Dense, Dropout, Embedding, Input


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def activation(name, x):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "sigmoid":
        return sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def lstm_reference(x, kernel, recurrent_kernel, bias, return_sequences):
    n, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((n, units))
    c = np.zeros((n, units))
    outputs = []
    for t in range(steps):
        z = x[:, t, :] @ kernel + h @ recurrent_kernel + bias
        i = sigmoid(z[:, :units])
        f = sigmoid(z[:, units:2 * units])
        g = np.tanh(z[:, 2 * units:3 * units])
        o = sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else h


def reference_predict(spec, weights, x):
    """spec: list of (kind, options) mirroring the model; weights: Keras-ordered arrays."""
    weights = [w.astype(np.float64) for w in weights]
    out = x
    for kind, opts in spec:
        if kind == "embedding":
            out = weights.pop(0)[out]
        elif kind == "lstm":
            kernel, recurrent, bias = weights.pop(0), weights.pop(0), weights.pop(0)
            out = lstm_reference(out, kernel, recurrent, bias, opts.get("return_sequences", False))
        elif kind == "dense":
            kernel = weights.pop(0)
            bias = weights.pop(0) if opts.get("use_bias", True) else 0.0
            out = activation(opts.get("activation"), out @ kernel + bias)
        elif kind == "dropout":
            pass  # inference
    assert not weights
    return out


def randomize(model, rng, scale=0.6):
    weights = [rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def check(model, spec, x, rng):
    weights = randomize(model, rng)
    # set_weights really replaced the library's weights.
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    expected = reference_predict(spec, weights, x)
    got = model.predict(x, batch_size=3, verbose=0)
    assert got.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    return got


@pytest.mark.parametrize("act", [None, "linear", "relu", "sigmoid", "tanh", "softmax"])
def test_embedding_lstm_dense(act, rng):
    model = lstmkit.Sequential([Embedding(20, 5), LSTM(7), Dense(3, activation=act)])
    x = rng.integers(0, 20, size=(8, 9)).astype(np.int32)
    check(model, [("embedding", {}), ("lstm", {}), ("dense", {"activation": act})], x, rng)


def test_return_sequences_with_time_distributed_dense(rng):
    model = lstmkit.Sequential([Embedding(15, 4), LSTM(6, return_sequences=True),
                                Dense(4, activation="softmax")])
    x = rng.integers(0, 15, size=(5, 11)).astype(np.int32)
    got = check(model, [("embedding", {}), ("lstm", {"return_sequences": True}),
                        ("dense", {"activation": "softmax"})], x, rng)
    assert got.shape == (5, 11, 4)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, atol=1e-5)


def test_lstm_returning_sequences_is_the_output(rng):
    model = lstmkit.Sequential([Embedding(10, 3), LSTM(4, return_sequences=True)])
    x = rng.integers(0, 10, size=(4, 6)).astype(np.int32)
    check(model, [("embedding", {}), ("lstm", {"return_sequences": True})], x, rng)


def test_stacked_lstms_on_float_input_with_dropout(rng):
    model = lstmkit.Sequential([Input(shape=(8, 3)), LSTM(5, return_sequences=True),
                                Dropout(0.5), LSTM(4), Dense(2, activation="tanh")])
    x = rng.normal(size=(7, 8, 3)).astype(np.float32)
    check(model, [("lstm", {"return_sequences": True}), ("dropout", {}), ("lstm", {}),
                  ("dense", {"activation": "tanh"})], x, rng)


def test_first_layer_input_shape_and_dense_without_bias(rng):
    model = lstmkit.Sequential([LSTM(6, input_shape=(5, 2)), Dense(3, use_bias=False),
                                Dense(1, activation="sigmoid")])
    x = rng.normal(size=(6, 5, 2)).astype(np.float32)
    check(model, [("lstm", {}), ("dense", {"use_bias": False}),
                  ("dense", {"activation": "sigmoid"})], x, rng)


def test_predict_is_independent_of_batch_size(rng):
    model = lstmkit.Sequential([Embedding(12, 4), LSTM(5), Dense(2, activation="softmax")])
    randomize(model, rng)
    x = rng.integers(0, 12, size=(10, 7)).astype(np.int32)
    full = model.predict(x, batch_size=10, verbose=0)
    for batch_size in (1, 3, 4, 64):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size, verbose=0), full,
                                   rtol=0, atol=1e-6)
    # Row i's output depends on row i only.
    np.testing.assert_allclose(model.predict(x[3:4], verbose=0), full[3:4], rtol=0, atol=1e-6)


def test_inputs_in_other_dtypes_and_containers(rng):
    model = lstmkit.Sequential([Embedding(12, 4), LSTM(5), Dense(1, activation="sigmoid")])
    randomize(model, rng)
    x = rng.integers(0, 12, size=(4, 6)).astype(np.int32)
    want = model.predict(x, verbose=0)
    for variant in (x.astype(np.int64), x.astype(np.float64), x.tolist(), np.asfortranarray(x),
                    np.repeat(x, 2, axis=1)[:, ::2]):
        np.testing.assert_array_equal(model.predict(variant, verbose=0), want)
