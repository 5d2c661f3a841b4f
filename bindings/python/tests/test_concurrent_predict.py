"""Predicts and evaluates on one model handle from several threads run at the same time
(Training/Inference.swift: each pass takes its own layer stack; the handle's reader-writer lock
lets them share it and makes set_weight and compile wait), and give bitwise what the same calls
give one after the other. ctypes releases the GIL around each library call, so the Python
threads really overlap in the library."""
import threading

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi
from lstmkit._arrays import float_ptr
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed


def models():
    yield "lstm", lstmkit.Sequential([lstmkit.Input(shape=(40,), dtype="int32"), Embedding(300, 16),
                                      LSTM(32), Dense(1, activation="sigmoid")])
    yield "stacked_masked", lstmkit.Sequential([lstmkit.Input(shape=(40,), dtype="int32"),
                                                Embedding(300, 16, mask_zero=True),
                                                GRU(16, return_sequences=True), SimpleRNN(8), Dense(3)])
    yield "bidirectional_seq", lstmkit.Sequential([lstmkit.Input(shape=(40,), dtype="int32"), Embedding(300, 16),
                                                   Bidirectional(LSTM(8, return_sequences=True)),
                                                   TimeDistributed(Dense(2, activation="softmax"))])
    # wide enough for the batch-1 unit split (160 units), which runs only when the pool is free
    yield "wide_lstm", lstmkit.Sequential([lstmkit.Input(shape=(12,), dtype="int32"), Embedding(300, 16),
                                           LSTM(192), Dense(2)])


def run_threads(n, work):
    errors = []

    def wrap(k):
        try:
            work(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("name,model", list(models()), ids=[n for n, _ in models()])
def test_eight_threads_predict_the_sequential_bits(name, model, rng):
    model.compile(optimizer="adam", loss="mse")
    steps = model.input_shape[1] if hasattr(model, "input_shape") else 40
    steps = 12 if name == "wide_lstm" else 40
    batches = []
    for k in range(8):
        x = rng.integers(1, 300, size=(16, steps)).astype(np.int32)
        for r in range(16):
            x[r, :(r + k) % steps] = 0
        batches.append(x)
    # sequential: each batch at batch sizes 1, 5 and 16
    want = {(k, bs): model.predict(batches[k], batch_size=bs, verbose=0) for k in range(8) for bs in (1, 5, 16)}
    got = {}

    def work(k):
        for _ in range(6):
            for bs in (1, 5, 16):
                out = model.predict(batches[k], batch_size=bs, verbose=0)
                if not np.array_equal(out, want[(k, bs)]):
                    got[(k, bs)] = out
    run_threads(8, work)
    assert not got, f"{len(got)} results differ from the sequential ones, e.g. {sorted(got)[:3]}"


def test_evaluate_concurrently_and_set_weights_waits(rng):
    model = lstmkit.Sequential([lstmkit.Input(shape=(20,), dtype="int32"), Embedding(100, 8), LSTM(16), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.integers(0, 100, size=(32, 20)).astype(np.int32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    # two values of the LSTM's kernel (weight 1), each set by one lstmkit_model_set_weight call
    # (model.set_weights makes one call per weight, between which other calls may run)
    kernels = [np.ascontiguousarray(model.get_weights()[1]), np.ascontiguousarray(model.get_weights()[1] * 0.5)]

    def set_kernel(k):
        _capi.check(_capi.lstmkit_model_set_weight(model._live(), 1, float_ptr(kernels[k]), kernels[k].size))
    want = []
    for k in range(2):
        set_kernel(k)
        want.append((model.predict(x, batch_size=8, verbose=0), model.evaluate(x, y, batch_size=8, verbose=0)))
    bad = []

    def work(k):
        for i in range(30):
            if k == 0 and i % 3 == 0:
                set_kernel((i // 3) % 2)   # waits for the passes running, then excludes them
                continue
            p = model.predict(x, batch_size=8, verbose=0)
            if not any(np.array_equal(p, w[0]) for w in want):
                bad.append("predict")
            e = model.evaluate(x, y, batch_size=8, verbose=0)
            if not any(e == w[1] for w in want):
                bad.append("evaluate")
    run_threads(6, work)
    assert not bad


def test_stateful_predicts_stay_serialised_and_advance_in_turn(rng):
    model = lstmkit.Sequential([lstmkit.Input(shape=(5, 2), batch_size=1), LSTM(4, stateful=True), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(1, 5, 2)).astype(np.float32)
    sequential = [model.predict(x, batch_size=1, verbose=0) for _ in range(40)]
    model.reset_states()
    got = []
    lock = threading.Lock()

    def work(k):
        for _ in range(5):
            out = model.predict(x, batch_size=1, verbose=0)
            with lock:
                got.append(out)
    run_threads(8, work)
    # each predict advanced the carried state once, one at a time: the same 40 outputs, in some order
    key = lambda a: a.tobytes()  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, sequential))
