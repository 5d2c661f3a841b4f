#!/usr/bin/env python
"""Predict speed of three model shapes with random weights, for comparing builds: M1 (IMDB:
Embedding(5001, 32) -> LSTM(100) -> Dense(1), 600 ids) at batch 256, a float-input stack
(Input(100, 16) -> LSTM(128, return_sequences) -> LSTM(64) -> Dense(1)) at 256, and a
translation-like decoder (Embedding(5000, 256) -> LSTM(256, return_sequences) ->
TimeDistributed(Dense(5000, softmax)), 21 ids) at 64. Prints rows per second, best and median
of 4 calls each, as one RESULT line.

usage: LSTMKIT_LIBRARY=<lib> python3 bench/predict_throughput.py [BINDING_DIR]
       BINDING_DIR: the bindings/python of the library's own revision (default this checkout's)
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parent.parent / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.layers import LSTM, Dense, Embedding, TimeDistributed  # noqa: E402

rng = np.random.default_rng(0)


def make(layers):
    model = lstmkit.Sequential(layers)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def rows_per_second(model, x, batch, calls=4):
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        model.predict(x, batch_size=batch, verbose=0)
        times.append(time.perf_counter() - t)
    times.sort()
    return [len(x) / times[0], len(x) / times[len(times) // 2]]


m1 = make([lstmkit.Input(shape=(600,), dtype="int32"), Embedding(5001, 32), LSTM(100), Dense(1, activation="sigmoid")])
floats = make([lstmkit.Input(shape=(100, 16)), LSTM(128, return_sequences=True), LSTM(64), Dense(1)])
decoder = make([lstmkit.Input(shape=(21,), dtype="int32"), Embedding(5000, 256), LSTM(256, return_sequences=True),
                TimeDistributed(Dense(5000, activation="softmax"))])
x1 = rng.integers(1, 5001, size=(256, 600)).astype(np.int32)
xf = rng.normal(size=(256, 100, 16)).astype(np.float32)
xd = rng.integers(1, 5000, size=(64, 21)).astype(np.int32)
for _ in range(3):
    m1.predict(x1[:1], batch_size=1, verbose=0)   # the projection table
print("RESULT", json.dumps({"m1_b256_rows_per_s": rows_per_second(m1, x1, 256),
                            "float_stack_b256_rows_per_s": rows_per_second(floats, xf, 256),
                            "translate_like_b64_rows_per_s": rows_per_second(decoder, xd, 64)}))
