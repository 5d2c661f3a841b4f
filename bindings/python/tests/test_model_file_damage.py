"""A damaged model file is refused with LSTMKIT_E_FORMAT, never a crash; saves are atomic.

- every truncation of a small saved model, and flipped bits anywhere in it;
- the inputs the fuzzer found (fuzz/regressions/), and the fuzz seeds, load as they should;
- a process killed in the middle of saving leaves the previous file loadable;
- a full disk makes save fail with LSTMKIT_E_IO and leaves the previous file (needs a tmpfs).
"""

import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from ctypes import byref, c_void_p

import pytest

from conftest import HERE, REPO
from lstmkit import _capi as C

SMALL_CFG = {"input_shape": [3], "layers": [
    {"class_name": "Embedding", "config": {"input_dim": 6, "output_dim": 2}},
    {"class_name": "LSTM", "config": {"units": 2}},
    {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}


def train_one_epoch(m):
    """Two Adam steps, so the file also carries optimizer state (optimizer/.../m and v tensors
    and the iteration count), which truncations and flipped bits must reach too."""
    x = (ctypes.c_int32 * 12)(*[i % 6 for i in range(12)])
    y = (ctypes.c_float * 4)(0, 1, 0, 1)
    xs, ys = (ctypes.c_int64 * 2)(4, 3), (ctypes.c_int64 * 1)(4)
    xa = C.lstmkit_array(C.INT32, 2, xs, ctypes.cast(x, c_void_p))
    ya = C.lstmkit_array(C.FLOAT32, 1, ys, ctypes.cast(y, c_void_p))
    C.check(C.lstmkit_model_fit(m, byref(xa), byref(ya), b'{"epochs": 1, "batch_size": 2, "seed": 1}',
                                C.PROGRESS_FN(), None))


def save_small(path, seed=3, tokenizer=True, trained=True):
    m = c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(SMALL_CFG).encode(), seed, byref(m)))
    try:
        C.check(C.lstmkit_model_compile(m, b'{"loss": "binary_crossentropy", "metrics": ["accuracy"]}'))
        if trained:
            train_one_epoch(m)
        if tokenizer:
            t = c_void_p()
            C.check(C.lstmkit_tokenizer_create(b'{"oov_token": "?"}', byref(t)))
            texts, n, _ = C.encode_texts(["a b c", "b c d"])
            C.check(C.lstmkit_tokenizer_fit(t, texts, n))
            C.check(C.lstmkit_model_set_tokenizer(m, t))
            C.lstmkit_tokenizer_free(t)
        C.check(C.lstmkit_model_save(m, str(path).encode()))
    finally:
        C.lstmkit_model_free(m)
    return path.read_bytes()


def load_status(path):
    out = c_void_p()
    status = C.lstmkit_model_load(str(path).encode(), byref(out))
    if status == C.OK:
        assert out.value
        C.lstmkit_model_free(out)
    else:
        assert out.value is None
    return status


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("damage") / "small.lstmkit"
    return save_small(path)


def test_the_small_model_loads(small_model, tmp_path):
    path = tmp_path / "m.lstmkit"
    path.write_bytes(small_model)
    assert load_status(path) == C.OK
    header = json.loads(small_model[8:8 + int.from_bytes(small_model[:8], "little")])
    assert header["__metadata__"]["lstmkit.optimizer_iterations"] == "2"
    assert "optimizer/lstm/recurrent_kernel/v" in header


def test_every_truncation_is_a_format_error(small_model, tmp_path):
    path = tmp_path / "t.lstmkit"
    assert len(small_model) < 4096   # keeps this test well under a second
    for cut in range(len(small_model)):
        path.write_bytes(small_model[:cut])
        status = load_status(path)
        assert status == C.E_FORMAT, "cut at %d: status %d: %s" % (cut, status, C.last_error())


def test_appended_bytes_are_a_format_error(small_model, tmp_path):
    path = tmp_path / "a.lstmkit"
    for extra in (b"\0", b" ", b"\0" * 4, b"garbage"):
        path.write_bytes(small_model + extra)
        assert load_status(path) == C.E_FORMAT


def test_every_flipped_bit_in_the_data_and_metadata_is_caught(small_model, tmp_path):
    """A flip in a weight or a metadata value changes the CRC; a flip in the JSON syntax makes
    the header unreadable. Either way: FORMAT. A few flips leave the file meaning the same
    (whitespace padding that stays whitespace, a key's letter case in a dict order) and may load;
    none may crash or load a different model."""
    path = tmp_path / "f.lstmkit"
    header_len = int.from_bytes(small_model[:8], "little")
    data_start = 8 + header_len
    positions = list(range(data_start, len(small_model)))          # every weight byte
    rng = random.Random(1)
    positions += rng.sample(range(8, data_start), min(400, header_len))  # and the header
    loaded = 0
    for pos in positions:
        for bit in (0, 7) if pos >= data_start else (rng.randrange(8),):
            damaged = bytearray(small_model)
            damaged[pos] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            status = load_status(path)
            if pos >= data_start:
                assert status == C.E_FORMAT, "bit %d of byte %d (a weight)" % (bit, pos)
                assert "checksum" in C.last_error()
            elif status == C.OK:
                loaded += 1
            else:
                assert status == C.E_FORMAT, "bit %d of byte %d: %d" % (bit, pos, status)
    assert loaded <= len(positions) // 10


