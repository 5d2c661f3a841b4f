"""Streams (lstmkit_state_*, Training/Streaming.swift): a sequence fed a few timesteps at a time
gives, after each step, bitwise what predict gives for the sequence so far as a batch of one row,
for every supported stack; unsupported layers are refused at creation; states are independent,
copyable, resettable, and step concurrently on one model."""
import ctypes
import threading

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi
from lstmkit._arrays import c_array
from lstmkit.errors import InvalidArgumentError, WrongStateError
from lstmkit.layers import (GRU, LSTM, Bidirectional, Conv1D, Dense, Dropout, Embedding, Flatten,
                            GlobalMaxPooling1D, Masking, RepeatVector, SimpleRNN, SpatialDropout1D,
                            TimeDistributed)

VOCAB, T = 60, 14


def ids_model(*layers, mask_zero=False, steps=None):
    return lstmkit.Sequential([lstmkit.Input(shape=(steps,), dtype="int32"),
                               Embedding(VOCAB, 8, mask_zero=mask_zero), *layers])


def float_model(*layers, steps=None, features=3):
    return lstmkit.Sequential([lstmkit.Input(shape=(steps, features)), *layers])


CASES = {
    "lstm": lambda: ids_model(LSTM(12), Dense(2)),
    "gru": lambda: ids_model(GRU(10), Dense(3, activation="softmax")),
    "gru_reset_before": lambda: ids_model(GRU(10, reset_after=False), Dense(1)),
    "simple_rnn": lambda: ids_model(SimpleRNN(9), Dense(1, activation="sigmoid")),
    "stacked_sequences": lambda: ids_model(LSTM(12, return_sequences=True), Dropout(0.3),
                                           GRU(7, return_sequences=True), TimeDistributed(Dense(4))),
    "stacked_masked": lambda: ids_model(SpatialDropout1D(0.2), GRU(10, return_sequences=True), LSTM(6), Dense(2),
                                        mask_zero=True),
    "masked_sequences": lambda: ids_model(LSTM(8, return_sequences=True), Dense(3), mask_zero=True),
    "float_lstm": lambda: float_model(LSTM(12, return_sequences=True), SimpleRNN(5), Dense(2)),
    "float_masking": lambda: float_model(Masking(0.0), GRU(8, return_sequences=True), Dense(2)),
    "wide_lstm": lambda: ids_model(LSTM(176), Dense(2)),   # the batch-1 unit split (160+ units)
    "stateful": lambda: lstmkit.Sequential([lstmkit.Input(shape=(None, 3), batch_size=1), LSTM(6, stateful=True),
                                            Dense(1)]),
}


def sequence(model, rng, length):
    if model._input_dtype() == lstmkit._capi.INT32:
        x = rng.integers(1, VOCAB, size=(1, length)).astype(np.int32)
        x[0, :3] = 0          # padding first (masked where mask_zero)
        x[0, 7] = 0           # and inside
        return x
    x = rng.normal(size=(1, length, 3)).astype(np.float32)
    x[0, 2] = 0.0             # a timestep Masking(0.0) masks
    return x


def chunks(length, rng):
    """Cuts 0..length into steps of 1 to 4 timesteps."""
    cuts, at = [], 0
    while at < length:
        k = int(rng.integers(1, 5))
        cuts.append((at, min(length, at + k)))
        at += k
    return cuts


