"""examples/c/stream, built with the C compiler against include/lstmkit.h and the release
library, runs several streams on one model saved from Python, one timestep at a time; after
every timestep each stream's output must be, bit for bit, what Python's predict gives for that
stream's sequence so far."""
import shutil
import subprocess

import numpy as np
import pytest

import lstmkit
from conftest import REPO
from lstmkit.layers import GRU, LSTM, Dense, Embedding, TimeDistributed


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make or cc not installed")
    build = tmp_path_factory.mktemp("c-build")
    subprocess.run(["make", "-s", "-C", str(REPO / "examples" / "c"), "BUILD=%s" % build],
                   check=True, capture_output=True, text=True)
    return build / "stream"


def run(stream, path, streams, lines):
    done = subprocess.run([str(stream), str(path), str(streams)], input="".join(l + "\n" for l in lines),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        out[(int(fields[0]), int(fields[1]))] = np.array([np.float32(v) for v in fields[2:]], dtype=np.float32)
    return out


def test_streams_from_c_give_predicts_bits(stream, rng, tmp_path):
    model = lstmkit.Sequential([lstmkit.Input(shape=(None,), dtype="int32"), Embedding(50, 8, mask_zero=True),
                                LSTM(16, return_sequences=True), GRU(8), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="mse")
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    path = tmp_path / "m.lstmkit"
    model.save(path)
    n, steps = 5, 12
    x = rng.integers(0, 50, size=(n, steps)).astype(np.int32)   # 0 is padding, masked
    out = run(stream, path, n, [" ".join(str(v) for v in x[:, t]) for t in range(steps)])
    assert len(out) == n * steps
    for s in range(n):
        for t in range(steps):
            want = model.predict(x[s:s + 1, :t + 1], batch_size=1, verbose=0)[0]
            assert np.array_equal(out[(s, t)], want), (s, t, out[(s, t)], want)


def test_float_streams_with_sequence_outputs(stream, rng, tmp_path):
    model = lstmkit.Sequential([lstmkit.Input(shape=(None, 3)), LSTM(6, return_sequences=True),
                                TimeDistributed(Dense(2))])
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    path = tmp_path / "f.lstmkit"
    model.save(path)
    n, steps = 3, 7
    x = rng.normal(size=(n, steps, 3)).astype(np.float32)
    lines = [" ".join("%.9g" % v for v in x[:, t, :].ravel()) for t in range(steps)]
    out = run(stream, path, n, lines)
    whole = model.predict(x, batch_size=1, verbose=0)   # (n, steps, 2)
    for s in range(n):
        for t in range(steps):
            assert np.array_equal(out[(s, t)], whole[s, t])


def test_bad_input_is_reported(stream, tmp_path, rng):
    model = lstmkit.Sequential([lstmkit.Input(shape=(None,), dtype="int32"), Embedding(10, 4), LSTM(3), Dense(1)])
    path = tmp_path / "b.lstmkit"
    model.save(path)
    done = subprocess.run([str(stream), str(path), "2"], input="1 2\n3 99\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "token id" in done.stderr and "stream:" in done.stderr
    done = subprocess.run([str(stream), str(tmp_path / "absent"), "1"], input="", capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "absent" in done.stderr
