#!/usr/bin/env python
"""Batch-1 latency of lstmkit against ONNX Runtime, in alternating blocks.

usage: latency_pairs.py M1|M4 --onnx FILE [--blocks 12] [--calls 200] [--latency-bin bench/latency]

This machine's speed drifts by tens of per cent within minutes (a shared host), which moves a
one-off median more than the differences being measured. So the two are measured in turns:
block k times `--calls` batch-1 calls of ONNX Runtime (the .onnx file bench_torch.py exported in
a bench/run.sh round, run as bench_onnx.py runs it: 2 intra-op threads, full graph
optimisation), of lstmkit's Python predict, and of lstmkit_model_predict from C
(bench/latency.c on the same model saved), each block's median recorded. lstmkit's blocks run
in processes of their own, as in bench/run.sh: ONNX Runtime's threads spin for a while after
each call, and in the same process they took a core from lstmkit's. The result is the
median over blocks of each block's ratio lstmkit / ONNX Runtime. Weights are random (the
lstmkit model is built from the tutorial's layers; speed does not depend on the values).

Run with the peers' interpreter (it needs onnxruntime), from the repository:
    bench/.venv-peers/bin/python bench/latency_pairs.py M4 --onnx bench/out/onnx/M4.onnx
Prints one line "RESULT {json}".
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import lstmkit  # noqa: E402

SPECS = {  # as ../shared/peers/common.py
    "M1": dict(vocab=5000, emb=32, T=600, H=100),
    "M4": dict(vocab=200, emb=256, T=15, H=256, T_out=24, out_vocab=351),
}

ap = argparse.ArgumentParser()
ap.add_argument("model", choices=sorted(SPECS))
ap.add_argument("--onnx", required=True, help="the model exported by bench_torch.py --export-onnx")
ap.add_argument("--blocks", type=int, default=12)
ap.add_argument("--calls", type=int, default=200, help="timed calls per block")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--latency-bin", default=str(HERE / "out" / "latency"),
                help="bench/latency.c built against the library (bench/run.sh builds it)")
args = ap.parse_args()
os.environ["LSTMKIT_NUM_THREADS"] = str(args.threads)
s = SPECS[args.model]

L = lstmkit.layers
inp = lstmkit.Input(shape=(s["T"],), dtype="int32")
if args.model == "M1":
    stack = [inp, L.Embedding(s["vocab"], s["emb"]), L.LSTM(s["H"]), L.Dense(1, activation="sigmoid")]
else:
    stack = [inp, L.Embedding(s["vocab"], s["emb"], mask_zero=True), L.LSTM(s["H"]),
             L.RepeatVector(s["T_out"]), L.LSTM(s["H"], return_sequences=True),
             L.TimeDistributed(L.Dense(s["out_vocab"], activation="softmax"))]
model = lstmkit.Sequential(stack)
model.compile(optimizer="adam", loss="mse")

so = ort.SessionOptions()
so.intra_op_num_threads = args.threads
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
feed = sess.get_inputs()[0].name

x = np.random.default_rng(0).integers(1, s["vocab"], size=(1, s["T"]))
x32, x64 = x.astype(np.int32), x.astype(np.int64)


# lstmkit's Python block, in a process of its own: argv = binding folder, model file, calls
PYTHON_BLOCK = """
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, lstmkit
model = lstmkit.models.load_model(sys.argv[2])
x = np.array([[int(v) for v in sys.argv[4].split(",")]], dtype=np.int32)
for _ in range(20):
    model.predict(x, batch_size=1, verbose=0)
ts = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    model.predict(x, batch_size=1, verbose=0)
    ts.append(time.perf_counter() - t0)
print(1000.0 * statistics.median(ts))
"""


def block_median(fn):
    for _ in range(20):   # warm: caches, lstmkit's projection table and packed kernels
        fn()
    ts = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(ts)


rows = []
with tempfile.TemporaryDirectory(prefix="lstmkit-pairs-") as tmp:
    path = os.path.join(tmp, "model.lstmkit")
    model.save(path)
    env = dict(os.environ, LD_LIBRARY_PATH=str(Path(lstmkit.library_path).resolve().parent))
    for k in range(args.blocks):
        # the order turns each block, so neither side always follows the other
        order = ["onnx", "python", "c"] if k % 2 == 0 else ["c", "python", "onnx"]
        row = {}
        for what in order:
            if what == "onnx":
                row["onnx"] = block_median(lambda: sess.run(None, {feed: x64}))
            elif what == "python":
                out = subprocess.run([sys.executable, "-c", PYTHON_BLOCK, str(REPO / "bindings" / "python"), path,
                                      str(args.calls), ",".join(str(v) for v in x32[0])],
                                     capture_output=True, text=True, env=env, check=True).stdout
                row["python"] = float(out.strip())
            else:
                out = subprocess.run([args.latency_bin, path, str(args.calls), "20", str(s["vocab"])], capture_output=True,
                                     text=True, env=env, check=True).stdout
                row["c"] = float(dict(f.split("=") for f in out.split())["median_ms"])
        rows.append(row)
        print("block %d: onnx %.3f  python %.3f  c %.3f ms" % (k, row["onnx"], row["python"], row["c"]),
              flush=True)


def ratio(key):
    return statistics.median(r[key] / r["onnx"] for r in rows)


print("RESULT " + json.dumps({
    "model": args.model, "threads": args.threads, "blocks": rows, "calls_per_block": args.calls,
    "onnxruntime_ms_median": statistics.median(r["onnx"] for r in rows),
    "python_ms_median": statistics.median(r["python"] for r in rows),
    "c_ms_median": statistics.median(r["c"] for r in rows),
    "ratio_python_to_onnx": ratio("python"), "ratio_c_to_onnx": ratio("c"),
    "versions": {"onnxruntime": ort.__version__, "lstmkit": lstmkit.library_version()},
}, sort_keys=True))
