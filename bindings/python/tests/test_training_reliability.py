"""Training that goes wrong, is interrupted, or overlaps with other threads.

- a NaN/Inf loss, gradient or update stops fit with LSTMKIT_E_NUMERIC, naming epoch and batch,
  and keeps the weights of the last good batch;
- a progress callback that asks to stop (Ctrl-C in Python) gives LSTMKIT_E_CANCELLED after the
  current batch, and the model stays usable;
- one handle: calls from other threads while it trains are refused with LSTMKIT_E_WRONG_STATE;
  ordinary calls from several threads are serialised and give identical results.
"""

import ctypes
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from ctypes import byref, c_float, c_int64, c_size_t, c_void_p

import numpy as np
import pytest

import lstmkit
from conftest import HERE
from lstmkit import _capi as C
from lstmkit.callbacks import Callback
from lstmkit.layers import LSTM, Dense, Embedding


def create(cfg, seed=1):
    out = c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(cfg).encode(), seed, byref(out)))
    return out.value


def arr(a):
    a = np.ascontiguousarray(a)
    shape = (c_int64 * a.ndim)(*a.shape)
    s = C.lstmkit_array(C.INT32 if a.dtype == np.int32 else C.FLOAT32, a.ndim, shape,
                        a.ctypes.data_as(c_void_p))
    s._keep = (a, shape)
    return s


def weights(m):
    n = ctypes.c_int32()
    C.check(C.lstmkit_model_weight_count(m, byref(n)))
    out = []
    for i in range(n.value):
        count = c_size_t()
        C.check(C.lstmkit_model_get_weight(m, i, None, 0, byref(count)))
        buf = (c_float * count.value)()
        C.check(C.lstmkit_model_get_weight(m, i, buf, count.value, byref(count)))
        out.append(np.array(buf))
    return out


def predict(m, x, batch=16):
    xa = arr(x)
    n = c_size_t()
    status = C.lstmkit_model_predict(m, byref(xa), batch, None, 0, byref(n), None, 0, None)
    if status != C.OK:
        return status, None
    out = (c_float * n.value)()
    status = C.lstmkit_model_predict(m, byref(xa), batch, out, n.value, byref(n), None, 0, None)
    return status, np.array(out)


LINEAR = {"input_shape": [4], "layers": [{"class_name": "Dense", "config": {"units": 1}}]}


def fit(m, x, y, options, progress=None):
    xa, ya = arr(x), arr(y)
    return C.lstmkit_model_fit(m, byref(xa), byref(ya), json.dumps(options).encode(),
                               progress or C.PROGRESS_FN(), None)


# ---- NaN / Inf ---------------------------------------------------------------------------

def test_an_infinite_loss_stops_fit_and_keeps_the_last_good_weights():
    x = np.ones((8, 4), np.float32)
    x[5] = 1e20             # row 5 is in batch 3 (batch_size 2, no shuffling): its square overflows
    y = np.ones(8, np.float32)
    options = {"epochs": 1, "batch_size": 2, "shuffle": False}
    m, reference = create(LINEAR), create(LINEAR)
    try:
        for h in (m, reference):
            C.check(C.lstmkit_model_compile(h, b'{"loss": "mse"}'))
        assert fit(m, x, y, options) == C.E_NUMERIC
        message = C.last_error()
        assert "epoch 1, batch 3" in message and ("inf" in message or "NaN" in message), message
        # The reference trains on the two good batches only: the weights must match exactly.
        C.check(fit(reference, x[:4], y[:4], options))
        for a, b in zip(weights(m), weights(reference)):
            np.testing.assert_array_equal(a, b)
        # Still usable: predicts, and trains on clean data.
        status, out = predict(m, x[:4])
        assert status == C.OK and np.all(np.isfinite(out))
        assert fit(m, x[:4], y[:4], options) == C.OK
    finally:
        C.lstmkit_model_free(m)
        C.lstmkit_model_free(reference)


