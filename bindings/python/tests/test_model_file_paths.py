"""What save and load do with the path they are given (issue 15): concurrent saves to one path,
FIFOs, NUL bytes, permissions, symlinks and the temp files a killed save leaves behind.

Every save writes "<target>.tmp.<pid>.<n>" and renames it over the target
(Sources/LSTMKit/Support/FileReplace.swift)."""

import fcntl
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from ctypes import byref, c_void_p

import numpy as np
import pytest

from conftest import HERE
import lstmkit
from lstmkit import _capi as C
from lstmkit.errors import InvalidArgumentError, LSTMKitIOError
from lstmkit.layers import Dense


def small_model(seed, units=3):
    lstmkit.utils.set_random_seed(seed)
    model = lstmkit.Sequential([lstmkit.Input((4,)), Dense(units)])
    model.build()
    return model


def weights_of(path):
    model = lstmkit.load_model(path)
    try:
        return [w.copy() for w in model.get_weights()]
    finally:
        model.close()


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_two_threads_saving_to_one_path_both_succeed_and_the_file_is_one_of_them(tmp_path):
    """Before: both threads used "<path>.tmp.<pid>", so one rename found its temp file gone
    (or renamed the other thread's half-written one): a failed save, often a mixed file."""
    path = tmp_path / "shared.lstmkit"
    # Large enough that the writes overlap.
    models = [small_model(1, units=20000), small_model(2, units=20000)]
    expected = [m.get_weights() for m in models]
    errors = []
    barrier = threading.Barrier(2)

    def saver(model):
        barrier.wait()
        for _ in range(15):
            try:
                model.save(path)
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=saver, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = weights_of(path)
    assert same(got, expected[0]) or same(got, expected[1])
    # The save that finished last is the one in the file.
    models[1].save(path)
    assert same(weights_of(path), expected[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.lstmkit"]
    for m in models:
        m.close()


LOAD_FIFO = textwrap.dedent("""
    import sys
    sys.path.insert(0, %(binding)r)
    from ctypes import byref, c_void_p
    from lstmkit import _capi as C
    out = c_void_p()
    status = C.lstmkit_model_load(%(path)r.encode(), byref(out))
    print(status, out.value, C.last_error())
""")


def test_loading_a_fifo_is_refused_without_blocking(tmp_path):
    """Before: open() of a FIFO without a writer blocked forever (here: the 20 s timeout)."""
    fifo = tmp_path / "pipe.lstmkit"
    os.mkfifo(fifo)
    script = LOAD_FIFO % {"binding": str(HERE.parent), "path": str(fifo)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=20)
    status, handle, message = result.stdout.strip().split(" ", 2)
    assert int(status) == C.E_IO and handle == "None"
    assert message == "cannot read %s: it is a FIFO, not a regular file" % fifo
    with pytest.raises(LSTMKitIOError, match="FIFO"):
        lstmkit.load_model(fifo)   # the same in this process (the subprocess showed it returns)


def test_saving_onto_a_fifo_is_refused_and_keeps_it(tmp_path):
    fifo = tmp_path / "pipe.lstmkit"
    os.mkfifo(fifo)
    model = small_model(3)
    with pytest.raises(LSTMKitIOError, match="is not a regular file"):
        model.save(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.lstmkit"]


def test_a_nul_byte_in_a_path_is_refused_by_save_and_load(tmp_path):
    """Before: the C string ended at the NUL, so "<dir>/a\\0b" saved to and loaded "<dir>/a"."""
    model = small_model(4)
    truncated = tmp_path / "a"
    with pytest.raises(InvalidArgumentError, match="NUL"):
        model.save(str(truncated) + "\0b")
    assert not truncated.exists()
    model.save(truncated)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        lstmkit.load_model(str(truncated) + "\0b")
    with pytest.raises(InvalidArgumentError, match="NUL"):
        lstmkit.load_model(os.fsencode(truncated) + b"\0")
    with pytest.raises(InvalidArgumentError, match="must be a path"):
        model.save(3)


def test_saving_over_a_file_keeps_its_permissions(tmp_path):
    """Before: the temp file was created 0644 and renamed over, so a 0600 file became 0644."""
    path = tmp_path / "private.lstmkit"
    model = small_model(5)
    model.save(path)
    os.chmod(path, 0o600)
    model.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o640)
    model.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_new_file_gets_the_umask_mode(tmp_path):
    path = tmp_path / "new.lstmkit"
    old = os.umask(0o027)
    try:
        small_model(6).save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_saving_through_a_symlink_replaces_its_target_not_the_link(tmp_path):
    """Before: the rename replaced the link itself with a regular file; the target kept the old
    model."""
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "model.lstmkit"
    first, second = small_model(7), small_model(8)
    first.save(target)
    os.chmod(target, 0o600)
    link = tmp_path / "link.lstmkit"
    os.symlink(os.path.join("real", "model.lstmkit"), link)   # relative, resolved from its dir
    chain = tmp_path / "chain.lstmkit"
    os.symlink(link, chain)                                      # absolute, to another link
    second.save(chain)
    assert os.path.islink(link) and os.path.islink(chain)
    assert same(weights_of(target), second.get_weights())
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in real_dir.iterdir()) == ["model.lstmkit"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.lstmkit", "link.lstmkit", "real"]


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.lstmkit"
    os.symlink("made.lstmkit", link)
    model = small_model(9)
    model.save(link)
    assert os.path.islink(link)
    assert same(weights_of(tmp_path / "made.lstmkit"), model.get_weights())


def test_a_symlink_loop_is_an_io_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    os.symlink(b, a)
    os.symlink(a, b)
    with pytest.raises(LSTMKitIOError, match="symbolic links"):
        small_model(10).save(a)


HOLD_LOCK = textwrap.dedent("""
    import fcntl, sys
    f = open(sys.argv[1], "ab")
    fcntl.flock(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()
""")


def dead_pid():
    """A pid no process has right now (that of a child that has exited and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_save_removes_the_temp_files_of_dead_processes_only(tmp_path):
    """Before: temp files of killed saves stayed forever. Now the next save to the same target
    removes those whose process is gone and whose lock nobody holds."""
    target = tmp_path / "model.lstmkit"
    dead = dead_pid()
    orphans = ["model.lstmkit.tmp.%d" % dead, "model.lstmkit.tmp.%d.7" % dead]
    kept = ["model.lstmkit.tmp.%d.1" % os.getppid(),     # a live process (may be saving)
            "model.lstmkit.tmp.%d.2" % os.getpid(),      # this process: another thread's save
            "model.lstmkit.tmp.%d.x" % dead,             # not a name a save makes
            "model.lstmkit.tmp.%d.1.2" % dead,
            "other.lstmkit.tmp.%d" % dead,               # another target's
            "model.lstmkit.tmp.%d.3" % dead]             # locked: a live save elsewhere
    for name in orphans + kept:
        (tmp_path / name).write_bytes(b"partial")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / kept[-1])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        small_model(11).save(target)
    finally:
        holder.stdin.close()
        holder.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["model.lstmkit"])


def test_saves_leave_no_temp_file_and_can_lock_theirs(tmp_path):
    """The temp file of a save in progress is flock'ed; a finished save leaves none."""
    path = tmp_path / "m.lstmkit"
    model = small_model(12)
    for _ in range(3):
        model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lstmkit"]
    with open(path, "rb") as f:   # the file itself is not left locked
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_the_c_api_refuses_a_fifo_and_reports_the_path(tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    out = c_void_p()
    assert C.lstmkit_model_load(str(fifo).encode(), byref(out)) == C.E_IO
    assert out.value is None and "FIFO" in C.last_error()
    m = c_void_p()
    cfg = {"input_shape": [2], "layers": [{"class_name": "Dense", "config": {"units": 1}}]}
    C.check(C.lstmkit_model_create(json.dumps(cfg).encode(), 1, byref(m)))
    try:
        assert C.lstmkit_model_save(m, str(fifo).encode()) == C.E_IO
        assert "is not a regular file" in C.last_error()
    finally:
        C.lstmkit_model_free(m)
