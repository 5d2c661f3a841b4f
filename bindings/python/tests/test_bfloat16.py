"""dtype_policy="mixed_bfloat16": matrix products on bfloat16 operands (oneDNN), everything else
in float32.

The reference is NumPy: the same equations with every product's two operands rounded to
bfloat16 first (round to nearest, ties to even, done here on the bit patterns), accumulated in
float64. The engine must match that closely, and must differ from the unrounded float32
reference by about bfloat16's precision, which shows the products really ran in bfloat16.
Skipped where bfloat16 cannot run (no oneDNN or no AVX512-BF16/AMX); the last test checks that
such a machine gets a clear UnsupportedError instead.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lstmkit
from lstmkit import errors
from lstmkit.layers import LSTM, Dense, Embedding, Input


def bf16(a):
    """a rounded to the nearest bfloat16 (ties to even), as float64."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_reference(x, kernel, recurrent, bias, rounded):
    r = bf16 if rounded else (lambda v: np.asarray(v, dtype=np.float64))
    n, steps, _ = x.shape
    units = recurrent.shape[0]
    h = np.zeros((n, units))
    c = np.zeros((n, units))
    for t in range(steps):
        z = r(x[:, t, :]) @ r(kernel) + r(h) @ r(recurrent) + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
        g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = (o * np.tanh(c)).astype(np.float32).astype(np.float64)   # the engine keeps h in float32
    return h


def bf16_model(layers, loss="mse"):
    model = lstmkit.Sequential(layers)
    model.compile(optimizer="adam", loss=loss, dtype_policy="mixed_bfloat16")
    return model


def bf16_available():
    try:
        m = bf16_model([Input(shape=(4,)), Dense(2)])
        m.predict(np.zeros((2, 4), np.float32), verbose=0)
        return True, ""
    except errors.UnsupportedError as exc:
        return False, str(exc)


AVAILABLE, WHY_NOT = bf16_available()
needs_bf16 = pytest.mark.skipif(not AVAILABLE, reason="mixed_bfloat16 unavailable here: " + WHY_NOT)


def test_rounding_helper_is_round_to_nearest_even():
    # 1 + 2^-8 lies halfway between bfloat16 neighbours 1 and 1 + 2^-7: ties go to the even one (1)
    assert bf16(np.float32(1 + 2 ** -8)) == 1.0
    assert bf16(np.float32(1 + 3 * 2 ** -8)) == 1 + 2 ** -6
    assert bf16(np.float32(1 + 2 ** -8 + 2 ** -20)) == 1 + 2 ** -7


@needs_bf16
@pytest.mark.parametrize("rows,inputs,units", [(64, 48, 40), (300, 256, 512)],
                         ids=["small product (OpenBLAS)", "large product (oneDNN, row blocks)"])
def test_dense_matches_the_rounded_numpy_product(rng, rows, inputs, units):
    x = rng.normal(size=(rows, inputs)).astype(np.float32)
    model = bf16_model([Input(shape=(inputs,)), Dense(units)])
    kernel, bias = model.get_weights()
    got = model.predict(x, batch_size=rows, verbose=0).astype(np.float64)
    want = bf16(x) @ bf16(kernel) + bias
    plain = x.astype(np.float64) @ kernel + bias
    assert np.max(np.abs(got - want)) < 1e-5 * np.sqrt(inputs / 48)
    assert np.max(np.abs(got - plain)) > 1e-3      # the products did run on bfloat16


@needs_bf16
@pytest.mark.parametrize("units,steps", [(24, 5), (64, 12)])
def test_lstm_forward_matches_the_rounded_numpy_reference(rng, units, steps):
    x = rng.normal(size=(48, steps, 16)).astype(np.float32)
    model = bf16_model([Input(shape=(steps, 16)), LSTM(units)])
    kernel, recurrent, bias = model.get_weights()
    got = model.predict(x, batch_size=48, verbose=0).astype(np.float64)
    want = lstm_reference(x, kernel, recurrent, bias, rounded=True)
    plain = lstm_reference(x, kernel, recurrent, bias, rounded=False)
    # a float32 rounding difference in h can move a bfloat16 rounding of it by one step (2^-8
    # relative), so the match is close but not exact
    assert np.mean(np.abs(got - want)) < 2e-6
    assert np.max(np.abs(got - want)) < 1e-3
    assert np.mean(np.abs(got - plain)) > 1e-4


@needs_bf16
def test_training_follows_float32_closely(rng):
    """Same seed, same data: the two policies' losses stay within bfloat16's precision of each
    other over a few epochs, and both learn."""
    ids = rng.integers(1, 50, size=(256, 20)).astype(np.int32)
    y = (ids[:, -1] < 25).astype(np.float32)     # the last token decides: learnt in a few epochs
    losses = {}
    for policy in ("float32", "mixed_bfloat16"):
        lstmkit.utils.set_random_seed(7)
        model = lstmkit.Sequential([Input(shape=(20,), dtype="int32"), Embedding(50, 16), LSTM(32),
                                    Dense(1, activation="sigmoid")])
        model.compile(optimizer=lstmkit.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                      metrics=["accuracy"], dtype_policy=policy)
        history = model.fit(ids, y, batch_size=32, epochs=5, verbose=0, seed=3)
        losses[policy] = np.array(history.history["loss"])
    assert losses["mixed_bfloat16"][-1] < 0.5 * losses["mixed_bfloat16"][0]
    assert np.max(np.abs(losses["mixed_bfloat16"] - losses["float32"])) < 0.01
    assert not np.array_equal(losses["mixed_bfloat16"], losses["float32"])


