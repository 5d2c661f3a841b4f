"""Throughput of the IMDB model shape (Embedding(5001,32) -> LSTM(100) -> Dense(1)), T=600, random ids.

    python3 scripts/perf_imdb.py train|infer|latency [--rows N] [--reps R]

Prints wall seconds, process CPU seconds (all threads) and samples per CPU- and wall-second, so
runs on a shared machine can be compared by CPU time."""
import os, sys, time, argparse
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import numpy as np
from lstmkit import Sequential
from lstmkit.layers import Embedding, LSTM, Dense

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["train", "infer", "latency"])
ap.add_argument("--rows", type=int, default=0)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--T", type=int, default=600)
a = ap.parse_args()
rng = np.random.default_rng(0)
model = Sequential([Embedding(5001, 32), LSTM(100), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
T = a.T
if a.mode == "train":
    n = a.rows or 64 * 8
    x = rng.integers(1, 5001, size=(n, T)).astype(np.int32); y = rng.integers(0, 2, size=n).astype(np.float32)
    model.fit(x[:64], y[:64], batch_size=64, epochs=1, verbose=0)   # warm-up: build, workspaces
    run = lambda: model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
elif a.mode == "infer":
    n = a.rows or 256 * 4
    x = rng.integers(1, 5001, size=(n, T)).astype(np.int32)
    model.predict(x[:256], batch_size=256, verbose=0)
    run = lambda: model.predict(x, batch_size=256, verbose=0)
else:
    n = a.rows or 50
    x = rng.integers(1, 5001, size=(1, T)).astype(np.int32)
    model.predict(x, batch_size=1, verbose=0)
    def run():
        for _ in range(n): model.predict(x, batch_size=1, verbose=0)
best = None
for _ in range(a.reps):
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    best = (w, c) if best is None or c < best[1] else best
w, c = best
if a.mode == "latency":
    print(f"{a.mode}: {1e3*w/n:.3f} ms/sample wall, {1e3*c/n:.3f} ms CPU (best of {a.reps}, {n} calls)")
else:
    print(f"{a.mode}: {n} rows  wall {w:.3f}s cpu {c:.3f}s  -> {n/w:.1f} samples/s wall, {n/c:.1f} samples/CPU-s")
