#!/usr/bin/env python3
"""Two or more builds of liblstmkit.so on the same benchmarks, interleaved: each round runs
bench_lstmkit.py once per (model, build), the builds' order reversed every other round, one
process at a time; reports per build the median of each figure and its ratio to the first build.
The machine is shared, so only the ratios within one run mean anything.

usage: compare_builds.py --build NAME=PATH.so [--build NAME=PATH.so ...] [--models M1,M4]
                         [--rounds 5] [--out bench/results/FILE.jsonl] [-- bench_lstmkit args]

Figures: train_samples_per_s, infer_samples_per_s_b256, latency_b1_ms (through Python); the
C latency is skipped (--no-c-latency) to keep a round short.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = [("train_samples_per_s", True), ("infer_samples_per_s_b256", True), ("latency_b1_ms", False)]

ap = argparse.ArgumentParser()
ap.add_argument("--build", action="append", required=True, help="NAME=PATH to liblstmkit.so")
ap.add_argument("--models", default="M1,M4")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--out", default="")
ap.add_argument("rest", nargs="*", help="extra bench_lstmkit.py arguments (after --)")
args = ap.parse_args()
builds = [b.split("=", 1) for b in args.build]
models = args.models.split(",")

results = {(m, name): [] for m in models for name, _ in builds}
out = open(args.out, "a") if args.out else None
for r in range(args.rounds):
    order = builds if r % 2 == 0 else builds[::-1]
    for model in models:
        for name, path in order:
            env = dict(os.environ, LSTMKIT_LIBRARY=path)
            proc = subprocess.run([sys.executable, str(HERE / "bench_lstmkit.py"), model, "--no-c-latency",
                                   "--windows", "3"] + args.rest, env=env, capture_output=True, text=True)
            line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                sys.exit("%s on %s failed: %s" % (model, name, proc.stderr[-2000:]))
            res = json.loads(line[-1][len("RESULT "):])
            res.update(build=name, round=r)
            results[(model, name)].append(res)
            if out:
                out.write(json.dumps(res) + "\n")
                out.flush()
            print("round %d %s %-12s train %.1f/s infer %.1f/s b1 %.3f ms" % (
                r, model, name, res["train_samples_per_s"], res["infer_samples_per_s_b256"],
                res["latency_b1_ms"]), flush=True)

print("\nmedians over %d rounds (ratio to %s; > 1 = faster, for latency too)" % (args.rounds, builds[0][0]))
print("| model | build | " + " | ".join(f for f, _ in FIGURES) + " |")
print("|---|---|" + "---|" * len(FIGURES))
for model in models:
    base = {f: statistics.median(x[f] for x in results[(model, builds[0][0])]) for f, _ in FIGURES}
    for name, _ in builds:
        cells = []
        for f, higher_better in FIGURES:
            v = statistics.median(x[f] for x in results[(model, name)])
            ratio = v / base[f] if higher_better else base[f] / v
            cells.append("%.4g (%.3f)" % (v, ratio))
        print("| %s | %s | %s |" % (model, name, " | ".join(cells)))
