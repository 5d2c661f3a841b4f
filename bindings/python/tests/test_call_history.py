"""A prediction does not depend on the calls before it. Predict and evaluate look an
Embedding-fed recurrent layer's input projection up in a table once enough ids have been
projected (Layers/Recurrent/ProjectionTable.swift); before the fix the table's rows (one GEMM
over the vocabulary) and the plain projection (a GEMM over the batch's steps) came out of BLAS
kernels chosen by shape, and the LSTM added the bias in another order, so the same batch gave
other last bits from about the tenth call on. Forward-only passes now project every row with
lk_rows_gemm (Sources/CKernels/include/lk_rows.h), so each form gives the same bits."""
import os

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN

CELLS = {
    "lstm": lambda: LSTM(24),
    "gru": lambda: GRU(16),
    "gru_reset_before": lambda: GRU(16, reset_after=False),
    "simple_rnn": lambda: SimpleRNN(16),
    "lstm_backwards": lambda: LSTM(24, go_backwards=True),
    "bidirectional": lambda: Bidirectional(LSTM(12)),
    "stacked": lambda: [LSTM(24, return_sequences=True), GRU(8)],
}


def build(cell, vocab, steps, mask_zero=False):
    layers = cell() if isinstance(cell(), list) else [cell()]
    model = lstmkit.Sequential([lstmkit.Input(shape=(steps,), dtype="int32"),
                                Embedding(vocab, 8, mask_zero=mask_zero), *layers, Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_same_bits_on_every_call_and_after_loading(name, mask_zero, rng, tmp_path):
    vocab, steps = 200, 12
    model = build(CELLS[name], vocab, steps, mask_zero)
    x = rng.integers(1, vocab, size=(8, steps)).astype(np.int32)
    for r in range(8):
        x[r, :r] = 0   # pre-padding of 0..7 ids: the padding plans too
    path = tmp_path / "m.lstmkit"
    model.save(path)
    # 8 rows x 12 ids a call: the table comes in at the third call (200 ids)
    first = model.predict(x, batch_size=8, verbose=0)
    for call in range(2, 31):
        got = model.predict(x, batch_size=8, verbose=0)
        assert np.array_equal(got, first), f"call {call} differs by {np.abs(got - first).max()}"
    # batch 1 is its own computation; it too must not change from call to call
    one = model.predict(x[:3], batch_size=1, verbose=0)
    for _ in range(30):
        assert np.array_equal(model.predict(x[:3], batch_size=1, verbose=0), one)
    # a fresh handle (no table yet) gives the long-lived handle's bits
    fresh = lstmkit.models.load_model(path)
    assert np.array_equal(fresh.predict(x, batch_size=8, verbose=0), first)
    assert np.array_equal(fresh.predict(x[:3], batch_size=1, verbose=0), one)


def test_table_and_plain_projection_agree_after_weights_change(rng):
    # after set_weights the table is stale: the next calls project the plain way, then rebuild
    model = build(CELLS["lstm"], 100, 10)
    x = rng.integers(0, 100, size=(4, 10)).astype(np.int32)
    for _ in range(3):
        model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
        outs = [model.predict(x, batch_size=4, verbose=0) for _ in range(12)]
        for o in outs[1:]:
            assert np.array_equal(o, outs[0])


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_a_row_has_the_same_bits_in_any_small_batch(name, mask_zero, rng):
    # up to 16 rows a step the recurrent products of a forward-only pass are row-exact too
    # (Driver.addRecurrent, exactRecurrentRows), so there the padding plan's row subsets, the
    # shared padding row and the batch size leave no trace (larger steps go to BLAS)
    model = build(CELLS[name], 200, 12, mask_zero)
    x = rng.integers(1, 200, size=(16, 12)).astype(np.int32)
    for r in range(16):
        x[r, :r % 12] = 0
    want = model.predict(x, batch_size=16, verbose=0)
    for bs in (1, 3, 7):
        assert np.array_equal(model.predict(x, batch_size=bs, verbose=0), want), bs
    assert np.array_equal(model.predict(x[5:9], batch_size=4, verbose=0), want[5:9])


def test_rows_exact_off_sends_the_products_to_blas_and_stays_close(tmp_path):
    """LSTMKIT_ROWS_EXACT=0 (EngineSwitches.rowsExact, for measuring) computes the same model
    through BLAS and oneDNN: the same predictions to float32 rounding, in a fresh process."""
    import subprocess
    import sys
    script = r'''
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from lstmkit import Sequential
from lstmkit.layers import Embedding, LSTM, Dense
from lstmkit.utils import set_random_seed
set_random_seed(11)
m = Sequential([Embedding(50, 8, input_length=12), LSTM(16), Dense(3, activation="softmax")])
m.compile(optimizer="adam", loss="categorical_crossentropy")
rng = np.random.default_rng(3)
x = rng.integers(1, 50, size=(9, 12)).astype("int32")
np.save(sys.argv[2], m.predict(x, batch_size=4, verbose=0))
'''
    from conftest import REPO
    outs = {}
    for flag in ("1", "0"):
        env = dict(os.environ, LSTMKIT_ROWS_EXACT=flag)
        path = tmp_path / ("p%s.npy" % flag)
        subprocess.run([sys.executable, "-c", script, str(REPO / "bindings" / "python"), str(path)],
                       check=True, env=env)
        outs[flag] = np.load(path)
    assert outs["1"].shape == (9, 3) and np.ptp(outs["1"]) > 0
    np.testing.assert_allclose(outs["0"], outs["1"], rtol=1e-5, atol=1e-6)