def test_an_update_that_overflows_the_weights_is_undone():
    m = create(LINEAR)
    try:
        C.check(C.lstmkit_model_compile(
            m, b'{"loss": "mse", "optimizer": {"class_name": "adam", "learning_rate": 1e38}}'))
        x, y = np.ones((16, 4), np.float32), np.full(16, 5, np.float32)
        status = fit(m, x, y, {"epochs": 3, "batch_size": 2, "shuffle": False})
        assert status == C.E_NUMERIC
        assert "epoch 1, batch" in C.last_error()
        assert all(np.all(np.isfinite(w)) for w in weights(m))
        # The kept weights are about 1e38: finite, but 4 of them summed overflow, which predict
        # reports instead of returning inf; small inputs still predict.
        status, out = predict(m, x)
        assert status == C.E_NUMERIC and "float32 overflowed in layer 'dense'" in C.last_error()
        status, out = predict(m, x * 1e-30)
        assert status == C.OK and np.all(np.isfinite(out))
    finally:
        C.lstmkit_model_free(m)


def test_python_fit_raises_numeric_error():
    model = lstmkit.Sequential([Dense(1, input_shape=(4,))])
    model.compile(optimizer="adam", loss="mse")
    x = np.ones((8, 4), np.float32)
    x[3] = 3e38
    with pytest.raises(lstmkit.errors.NumericError, match="epoch 1, batch 2"):
        model.fit(x, np.ones(8, np.float32), batch_size=2, shuffle=False, verbose=0)


# ---- cancellation ------------------------------------------------------------------------

def test_a_callback_that_returns_non_zero_cancels_after_that_batch():
    m = create(LINEAR)
    seen = []

    @C.PROGRESS_FN
    def progress(p, _user):
        if p.contents.event == C.EVENT_BATCH_END:
            seen.append((p.contents.epoch, p.contents.step))
        return 1 if len(seen) == 3 else 0

    try:
        C.check(C.lstmkit_model_compile(m, b'{"loss": "mse"}'))
        x, y = np.ones((40, 4), np.float32), np.ones(40, np.float32)
        assert fit(m, x, y, {"epochs": 5, "batch_size": 4}, progress) == C.E_CANCELLED
        assert "epoch 1, batch 3" in C.last_error()
        assert seen == [(0, 1), (0, 2), (0, 3)]
        assert predict(m, x)[0] == C.OK
        assert fit(m, x, y, {"epochs": 1, "batch_size": 4}) == C.OK
    finally:
        C.lstmkit_model_free(m)


