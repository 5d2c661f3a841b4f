"""Checkpoints that resume: the model file carries the optimizer's state, and fit(initial_epoch=k)
repeats what an uninterrupted run with the same seed would have done from epoch k.

- train 2 epochs, save, load in a new process, fit epochs 2..3 with initial_epoch=2: the weights
  are bitwise those of an uninterrupted 4-epoch run (Adam on an Embedding, whose update uses the
  lookup squares; SGD with momentum; RMSprop with momentum; Adagrad with a learning-rate schedule);
- the same after a KeyboardInterrupt in the middle of epoch 3, from the ModelCheckpoint saved
  after epoch 2;
- files without optimizer state (older files, untrained models) still load, with a fresh optimizer;
- damaged optimizer state is refused with LSTMKIT_E_FORMAT (non-finite values load, and the
  next fit stops with NUMERIC), bad initial_epoch with BAD_CONFIG.

Every training run is its own process with LSTMKIT_NUM_THREADS=2, since the batch split (and so
float rounding) depends on the thread count, which is fixed once per process.
"""

import ctypes
import json
import os
import struct
import subprocess
import sys
import zlib
from ctypes import byref, c_void_p

import numpy as np
import pytest

from conftest import HERE
from lstmkit import _capi as C

OPTIMIZERS = {
    "adam": {"class_name": "adam", "learning_rate": 0.01},
    "sgd_momentum": {"class_name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "rmsprop": {"class_name": "rmsprop", "learning_rate": 0.005, "momentum": 0.5},
    "adagrad": {"class_name": "adagrad", "learning_rate": {
        "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.05, "decay_steps": 3, "decay_rate": 0.9}}},
}

# One script, several parts; each run prints nothing and writes its weights to an .npz.
SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, %(package)r)
import lstmkit
from lstmkit.callbacks import Callback, ModelCheckpoint
from lstmkit.layers import Embedding, LSTM, Dropout, Dense

part, optimizer, path, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = np.random.default_rng(11)
x = rng.integers(0, 40, size=(72, 9)).astype(np.int32)
y = (x[:, :3].sum(axis=1) > 58).astype(np.float32)
fit_args = dict(batch_size=16, verbose=0, seed=1234, validation_split=0.125)

def new_model():
    lstmkit.utils.set_random_seed(3)
    model = lstmkit.Sequential([Embedding(40, 6), LSTM(5), Dropout(0.3), Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model

class StopInEpoch(Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 1:
            raise KeyboardInterrupt
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

if part == "full":
    model = new_model()
    history = model.fit(x, y, epochs=4, **fit_args)
elif part == "first":
    model = new_model()
    history = model.fit(x, y, epochs=2, **fit_args)
    model.save(path)
elif part == "interrupted":
    model = new_model()
    history = model.fit(x, y, epochs=4, callbacks=[ModelCheckpoint(path), StopInEpoch()], **fit_args)
    assert history.epoch == [0, 1], history.epoch   # stopped inside the third epoch
elif part == "resume":
    model = lstmkit.load_model(path)          # no compile: the file brings the optimizer back
    history = model.fit(x, y, epochs=4, initial_epoch=2, **fit_args)
    assert history.epoch == [2, 3], history.epoch
np.savez(out, *model.get_weights(), loss=np.array(history.history["loss"]))
"""


def run(part, optimizer, path, out):
    env = dict(os.environ, LSTMKIT_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", SCRIPT % {"package": str(HERE.parent)}, part,
                           json.dumps(optimizer), str(path), str(out)],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    with np.load(out) as f:
        return [f["arr_%d" % i] for i in range(len(f.files) - 1)], f["loss"]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape
        # bitwise: the resumed run does the very same float operations
        assert np.array_equal(u, v), "weight %d differs by up to %g" % (i, np.abs(u - v).max())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            d = tmp_path_factory.mktemp("full_" + name)
            cache[name] = run("full", OPTIMIZERS[name], d / "unused", d / "full.npz")
        return cache[name]
    return get


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resumed_in_a_new_process_equals_an_uninterrupted_run(name, uninterrupted, tmp_path):
    full, full_loss = uninterrupted(name)
    ckpt = tmp_path / "after2.lstmkit"
    first, first_loss = run("first", OPTIMIZERS[name], ckpt, tmp_path / "first.npz")
    header = json.loads(ckpt.read_bytes()[8:8 + struct.unpack("<Q", ckpt.read_bytes()[:8])[0]])
    assert int(header["__metadata__"]["lstmkit.optimizer_iterations"]) == 2 * 4   # 63 rows / 16
    resumed, resumed_loss = run("resume", OPTIMIZERS[name], ckpt, tmp_path / "resumed.npz")
    np.testing.assert_array_equal(first_loss, full_loss[:2])
    np.testing.assert_array_equal(resumed_loss, full_loss[2:])
    assert_same_weights(resumed, full)
    # and training did move the weights after the checkpoint
    assert any(not np.array_equal(a, b) for a, b in zip(first, full))


@pytest.mark.parametrize("name", ["adam"])
def test_resume_after_keyboard_interrupt_mid_epoch(name, uninterrupted, tmp_path):
    full, _ = uninterrupted(name)
    ckpt = tmp_path / "ckpt.lstmkit"
    stopped, _ = run("interrupted", OPTIMIZERS[name], ckpt, tmp_path / "stopped.npz")
    # the interrupted model went on past the checkpoint (two batches of epoch 3) ...
    resumed, _ = run("resume", OPTIMIZERS[name], ckpt, tmp_path / "resumed.npz")
    assert any(not np.array_equal(a, b) for a, b in zip(stopped, resumed))
    # ... but the checkpoint is the end of epoch 2, and resuming from it gives the full run
    assert_same_weights(resumed, full)


# ---- in-process checks through the C ABI ----------------------------------------------------

CFG = {"input_shape": [4], "layers": [
    {"class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 3}},
    {"class_name": "LSTM", "config": {"units": 2}},
    {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}
X = (np.arange(32, dtype=np.int32) % 10).reshape(8, 4)
Y = (np.arange(8) % 2).astype(np.float32)


def arr(a):
    a = np.ascontiguousarray(a)
    shape = (ctypes.c_int64 * a.ndim)(*a.shape)
    s = C.lstmkit_array(C.INT32 if a.dtype == np.int32 else C.FLOAT32, a.ndim, shape,
                        a.ctypes.data_as(c_void_p))
    s._keep = (a, shape)
    return s


def create(optimizer="adam"):
    m = c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(CFG).encode(), 5, byref(m)))
    C.check(C.lstmkit_model_compile(m, json.dumps({"optimizer": optimizer, "loss": "binary_crossentropy"}).encode()))
    return m


def fit(m, options):
    xa, ya = arr(X), arr(Y)
    return C.lstmkit_model_fit(m, byref(xa), byref(ya), json.dumps(options).encode(), C.PROGRESS_FN(), None)


def weights(m):
    n = ctypes.c_int32()
    C.check(C.lstmkit_model_weight_count(m, byref(n)))
    out = []
    for i in range(n.value):
        count = ctypes.c_size_t()
        C.check(C.lstmkit_model_get_weight(m, i, None, 0, byref(count)))
        buf = (ctypes.c_float * count.value)()
        C.check(C.lstmkit_model_get_weight(m, i, buf, count.value, byref(count)))
        out.append(np.array(buf))
    return out


def load(path):
    out = c_void_p()
    status = C.lstmkit_model_load(str(path).encode(), byref(out))
    assert (status == C.OK) == bool(out.value)
    return status, out


def read_file(path):
    """(metadata, {name: (shape, float32 array)}) of a model file."""
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__")
    tensors = {k: (v["shape"], np.frombuffer(data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                             dtype="<f4").copy()) for k, v in header.items()}
    return meta, tensors


def write_file(path, meta, tensors):
    """Writes a file the way the engine does, with a valid CRC-32 (fuzz/make_seeds.py's crafted)."""
    meta = {k: v for k, v in meta.items() if k != "lstmkit.crc32"}
    blobs = [(k, shape, np.asarray(v, dtype="<f4").tobytes()) for k, (shape, v) in tensors.items()]
    crc = 0
    for key in sorted(meta, key=lambda k: k.encode()):
        crc = zlib.crc32(meta[key].encode(), crc)
    crc = zlib.crc32(b"".join(b for _, _, b in blobs), crc)
    header, offset = {}, 0
    for name, shape, blob in blobs:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    header["__metadata__"] = dict(meta, **{"lstmkit.crc32": "%08x" % crc})
    body = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + b"".join(b for _, _, b in blobs))


SLOTS = {"adam": ["m", "v"], "sgd": [], "rmsprop": ["velocity"], "adagrad": ["accumulator"],
         json.dumps({"class_name": "sgd", "momentum": 0.9}): ["momentum"],
         json.dumps({"class_name": "rmsprop", "momentum": 0.9, "centered": True}):
             ["velocity", "momentum", "average_gradient"]}


@pytest.mark.parametrize("optimizer", sorted(SLOTS))
def test_optimizer_state_survives_save_and_load(optimizer, tmp_path):
    opt = json.loads(optimizer) if optimizer.startswith("{") else optimizer
    m = create(opt)
    try:
        assert fit(m, {"epochs": 2, "batch_size": 3, "seed": 2}) == C.OK
        path = tmp_path / "m.lstmkit"
        C.check(C.lstmkit_model_save(m, str(path).encode()))
        meta, tensors = read_file(path)
        assert meta["lstmkit.optimizer_iterations"] == "6"
        names = ["embedding/embeddings", "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias",
                 "dense/kernel", "dense/bias"]
        expected = set(names) | {"optimizer/%s/%s" % (n, s) for s in SLOTS[optimizer] for n in names}
        assert set(tensors) == expected
        status, loaded = load(path)
        assert status == C.OK, C.last_error()
        try:
            # one more epoch on each: the loaded optimizer continues exactly as the original
            assert fit(m, {"epochs": 3, "initial_epoch": 2, "batch_size": 3, "seed": 2}) == C.OK
            assert fit(loaded, {"epochs": 3, "initial_epoch": 2, "batch_size": 3, "seed": 2}) == C.OK, C.last_error()
            for a, b in zip(weights(m), weights(loaded)):
                np.testing.assert_array_equal(a, b)
        finally:
            C.lstmkit_model_free(loaded)
    finally:
        C.lstmkit_model_free(m)


def test_a_fresh_optimizer_differs_from_a_restored_one(tmp_path):
    """The check above is not vacuous: dropping the optimizer tensors changes the next epoch."""
    m = create()
    try:
        assert fit(m, {"epochs": 2, "batch_size": 3, "seed": 2}) == C.OK
        path = tmp_path / "m.lstmkit"
        C.check(C.lstmkit_model_save(m, str(path).encode()))
        assert fit(m, {"epochs": 3, "initial_epoch": 2, "batch_size": 3, "seed": 2}) == C.OK
        meta, tensors = read_file(path)
        del meta["lstmkit.optimizer_iterations"]
        stripped = tmp_path / "stripped.lstmkit"
        write_file(stripped, meta, {k: v for k, v in tensors.items() if not k.startswith("optimizer/")})
        status, old = load(stripped)
        assert status == C.OK, C.last_error()
        try:
            assert fit(old, {"epochs": 3, "initial_epoch": 2, "batch_size": 3, "seed": 2}) == C.OK
            assert any(not np.array_equal(a, b) for a, b in zip(weights(m), weights(old)))
        finally:
            C.lstmkit_model_free(old)
    finally:
        C.lstmkit_model_free(m)


OLD_FILE = HERE / "data" / "v0.1.0_no_optimizer_state.lstmkit"


def test_a_file_from_before_optimizer_state_loads_compiled_and_trains():
    # Written by the library before this change (fuzz/make_seeds.py's emb_lstm_dense, commit a996b56).
    meta, tensors = read_file(OLD_FILE)
    assert "lstmkit.optimizer_iterations" not in meta
    assert not any(k.startswith("optimizer/") for k in tensors)
    status, m = load(OLD_FILE)
    assert status == C.OK, C.last_error()
    try:
        x = (np.arange(20, dtype=np.int32) % 20).reshape(4, 5)
        xa, ya = arr(x), arr(np.array([0, 1, 0, 1], dtype=np.float32))
        assert C.lstmkit_model_fit(m, byref(xa), byref(ya), b'{"epochs": 2, "batch_size": 2}',
                                   C.PROGRESS_FN(), None) == C.OK, C.last_error()
    finally:
        C.lstmkit_model_free(m)


def test_an_untrained_compiled_model_saves_no_optimizer_state(tmp_path):
    m = create()
    try:
        path = tmp_path / "m.lstmkit"
        C.check(C.lstmkit_model_save(m, str(path).encode()))
        meta, tensors = read_file(path)
        assert "lstmkit.optimizer_iterations" not in meta and len(tensors) == 6
    finally:
        C.lstmkit_model_free(m)


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("state") / "trained.lstmkit"
    m = create()
    try:
        assert fit(m, {"epochs": 1, "batch_size": 4, "seed": 2}) == C.OK
        C.check(C.lstmkit_model_save(m, str(path).encode()))
    finally:
        C.lstmkit_model_free(m)
    return read_file(path)


def _damage(kind, meta, tensors):
    meta, tensors = dict(meta), dict(tensors)
    if kind == "iterations_not_a_number":
        meta["lstmkit.optimizer_iterations"] = "two"
    elif kind == "iterations_negative":
        meta["lstmkit.optimizer_iterations"] = "-1"
    elif kind == "iterations_huge":
        meta["lstmkit.optimizer_iterations"] = "1" + "0" * 30
    elif kind == "iterations_fraction":
        meta["lstmkit.optimizer_iterations"] = "1.5"
    elif kind == "state_without_compile":
        del meta["lstmkit.compile"]
    elif kind == "slot_missing":
        del tensors["optimizer/lstm/kernel/v"]
    elif kind == "slots_without_iterations":
        del meta["lstmkit.optimizer_iterations"]
    elif kind == "slot_wrong_shape":
        shape, v = tensors["optimizer/dense/bias/m"]
        tensors["optimizer/dense/bias/m"] = ([1, 1], v)
    elif kind == "slot_nan":
        shape, v = tensors["optimizer/lstm/bias/m"]
        v = v.copy()
        v[3] = np.nan
        tensors["optimizer/lstm/bias/m"] = (shape, v)
    elif kind == "slot_inf":
        shape, v = tensors["optimizer/embedding/embeddings/v"]
        v = v.copy()
        v[0] = np.inf
        tensors["optimizer/embedding/embeddings/v"] = (shape, v)
    elif kind == "extra_slot":
        tensors["optimizer/dense/bias/velocity"] = tensors["optimizer/dense/bias/m"]
    elif kind == "slots_for_another_optimizer":
        compile_ = json.loads(meta["lstmkit.compile"])
        compile_["optimizer"] = {"class_name": "sgd", "momentum": 0.9}
        meta["lstmkit.compile"] = json.dumps(compile_)
    return meta, tensors


DAMAGE = ["iterations_not_a_number", "iterations_negative", "iterations_huge", "iterations_fraction",
          "state_without_compile", "slot_missing", "slots_without_iterations", "slot_wrong_shape",
          "extra_slot", "slots_for_another_optimizer"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_bad_optimizer_state_is_a_format_error(kind, trained_file, tmp_path):
    path = tmp_path / "bad.lstmkit"
    write_file(path, *_damage(kind, *trained_file))
    status, m = load(path)
    assert status == C.E_FORMAT, (status, C.last_error())
    assert C.last_error()


@pytest.mark.parametrize("kind", ["slot_nan", "slot_inf"])
def test_non_finite_optimizer_state_loads_and_the_next_fit_stops_numeric(kind, trained_file, tmp_path):
    """Training itself can leave an infinite second moment beside finite weights (a gradient
    over 1e19 squared), and a model that saved must load: the values are not checked at load,
    like the weights; the next fit stops with NUMERIC and keeps the weights."""
    path = tmp_path / "nan.lstmkit"
    write_file(path, *_damage(kind, *trained_file))
    status, m = load(path)
    assert status == C.OK, C.last_error()
    try:
        before = weights(m)
        assert fit(m, {"epochs": 1, "batch_size": 4}) == C.E_NUMERIC
        assert "NaN or infinite" in C.last_error()
        for a, b in zip(before, weights(m)):
            np.testing.assert_array_equal(a, b)
    finally:
        C.lstmkit_model_free(m)


def test_the_damage_helper_writes_loadable_files(trained_file, tmp_path):
    path = tmp_path / "same.lstmkit"
    write_file(path, *trained_file)
    status, m = load(path)
    assert status == C.OK, C.last_error()
    C.lstmkit_model_free(m)


FIT_OPTIONS = [
    ({"epochs": 3, "initial_epoch": -1}, C.E_BAD_CONFIG),
    ({"initial_epoch": 1}, C.E_BAD_CONFIG),              # epochs defaults to 1
    ({"epochs": 3, "initial_epoch": 3}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": 7}, C.E_BAD_CONFIG),
    ({"epochs": 0, "initial_epoch": 1}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": 1.5}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": "1"}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": True}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": 1e12}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": [1]}, C.E_BAD_CONFIG),
    ({"epochs": 3, "initial_epoch": None}, C.OK),
    ({"epochs": 3, "initial_epoch": 0}, C.OK),
    ({"epochs": 3, "initial_epoch": 2}, C.OK),
    ({"epochs": 0, "initial_epoch": 0}, C.OK),
    ({"epochs": 3, "initial_epochs": 2}, C.E_BAD_CONFIG),  # misspelt
]


@pytest.mark.parametrize("options, expected", FIT_OPTIONS, ids=[json.dumps(o) for o, _ in FIT_OPTIONS])
def test_initial_epoch_through_the_c_abi(options, expected):
    m = create()
    try:
        before = weights(m)
        events = []

        def progress(p, _):
            events.append((p.contents.event, p.contents.epoch, p.contents.epochs))
            return 0
        xa, ya = arr(X), arr(Y)
        status = C.lstmkit_model_fit(m, byref(xa), byref(ya), json.dumps(options).encode(),
                                     C.PROGRESS_FN(progress), None)
        assert status == expected, C.last_error()
        if expected != C.OK:
            assert "initial_epoch" in C.last_error()
            for a, b in zip(before, weights(m)):   # a refused fit changes nothing
                np.testing.assert_array_equal(a, b)
        else:
            first = options.get("initial_epoch") or 0
            ends = [e[1] for e in events if e[0] == C.EVENT_EPOCH_END]
            assert ends == list(range(first, options["epochs"]))
            assert all(e[2] == options["epochs"] for e in events)
    finally:
        C.lstmkit_model_free(m)


def test_each_epoch_is_the_same_whatever_came_before(tmp_path):
    """Epoch k's shuffle and dropout depend only on (seed, k): two models with equal weights and
    optimizer state, one of which trained on other epochs first, stay equal (the property resume
    rests on, checked in one process)."""
    m = create()
    try:
        assert fit(m, {"epochs": 1, "batch_size": 3, "seed": 9}) == C.OK
        path = tmp_path / "m.lstmkit"
        C.check(C.lstmkit_model_save(m, str(path).encode()))
        status, twin = load(path)
        assert status == C.OK
        try:
            assert fit(m, {"epochs": 3, "initial_epoch": 1, "batch_size": 3, "seed": 9}) == C.OK
            assert fit(twin, {"epochs": 2, "initial_epoch": 1, "batch_size": 3, "seed": 9}) == C.OK
            assert fit(twin, {"epochs": 3, "initial_epoch": 2, "batch_size": 3, "seed": 9}) == C.OK
            for a, b in zip(weights(m), weights(twin)):
                np.testing.assert_array_equal(a, b)
        finally:
            C.lstmkit_model_free(twin)
    finally:
        C.lstmkit_model_free(m)
