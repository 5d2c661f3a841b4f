"""model.predict for the non-recurrent layers against NumPy re-implementations of Keras 3's
definitions, on random weights.

Conv1D (channels last): y[t] = sum_k x[t*s + k*d - left] @ kernel[k] + bias, where out-of-range
steps are zeros; valid has no padding, causal pads (K-1)*d zeros on the left, same pads
max((T'-1)*s + (K-1)*d + 1 - T, 0) with T' = ceil(T/s), the smaller half on the left.
MaxPooling1D: max over windows of pool_size every `strides` steps; same padding as above, the
padded positions never win. GlobalAveragePooling1D with a mask: sum over unmasked steps divided
by their number. TimeDistributed(Dense): Dense on every step. RepeatVector(n): x[:, None, :]
repeated n times. Flatten: reshape to (batch, -1).
"""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import (Conv1D, Dense, Embedding, Flatten, GlobalAveragePooling1D,
                            GlobalMaxPooling1D, Input, MaxPooling1D, RepeatVector,
                            SpatialDropout1D, TimeDistributed)


def activation(name, x):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def same_geometry(length, span, strides):
    out = -(-length // strides)
    total = max((out - 1) * strides + span - length, 0)
    return out, total // 2


def conv1d_reference(x, kernel, bias, strides=1, padding="valid", dilation=1, act=None):
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    n, t, _ = x.shape
    if padding == "valid":
        left, padded = 0, t
    elif padding == "causal":
        left, padded = span - 1, t + span - 1
    else:
        out, left = same_geometry(t, span, strides)
        padded = (out - 1) * strides + span
    xp = np.zeros((n, padded + span, x.shape[2]))
    xp[:, left:left + t] = x
    out = (padded - span) // strides + 1
    y = np.zeros((n, out, kernel.shape[2]))
    for o in range(out):
        for tap in range(k):
            y[:, o] += xp[:, o * strides + tap * dilation] @ kernel[tap]
    return activation(act, y + (0 if bias is None else bias))


def max_pool_reference(x, pool, strides, padding):
    n, t, c = x.shape
    if padding == "valid":
        out, left = (t - pool) // strides + 1, 0
    else:
        out, left = same_geometry(t, pool, strides)
    y = np.empty((n, out, c))
    for o in range(out):
        lo, hi = max(o * strides - left, 0), min(o * strides - left + pool, t)
        y[:, o] = x[:, lo:hi].max(axis=1)
    return y


def randomize(model, rng, scale=0.6):
    weights = [rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    return [w.astype(np.float64) for w in weights]


def predict(model, x):
    out = model.predict(x, batch_size=3, verbose=0)
    assert out.dtype == np.float32
    return out


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (3, 1), (1, 2)])
def test_conv1d(padding, strides, dilation, rng):
    model = lstmkit.Sequential([Input(shape=(11, 3)),
                                Conv1D(4, 3, strides=strides, padding=padding,
                                       dilation_rate=dilation, activation="tanh")])
    kernel, bias = randomize(model, rng)
    assert kernel.shape == (3, 3, 4) and bias.shape == (4,)
    x = rng.normal(size=(5, 11, 3)).astype(np.float32)
    want = conv1d_reference(x.astype(np.float64), kernel, bias, strides, padding, dilation, "tanh")
    got = predict(model, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_conv1d_without_bias_and_even_kernel(rng):
    model = lstmkit.Sequential([Input(shape=(9, 2)), Conv1D(3, 4, padding="same", use_bias=False)])
    (kernel,) = randomize(model, rng)
    x = rng.normal(size=(4, 9, 2)).astype(np.float32)
    want = conv1d_reference(x.astype(np.float64), kernel, None, 1, "same")
    np.testing.assert_allclose(predict(model, x), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 1, "valid"),
                                                  (2, None, "same"), (3, 2, "same"),
                                                  (4, 3, "same")])
def test_max_pooling1d(pool, strides, padding, rng):
    model = lstmkit.Sequential([Input(shape=(9, 3)), MaxPooling1D(pool, strides, padding)])
    x = rng.normal(size=(4, 9, 3)).astype(np.float32)
    want = max_pool_reference(x, pool, strides or pool, padding)
    np.testing.assert_array_equal(predict(model, x), want.astype(np.float32))