def test_keyboard_interrupt_in_a_python_callback_returns_the_history_so_far():
    class Interrupt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    model = lstmkit.Sequential([Embedding(10, 3), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(0, 10, (32, 6)).astype(np.int32)
    y = (x[:, 0] > 4).astype(np.float32)
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0, callbacks=[Interrupt()])
    assert len(history.history["loss"]) == 2          # epochs 0 and 1 completed
    assert model.predict(x, verbose=0).shape == (32, 1)
    model.fit(x, y, epochs=1, verbose=0)


SIGINT_CHILD = textwrap.dedent(r"""
    import json, signal, sys
    import numpy as np
    # A shell that starts the suite in the background (nohup ... &) leaves SIGINT ignored, and
    # Python then keeps it ignored; Ctrl-C as a terminal user has it is Python's default handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, %(binding)r)
    import lstmkit
    from lstmkit.callbacks import Callback
    from lstmkit.layers import Dense, Embedding, LSTM

    class Started(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 and not getattr(self, "said", False):
                self.said = True
                print("training", flush=True)

    model = lstmkit.Sequential([Embedding(50, 8), LSTM(16), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(0).integers(0, 50, (2000, 40)).astype(np.int32)
    y = (x[:, 0] > 25).astype(np.float32)
    history = model.fit(x, y, epochs=1000, batch_size=16, verbose=0, callbacks=[Started()])
    p = model.predict(x[:4], verbose=0)
    print(json.dumps({"epochs": len(history.history.get("loss", [])),
                      "finite": bool(np.all(np.isfinite(p)))}), flush=True)
""")


def test_sigint_during_python_fit_stops_it_and_keeps_the_model(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(SIGINT_CHILD % {"binding": str(HERE.parent)})
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["finite"] and result["epochs"] < 1000


# ---- threads -----------------------------------------------------------------------------

EMB = {"input_shape": [12], "layers": [
    {"class_name": "Embedding", "config": {"input_dim": 100, "output_dim": 8}},
    {"class_name": "LSTM", "config": {"units": 16}},
    {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}


def test_eight_threads_predicting_on_one_model_while_another_loads(tmp_path):
    m = create(EMB, seed=4)
    other = create(EMB, seed=5)
    path = tmp_path / "other.lstmkit"
    C.check(C.lstmkit_model_save(other, str(path).encode()))
    C.lstmkit_model_free(other)
    x = np.random.default_rng(1).integers(0, 100, (64, 12)).astype(np.int32)
    status, reference = predict(m, x, batch=7)
    assert status == C.OK
    stop = threading.Event()
    failures, loads = [], [0]

    def predictor():
        for _ in range(25):
            status, out = predict(m, x, batch=7)
            if status != C.OK or not np.array_equal(out, reference):
                failures.append((status, C.last_error()))

    def loader():
        while not stop.is_set():
            h = c_void_p()
            if C.lstmkit_model_load(str(path).encode(), byref(h)) != C.OK:
                failures.append(("load", C.last_error()))
                return
            predict(h.value, x[:2])
            C.lstmkit_model_free(h)
            loads[0] += 1

    threads = [threading.Thread(target=predictor) for _ in range(8)]
    load_thread = threading.Thread(target=loader)
    load_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    load_thread.join()
    C.lstmkit_model_free(m)
    assert not failures, failures[:3]
    assert loads[0] > 0


def test_calls_on_a_model_that_another_thread_trains_are_refused(tmp_path):
    m = create(LINEAR)
    spare = create(LINEAR)
    C.check(C.lstmkit_model_compile(m, b'{"loss": "mse"}'))
    in_callback, proceed = threading.Event(), threading.Event()
    inside = {}

    @C.PROGRESS_FN
    def progress(p, _user):
        if not in_callback.is_set():
            # The training thread itself may read, predict and save from its callback ...
            inside["predict"] = predict(m, np.ones((2, 4), np.float32))[0]
            inside["save"] = C.lstmkit_model_save(m, str(tmp_path / "checkpoint.lstmkit").encode())
            # ... but not compile or start another fit.
            inside["compile"] = C.lstmkit_model_compile(m, b'{"loss": "mse"}')
            inside["fit"] = fit(m, np.ones((2, 4), np.float32), np.ones(2, np.float32), {})
            in_callback.set()
            proceed.wait(30)
        return 0

    result = {}
    x, y = np.ones((8, 4), np.float32), np.ones(8, np.float32)
    trainer = threading.Thread(target=lambda: result.setdefault(
        "fit", fit(m, x, y, {"epochs": 2, "batch_size": 4}, progress)))
    trainer.start()
    try:
        assert in_callback.wait(30)
        assert predict(m, x)[0] == C.E_WRONG_STATE
        assert "another thread" in C.last_error()
        assert fit(m, x, y, {}) == C.E_WRONG_STATE
        assert C.lstmkit_model_compile(m, b'{"loss": "mse"}') == C.E_WRONG_STATE
        assert C.lstmkit_model_count_params(m, byref(c_int64())) == C.E_WRONG_STATE
        assert predict(spare, x)[0] == C.OK           # other handles are not affected
    finally:
        proceed.set()
        trainer.join()
    assert inside == {"predict": C.OK, "save": C.OK, "compile": C.E_WRONG_STATE,
                      "fit": C.E_WRONG_STATE}
    assert result["fit"] == C.OK
    assert predict(m, x)[0] == C.OK                   # free again once fit has returned
    C.lstmkit_model_free(m)
    C.lstmkit_model_free(spare)


def test_freeing_a_model_while_it_trains_is_safe():
    m = create(LINEAR)
    C.check(C.lstmkit_model_compile(m, b'{"loss": "mse"}'))
    started, freed = threading.Event(), threading.Event()

    @C.PROGRESS_FN
    def progress(p, _user):
        started.set()
        freed.wait(30)
        return 0

    result = {}
    x, y = np.ones((8, 4), np.float32), np.ones(8, np.float32)
    t = threading.Thread(target=lambda: result.setdefault(
        "fit", fit(m, x, y, {"epochs": 2, "batch_size": 2}, progress)))
    t.start()
    assert started.wait(30)
    C.lstmkit_model_free(m)           # the running fit keeps the model alive until it returns
    freed.set()
    t.join()
    assert result["fit"] == C.OK
    assert C.lstmkit_model_count_params(m, byref(c_int64())) == C.E_INVALID_ARGUMENT