@pytest.mark.parametrize("name", sorted(CASES))
def test_steps_give_the_bits_of_predict(name, rng):
    model = CASES[name]()
    model.compile(optimizer="adam", loss="mse")
    weights = [rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = sequence(model, rng, T)
    whole = model.predict(x, batch_size=1, verbose=0)[0]
    sequences = whole.ndim >= 2 and whole.shape[0] == T
    model.reset_states()
    # one timestep at a time: after every step, predict of the prefix
    state = model.stream()
    for t in range(T):
        out = state.step(x[0, t:t + 1])
        prefix = model.predict(x[:, :t + 1], batch_size=1, verbose=0)[0]
        model.reset_states()
        want = prefix[-1:] if sequences else prefix
        assert np.array_equal(out, want), f"step {t}: differs by {np.abs(out - want).max()}"
    # in chunks: the chunk's outputs (sequences) or the output after the chunk
    state.reset()
    for lo, hi in chunks(T, rng):
        out = state.step(x[0, lo:hi])
        want = whole[lo:hi] if sequences else model.predict(x[:, :hi], batch_size=1, verbose=0)[0]
        model.reset_states()
        assert np.array_equal(out, want), f"chunk {lo}:{hi} differs by {np.abs(out - want).max()}"


def test_states_are_independent_and_copies_continue_alike(rng):
    model = ids_model(LSTM(10), Dense(2))
    a, b = model.stream(), model.stream()
    xa, xb = (rng.integers(1, VOCAB, size=(1, T)).astype(np.int32) for _ in range(2))
    for t in range(T):
        oa, ob = a.step(xa[0, t:t + 1]), b.step(xb[0, t:t + 1])
        if t == 6:
            fork = a.copy()
    assert np.array_equal(oa, model.predict(xa, batch_size=1, verbose=0)[0])
    assert np.array_equal(ob, model.predict(xb, batch_size=1, verbose=0)[0])
    # the copy made after step 6 continues like a, whatever a did since
    for t in range(7, T):
        of = fork.step(xa[0, t:t + 1])
    assert np.array_equal(of, oa)
    a.reset()
    assert np.array_equal(a.step(xb[0]), ob)


def test_many_states_step_concurrently_on_one_model(rng):
    model = ids_model(GRU(16, return_sequences=True), LSTM(8), Dense(2))
    xs = [rng.integers(0, VOCAB, size=(1, 30)).astype(np.int32) for _ in range(16)]
    want = [model.predict(x, batch_size=1, verbose=0)[0] for x in xs]
    got = [None] * 16
    errors = []

    def work(k):
        try:
            for s in range(k, 16, 8):
                state = model.stream()
                for t in range(30):
                    out = state.step(xs[s][0, t:t + 1])
                    model.predict(xs[s][:, :2], batch_size=1, verbose=0)   # predicts in between
                got[s] = out
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for s in range(16):
        assert np.array_equal(got[s], want[s])


UNSUPPORTED = {
    "bidirectional": (lambda: ids_model(Bidirectional(LSTM(4)), Dense(1)), "bidirectional"),
    "go_backwards": (lambda: ids_model(LSTM(4, go_backwards=True), Dense(1)), "go_backwards"),
    "conv1d": (lambda: ids_model(Conv1D(4, 3), LSTM(4), Dense(1)), "conv1d"),
    "pooling": (lambda: ids_model(LSTM(4, return_sequences=True), GlobalMaxPooling1D(), Dense(1)), "global_max_pooling1d"),
    "flatten": (lambda: ids_model(LSTM(4, return_sequences=True), Flatten(), Dense(1)), "flatten"),
    "repeat_vector": (lambda: ids_model(LSTM(4), RepeatVector(3), LSTM(2), Dense(1)), "repeat_vector"),
    "after_last_output": (lambda: ids_model(LSTM(4), Dense(3), LSTM(2)), "lstm_1"),
    "no_recurrent": (lambda: ids_model(Dense(2)), "needs a recurrent layer"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_models_are_refused_at_creation(name):
    make, words = UNSUPPORTED[name]
    model = make()
    with pytest.raises(InvalidArgumentError, match=words):
        model.stream()


def test_functional_model_is_refused():
    inp = lstmkit.Input(shape=(T,), dtype="int32")
    out = Dense(1)(LSTM(4)(Embedding(VOCAB, 4)(inp)))
    model = lstmkit.Model(inp, out)
    with pytest.raises(InvalidArgumentError, match="Sequential"):
        model.stream()


def test_a_model_without_weights_is_wrong_state():
    model = lstmkit.Sequential([LSTM(4), Dense(1)])   # no input shape: built by the first data
    with pytest.raises(WrongStateError, match="no weights"):
        model.stream()


def test_bad_steps_leave_the_state_where_it_was(rng):
    model = ids_model(LSTM(6), Dense(1))
    x = rng.integers(1, VOCAB, size=(1, T)).astype(np.int32)
    state = model.stream()
    state.step(x[0, :5])
    with pytest.raises(InvalidArgumentError, match="token id"):
        state.step(np.array([3, VOCAB], dtype=np.int32))
    with pytest.raises(InvalidArgumentError, match="one sequence"):
        state.step(np.zeros((2, 3), dtype=np.int32))
    assert np.array_equal(state.step(x[0, 5:]), model.predict(x, batch_size=1, verbose=0)[0])


def test_a_state_outlives_its_model_handle_and_follows_set_weights(rng):
    model = ids_model(SimpleRNN(5), Dense(1))
    x = rng.integers(1, VOCAB, size=(1, 6)).astype(np.int32)
    state = model.stream()
    state.step(x[0, :3])
    weights = [w * 0.5 for w in model.get_weights()]
    model.set_weights(weights)   # the next steps use these
    out = state.step(x[0, 3:])
    other = ids_model(SimpleRNN(5), Dense(1))
    other.set_weights(weights)
    s2 = other.stream()
    model.close()                # the state keeps the engine's model alive
    assert np.isfinite(state.step(x[0, :1])).all()
    assert out.shape == (1,)
    # a step taken with the old weights then the new: no predict to compare with, but finite and shaped
    assert s2.step(x[0]).shape == (1,)


def test_state_handles_follow_the_handle_rules(rng):
    model = ids_model(LSTM(4), Dense(1))
    state = model.stream()
    x = np.zeros((1, 1), dtype=np.int32)
    xa = c_array(x, _capi.INT32)
    count = ctypes.c_size_t(0)
    # a model handle where a state belongs, and a freed state: refused, never dereferenced
    status = _capi.lstmkit_state_step(model._live(), xa.ref, None, 0, ctypes.byref(count), None, 0, None)
    assert status == _capi.E_INVALID_ARGUMENT and "not a live" in _capi.last_error()
    handle = state._handle
    state.close()
    assert _capi.lstmkit_state_reset(handle) == _capi.E_INVALID_ARGUMENT
    assert "already freed" in _capi.last_error()
    _capi.lstmkit_state_free(handle)              # a second free does nothing
    _capi.lstmkit_model_free(None)
    _capi.lstmkit_state_free(model._live())       # a model handle: left alone
    assert model.predict(x, verbose=0).shape == (1, 1)
    out = ctypes.c_void_p()
    assert _capi.lstmkit_state_create(None, ctypes.byref(out)) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_state_copy(None, ctypes.byref(out)) == _capi.E_INVALID_ARGUMENT


def test_a_state_step_is_refused_while_another_thread_fits_the_model(rng):
    model = ids_model(LSTM(8), Dense(1))
    model.compile(optimizer="adam", loss="mse")
    state = model.stream()
    x = rng.integers(0, VOCAB, size=(512, 20)).astype(np.int32)
    y = rng.normal(size=(512, 1)).astype(np.float32)
    started, attempted, refused = threading.Event(), threading.Event(), []

    class Signal(lstmkit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                started.set()
                attempted.wait(30)   # fit is still running while the other thread steps

    def steps():
        started.wait(30)
        try:
            state.step(x[0, :1])
        except WrongStateError as e:
            refused.append(str(e))
        attempted.set()
    t = threading.Thread(target=steps)
    t.start()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[Signal()])
    t.join()
    assert refused and "trained by another thread" in refused[0]
