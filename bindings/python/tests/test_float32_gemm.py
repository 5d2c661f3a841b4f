"""float32 products run on oneDNN's sgemm where it is faster than OpenBLAS's and oneDNN is
installed, on OpenBLAS otherwise (Sources/CKernels/f32_gemm.c, Support/BLAS.swift). Both ways a
model must train and predict, to float rounding alike: a machine without oneDNN (LSTMKIT_DNNL
pointing nowhere) and one told to keep to OpenBLAS (LSTMKIT_FLOAT32_GEMM=openblas) against the
default, each in a process of its own since the library is chosen once per process."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import lstmkit

CHILD = textwrap.dedent("""
    import json, numpy as np, lstmkit
    from lstmkit.layers import LSTM, Dense, Embedding, Input
    lstmkit.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(96, 20)).astype(np.int32)
    y = rng.integers(0, 2, size=(96, 1)).astype(np.float32)
    m = lstmkit.Sequential([Input(shape=(20,), dtype="int32"), Embedding(50, 16), LSTM(64), Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    h = m.fit(x, y, batch_size=48, epochs=2, shuffle=False, seed=1, verbose=0)
    print(json.dumps({"loss": h.history["loss"], "pred": m.predict(x, batch_size=48, verbose=0).ravel().tolist()}))
""")


def run(**env_extra):
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(lstmkit.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_parent] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               **env_extra)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_training_and_predictions_agree_with_and_without_onednn():
    default = run()
    without = run(LSTMKIT_DNNL="/nonexistent/libdnnl.so.2")
    openblas = run(LSTMKIT_FLOAT32_GEMM="openblas")
    for other in (without, openblas):
        np.testing.assert_allclose(other["loss"], default["loss"], rtol=1e-4)
        np.testing.assert_allclose(other["pred"], default["pred"], rtol=0, atol=1e-4)
    # no oneDNN and OpenBLAS by choice are the same computation
    np.testing.assert_array_equal(without["pred"], openblas["pred"])
