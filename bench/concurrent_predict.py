#!/usr/bin/env python
"""Throughput of predicts on one model handle from 8 threads against 1 thread (and against 8
handles of the same model, one per thread), for an IMDB-LSTM-sized model: Embedding(5001, 32)
-> LSTM(100) -> Dense(1, sigmoid), 600 ids a row, random weights and ids, at batch 1 and 32.
Before concurrent predicts (Training/Inference.swift) the calls on one handle were serialised,
so 8 threads got one thread's throughput. The engine's own worker pool (LSTMKIT_NUM_THREADS,
default the processor count) splits a batch of 16+ rows over its threads when it is free; on
this 2-core machine the best 8 threads can do over 1 is therefore about 2x at batch 1 (one
thread uses one core) and less at batch 32 (one call already uses both).

usage: python3 bench/concurrent_predict.py [--seconds S] [--rounds R] [--json FILE]
       LSTMKIT_LIBRARY=<lib> selects the library; prints one RESULT line per configuration.
"""
import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.layers import LSTM, Dense, Embedding  # noqa: E402

VOCAB, STEPS = 5001, 600


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    model = lstmkit.Sequential([lstmkit.Input(shape=(STEPS,), dtype="int32"), Embedding(VOCAB, 32),
                                LSTM(100), Dense(1, activation="sigmoid")])
    model.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def throughput(models, threads, batch, seconds, xs):
    """Rows predicted per wall second by `threads` threads, thread k on models[k % len(models)]."""
    counts = [0] * threads
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(threads + 1)

    def work(k):
        model, x = models[k % len(models)], xs[k]
        barrier.wait()
        while time.monotonic() < stop:
            model.predict(x, batch_size=batch, verbose=0)
            counts[k] += batch
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    start = time.monotonic()
    barrier.wait()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="append the RESULT lines to this file")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    one = make_model()
    handles = [one] + [make_model() for _ in range(7)]   # same weights (same seed)
    results = []
    for batch in (1, 32):
        xs = [rng.integers(1, VOCAB, size=(batch, STEPS)).astype(np.int32) for _ in range(8)]
        for m in handles:   # warm up: projection tables, inference copies, worker copies
            for _ in range(3):
                m.predict(xs[0], batch_size=batch, verbose=0)
        for _ in range(8):
            throughput([one], 8, batch, 0.5, xs)
        for r in range(args.rounds):
            # alternate the configurations within a round: the machine's speed drifts
            row = {"batch": batch, "round": r}
            row["one_handle_1_thread"] = throughput([one], 1, batch, args.seconds, xs)
            row["one_handle_8_threads"] = throughput([one], 8, batch, args.seconds, xs)
            row["8_handles_8_threads"] = throughput(handles, 8, batch, args.seconds, xs)
            row["ratio_8_threads_one_handle"] = row["one_handle_8_threads"] / row["one_handle_1_thread"]
            row["ratio_8_handles"] = row["8_handles_8_threads"] / row["one_handle_1_thread"]
            row["library"] = str(lstmkit.library_path)
            row["engine_threads"] = os.environ.get("LSTMKIT_NUM_THREADS", "default")
            line = "RESULT " + json.dumps(row)
            print(line, flush=True)
            results.append(row)
    if args.json:
        with open(args.json, "a") as f:
            for row in results:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