def test_global_pooling(rng):
    x = rng.normal(size=(5, 7, 3)).astype(np.float32)
    for layer, want in ((GlobalMaxPooling1D(), x.max(axis=1)),
                        (GlobalAveragePooling1D(), x.mean(axis=1)),
                        (GlobalAveragePooling1D(keepdims=True), x.mean(axis=1, keepdims=True))):
        model = lstmkit.Sequential([Input(shape=(7, 3)), layer])
        np.testing.assert_allclose(predict(model, x), want, rtol=0, atol=1e-6)


def test_global_average_pooling_honours_the_mask(rng):
    model = lstmkit.Sequential([Embedding(10, 4, mask_zero=True), GlobalAveragePooling1D(),
                                Dense(2)])
    emb, kernel, bias = randomize(model, rng)
    x = np.array([[3, 1, 0, 0, 0], [0, 0, 2, 9, 5], [4, 0, 7, 0, 1], [1, 2, 3, 4, 5]], np.int32)
    vectors = emb[x]
    keep = (x != 0)[..., None]
    pooled = (vectors * keep).sum(axis=1) / keep.sum(axis=1)
    np.testing.assert_allclose(predict(model, x), pooled @ kernel + bias, rtol=0, atol=1e-5)
    # a max pooling ignores the mask, as Keras's does
    model = lstmkit.Sequential([Embedding(10, 4, mask_zero=True), GlobalMaxPooling1D()])
    (emb,) = randomize(model, rng)
    np.testing.assert_allclose(predict(model, x), emb[x].max(axis=1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("act", [None, "relu", "softmax"])
def test_time_distributed_dense(act, rng):
    model = lstmkit.Sequential([Input(shape=(6, 4)), TimeDistributed(Dense(3, activation=act))])
    kernel, bias = randomize(model, rng)
    x = rng.normal(size=(5, 6, 4)).astype(np.float32)
    want = activation(act, x.astype(np.float64) @ kernel + bias)
    np.testing.assert_allclose(predict(model, x), want, rtol=0, atol=1e-5)


def test_repeat_vector_flatten_and_spatial_dropout_at_inference(rng):
    model = lstmkit.Sequential([Input(shape=(4,)), Dense(3), RepeatVector(5),
                                SpatialDropout1D(0.5), Flatten(), Dense(2)])
    k1, b1, k2, b2 = randomize(model, rng)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    h = x.astype(np.float64) @ k1 + b1
    repeated = np.repeat(h[:, None, :], 5, axis=1)
    want = repeated.reshape(6, -1) @ k2 + b2
    np.testing.assert_allclose(predict(model, x), want, rtol=0, atol=1e-5)
    assert model.layers[1].get_weights() == []


def test_predict_sizes_its_output_from_the_last_call_and_survives_a_stale_size(rng):
    """predict remembers how many floats a row gave (one library call instead of two); the
    remembered size is only a hint: too small or too large, the output is still right."""
    model = lstmkit.Sequential([Input(shape=(4,)), Dense(3), RepeatVector(5),
                                TimeDistributed(Dense(2))])
    x = rng.normal(size=(6, 4)).astype(np.float32)
    want = predict(model, x)
    assert want.shape == (6, 5, 2)
    assert model._floats_per_row[(4,)] == 10
    for stale in (1, 10, 400):
        model._floats_per_row[(4,)] = stale
        np.testing.assert_array_equal(model.predict(x, verbose=0), want)
        assert model._floats_per_row[(4,)] == 10


def test_flatten_after_variable_length_embedding_builds_on_first_data(rng):
    model = lstmkit.Sequential([Embedding(20, 4), Flatten(), Dense(1)])
    x = rng.integers(0, 20, size=(3, 6)).astype(np.int32)
    assert model.predict(x, verbose=0).shape == (3, 1)
    assert [w.shape for w in model.get_weights()] == [(20, 4), (24, 1), (1,)]


def test_conv_pool_stack_on_ids(rng):
    model = lstmkit.Sequential([Input(shape=(8,)), Embedding(20, 4),
                                Conv1D(5, 3, padding="causal", activation="relu"),
                                MaxPooling1D(2), Flatten(), Dense(1, activation="sigmoid")])
    emb, ck, cb, dk, db = randomize(model, rng)
    x = rng.integers(0, 20, size=(4, 8)).astype(np.int32)
    h = conv1d_reference(emb[x], ck, cb, 1, "causal", 1, "relu")
    h = max_pool_reference(h, 2, 2, "valid").reshape(4, -1)
    np.testing.assert_allclose(predict(model, x), activation("sigmoid", h @ dk + db), rtol=0, atol=1e-5)
