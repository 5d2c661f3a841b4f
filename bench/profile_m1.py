#!/usr/bin/env python
"""A few M1 training steps (and optionally predict calls) on lstmkit, for profilers.

usage: profile_m1.py [--steps 6] [--threads 2] [--predict 0]
    perf record -e cpu-clock -g -o m1.perf.data -- python3 bench/profile_m1.py --steps 6

Prints the wall time of every training step (timestamps from the progress callback) and the
process's user/system CPU seconds, so that "CPU seconds per wall second" shows how much of the
two cores the step really used.
"""
import argparse
import os
import resource
import sys
import time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=6)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--predict", type=int, default=0, help="predict() calls at batch 256 afterwards")
ap.add_argument("--model", default="M1")
args = ap.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[var] = str(args.threads)
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(os.environ.get("PEERS_DIR", REPO.parent / "shared" / "peers"))))
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from common import SPECS  # noqa: E402

s = SPECS[args.model]
L = lstmkit.layers
model = lstmkit.Sequential([lstmkit.Input(shape=(s["T"],), dtype="int32"),
                            L.Embedding(s["vocab"], s["emb"]), L.LSTM(s["H"]),
                            L.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
B = s["B"]
x = rng.integers(1, s["vocab"], size=(args.steps * B, s["T"]), dtype=np.int32)
y = rng.integers(0, 2, size=(args.steps * B, 1)).astype(np.float32)


class Stamps(lstmkit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.t = []

    def on_train_batch_end(self, batch, logs=None):
        self.t.append(time.perf_counter())


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


stamps = Stamps()
u0, s0 = cpu()
t0 = time.perf_counter()
model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0, callbacks=[stamps])
wall = time.perf_counter() - t0
u1, s1 = cpu()
steps = np.diff([t0] + stamps.t)
print("step seconds:", " ".join("%.3f" % d for d in steps))
print("fit wall %.2f s, user %.2f s, sys %.2f s, cpu/wall %.2f" % (wall, u1 - u0, s1 - s0,
                                                                 (u1 - u0 + s1 - s0) / wall))
if args.predict:
    xi = x[:256]
    t0 = time.perf_counter()
    for _ in range(args.predict):
        model.predict(xi, batch_size=256, verbose=0)
    print("predict b256: %.3f s per call" % ((time.perf_counter() - t0) / args.predict))