@needs_bf16
def test_policy_is_saved_with_the_model(rng, tmp_path):
    x = rng.normal(size=(8, 6, 4)).astype(np.float32)
    model = bf16_model([Input(shape=(6, 4)), LSTM(8), Dense(1)])
    model.fit(x, np.zeros((8, 1), np.float32), epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = lstmkit.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    # safetensors: an 8-byte little-endian header length, then the JSON header with the metadata
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert json.loads(header["__metadata__"]["lstmkit.compile"])["dtype_policy"] == "mixed_bfloat16"


def test_unknown_policy_is_refused():
    model = lstmkit.Sequential([Input(shape=(4,)), Dense(2)])
    with pytest.raises(errors.BadConfigError, match="dtype_policy"):
        model.compile(optimizer="adam", loss="mse", dtype_policy="float16")


def test_missing_onednn_gives_a_clear_error():
    """A machine without oneDNN: compile is accepted (the file may be used elsewhere), fit and
    predict raise UnsupportedError naming what is missing."""
    code = textwrap.dedent("""
        import numpy as np, lstmkit
        from lstmkit.layers import Dense, Input
        m = lstmkit.Sequential([Input(shape=(4,)), Dense(2)])
        m.compile(optimizer="adam", loss="mse", dtype_policy="mixed_bfloat16")
        for call in (lambda: m.predict(np.zeros((2, 4), np.float32), verbose=0),
                     lambda: m.fit(np.zeros((2, 4), np.float32), np.zeros((2, 2), np.float32), verbose=0)):
            try:
                call()
            except lstmkit.errors.UnsupportedError as exc:
                print("UNSUPPORTED", exc)
    """)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(lstmkit.__file__)))
    env = dict(os.environ, LSTMKIT_DNNL="/nonexistent/libdnnl.so.2",
               PYTHONPATH=os.pathsep.join([package_parent] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("UNSUPPORTED")]
    assert len(lines) == 2, out.stdout
    assert "mixed_bfloat16" in lines[0]
    assert "/nonexistent/libdnnl.so.2" in lines[0] or "bfloat16 instructions" in lines[0]


def test_global_policy_is_the_compile_default(monkeypatch):
    """keras.mixed_precision's way: set the global policy, then compile without naming one."""
    sent = []
    real = lstmkit._capi.lstmkit_model_compile
    monkeypatch.setattr(lstmkit._capi, "lstmkit_model_compile", lambda h, js: sent.append(json.loads(js)) or real(h, js))
    model = lstmkit.Sequential([Input(shape=(4,)), Dense(2)])
    try:
        lstmkit.mixed_precision.set_global_policy("mixed_bfloat16")
        assert lstmkit.mixed_precision.global_policy().compute_dtype == "bfloat16"
        model.compile(optimizer="adam", loss="mse")
        model.compile(optimizer="adam", loss="mse", dtype_policy="float32")
    finally:
        lstmkit.mixed_precision.set_global_policy("float32")
    assert sent[0]["dtype_policy"] == "mixed_bfloat16"
    assert "dtype_policy" not in sent[1]
    with pytest.raises(ValueError):
        lstmkit.mixed_precision.set_global_policy("mixed_float16")


@needs_bf16
def test_a_rows_prediction_does_not_depend_on_its_batch(rng):
    """Single rows take the bfloat16 products too, so a row predicts the same alone or batched."""
    x = rng.integers(1, 30, size=(9, 14)).astype(np.int32)
    model = bf16_model([Input(shape=(14,), dtype="int32"), Embedding(30, 8), LSTM(16), Dense(3)])
    together = model.predict(x, batch_size=9, verbose=0)
    alone = np.concatenate([model.predict(x[i:i + 1], verbose=0) for i in range(len(x))])
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-6)


@needs_bf16
@pytest.mark.parametrize("make", [
    lambda: lstmkit.layers.SimpleRNN(12, return_sequences=True),
    lambda: lstmkit.layers.GRU(12),
    lambda: lstmkit.layers.GRU(12, reset_after=False),
    lambda: lstmkit.layers.Bidirectional(LSTM(12)),
    lambda: LSTM(12, dropout=0.2, recurrent_dropout=0.2),
], ids=["simple_rnn", "gru", "gru_reset_before", "bilstm", "lstm_dropout"])
def test_every_recurrent_layer_runs_and_trains_close_to_float32(rng, make):
    """The other cells and options under the policy: predictions within bfloat16's precision of
    float32's on the same weights, and a few training batches give nearly the same losses."""
    x = rng.integers(1, 40, size=(64, 15)).astype(np.int32)
    y = (x[:, -1] < 20).astype(np.float32)
    out = {}
    for policy in ("float32", "mixed_bfloat16"):
        lstmkit.utils.set_random_seed(11)
        model = lstmkit.Sequential([Input(shape=(15,), dtype="int32"), Embedding(40, 8), make(),
                                    lstmkit.layers.Flatten(), Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", dtype_policy=policy)
        before = model.predict(x, verbose=0)
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, seed=5)
        out[policy] = (before, np.array(history.history["loss"]))
    (p32, l32), (p16, l16) = out["float32"], out["mixed_bfloat16"]
    assert 1e-6 < np.max(np.abs(p16 - p32)) < 1e-2
    assert np.all(np.isfinite(l16)) and np.max(np.abs(l16 - l32)) < 1e-2