def test_bit_flips_in_the_header_length_are_caught(small_model, tmp_path):
    path = tmp_path / "h.lstmkit"
    for bit in range(64):
        damaged = bytearray(small_model)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(damaged))
        assert load_status(path) == C.E_FORMAT, bit


REGRESSIONS = sorted(p for p in (REPO / "fuzz" / "regressions").iterdir() if p.is_file() and p.suffix != ".md")
SEEDS = sorted((REPO / "fuzz" / "seeds").glob("*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_fuzzer_regressions_are_refused_cleanly(path):
    # Each file once crashed or misbehaved; now it must give a status, and a model that loads must
    # be usable.
    status = load_status(path)
    assert status in (C.OK, C.E_FORMAT, C.E_NO_MEMORY), (status, C.last_error())


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_fuzz_seeds(path):
    expected = C.OK if path.suffix == ".lstmkit" else C.E_FORMAT
    assert load_status(path) == expected, C.last_error()


# ---- atomic saves ------------------------------------------------------------------------

SAVER = textwrap.dedent(r"""
    import ctypes, json, sys
    sys.path.insert(0, %(binding)r)
    from lstmkit import _capi as C
    cfg = {"input_shape": [20], "layers": [
        {"class_name": "Embedding", "config": {"input_dim": 20000, "output_dim": 64}},
        {"class_name": "LSTM", "config": {"units": 64}},
        {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}
    m = ctypes.c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(cfg).encode(), int(sys.argv[2]), ctypes.byref(m)))
    C.check(C.lstmkit_model_save(m, sys.argv[1].encode()))
    print("ready", flush=True)   # one complete save, then the loop the kill lands in
    while True:
        C.check(C.lstmkit_model_save(m, sys.argv[1].encode()))
""")


def model_params(path):
    out = c_void_p()
    C.check(C.lstmkit_model_load(str(path).encode(), byref(out)))
    try:
        n = ctypes.c_size_t()
        C.check(C.lstmkit_model_get_weight(out, 0, None, 0, byref(n)))
        values = (ctypes.c_float * n.value)()
        C.check(C.lstmkit_model_get_weight(out, 0, values, n.value, byref(n)))
        return bytes(values)
    finally:
        C.lstmkit_model_free(out)


def test_killing_a_process_mid_save_keeps_the_previous_file(tmp_path):
    """A child saves a 5 MB model over the same path in a loop; SIGKILL at random moments
    (mostly inside a save) must always leave a file that loads as one of the two models."""
    target = tmp_path / "model.lstmkit"
    script = tmp_path / "saver.py"
    script.write_text(SAVER % {"binding": str(HERE.parent)})
    rng = random.Random(5)
    kills = 0
    for round_ in range(6):
        child = subprocess.Popen([sys.executable, str(script), str(target), str(round_)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(0.05 + rng.random() * 0.3)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        kills += 1
        assert load_status(target) == C.OK, "after kill %d: %s" % (round_, C.last_error())
        model_params(target)
    assert kills == 6
    assert target.exists()
    # Each child's saves removed the temp files of the children killed before it, so at most
    # the last one's is left; the next save (here) removes that one too.
    left = [p.name for p in tmp_path.iterdir() if ".tmp." in p.name]
    assert len(left) <= 1 and all(p.startswith(target.name + ".tmp.") for p in left), left
    save_small(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, "saver.py"])


FAILING_SAVER = textwrap.dedent(r"""
    import ctypes, json, resource, signal, sys
    sys.path.insert(0, %(binding)r)
    from lstmkit import _capi as C
    # Writes past 1,000 bytes fail with EFBIG (the signal that would kill the process ignored).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    m = ctypes.c_void_p()
    C.check(C.lstmkit_model_create(json.dumps(%(cfg)s).encode(), 99, ctypes.byref(m)))
    print(C.lstmkit_model_save(m, sys.argv[1].encode()), C.last_error())
""")


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "keep.lstmkit"
    original = save_small(path)
    cfg = {"input_shape": [4], "layers": [{"class_name": "Dense", "config": {"units": 500}}]}
    script = FAILING_SAVER % {"binding": str(HERE.parent), "cfg": json.dumps(cfg)}
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, check=True).stdout
    status, message = out.strip().split(" ", 1)
    assert int(status) == C.E_IO
    assert message == "cannot write %s: File too large" % path
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.lstmkit"]   # no temp file left


@pytest.fixture
def small_tmpfs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % result.stderr.strip())
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_fails_the_save_and_keeps_the_previous_file(small_tmpfs):
    path = small_tmpfs / "model.lstmkit"
    original = save_small(path)
    assert load_status(path) == C.OK
    big = c_void_p()   # 40 KB of weights: the old file plus this one do not fit in 64 KB
    cfg = {"input_shape": [4], "layers": [{"class_name": "Dense", "config": {"units": 2500}}]}
    C.check(C.lstmkit_model_create(json.dumps(cfg).encode(), 1, byref(big)))
    try:
        filler = small_tmpfs / "filler"
        filler.write_bytes(b"\0" * (64 * 1024 - len(original) - 8192))
        status = C.lstmkit_model_save(big, str(path).encode())
        assert status == C.E_IO, C.last_error()
        assert "No space left" in C.last_error()
    finally:
        C.lstmkit_model_free(big)
    assert path.read_bytes() == original
    assert load_status(path) == C.OK
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["filler", "model.lstmkit"]
