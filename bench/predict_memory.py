#!/usr/bin/env python
"""Batch-256 predict throughput and peak RSS of the M1 model (Embedding(5000,32) -> LSTM(100) ->
Dense(1), 600 random ids per row), for comparing two builds of the library run by run:

    LSTMKIT_LIBRARY=/path/to/liblstmkit.so python3 bench/predict_memory.py [--rows 2048]

Prints the best samples/s of three predict calls and the process's peak resident memory."""
import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))
import numpy as np  # noqa: E402
import lstmkit  # noqa: E402
from lstmkit.layers import Dense, Embedding, LSTM  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--rows", type=int, default=2048)
args = ap.parse_args()
model = lstmkit.Sequential([Embedding(5000, 32), LSTM(100), Dense(1, activation="sigmoid")])
model.build((None, 600))
x = np.random.default_rng(0).integers(1, 5000, size=(args.rows, 600)).astype(np.int32)
model.predict(x[:256], batch_size=256, verbose=0)
best = 0.0
for _ in range(3):
    t0 = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    best = max(best, len(x) / (time.perf_counter() - t0))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"predict b256: {best:.0f} samples/s, peak RSS {rss:.0f} MB")
