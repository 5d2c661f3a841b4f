#!/usr/bin/env python
"""lstmkit benchmark for the tutorial models, measured exactly as the peers' bench_keras.py does.

usage: bench_lstmkit.py M1|M2|M3|M3rd0|M4 [--threads 2] [--windows 5] [--no-c-latency]

On random integer inputs of the shapes in ../shared/peers/common.py it measures
  * training throughput (samples/s) of model.fit steps (forward + backward + Adam), median over
    `--windows` timed windows of per-batch timestamps after `--warmup` untimed steps;
  * inference throughput of model.predict at batch 256;
  * batch-1 latency of model.predict through the Python binding (median, ms);
  * batch-1 latency of lstmkit_model_predict called from C (bench/latency.c) on the same model,
    saved to a temporary file (latency_b1_ms_c);
  * peak RSS of this process (resource.getrusage; the C latency program is a separate process).
Prints one line "RESULT {json}" with the peers' fields and framework "lstmkit".

A model that needs a layer or option lstmkit lacks prints "unsupported: <reason>" and exits with
EXIT_UNSUPPORTED (3); run.sh reports that as "not supported yet". The builders below are written
with the Keras-shaped API regardless, so they run as soon as the layers exist.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXIT_UNSUPPORTED = 3

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = Path(os.environ.get("PEERS_DIR", REPO.parent / "shared" / "peers")).resolve()

ap = argparse.ArgumentParser()
ap.add_argument("model", choices=["M1", "M2", "M3", "M3rd0", "M4"])
ap.add_argument("--threads", type=int, default=2,
                help="engine threads (LSTMKIT_NUM_THREADS; OpenBLAS itself runs on one)")
ap.add_argument("--windows", type=int, default=5, help="timed training windows")
ap.add_argument("--window-steps", type=int, default=0, help="steps per window (0 = spec default)")
ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up train steps")
ap.add_argument("--infer-batches", type=int, default=4, help="batches of 256 per predict() call")
ap.add_argument("--infer-reps", type=int, default=3)
ap.add_argument("--lat-n", type=int, default=30, help="batch-1 calls timed")
ap.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"],
                help="compile's dtype_policy; mixed_bfloat16 reports as framework lstmkit-bf16")
ap.add_argument("--no-c-latency", action="store_true", help="skip the C batch-1 latency")
ap.add_argument("--latency-bin", default=os.environ.get("LSTMKIT_LATENCY_BIN", ""),
                help="bench/latency binary (default: build it into a temporary folder)")
args = ap.parse_args()

# The engine splits batches over its own threads; the peers get the same count of intra-op
# threads from ../shared/peers.
os.environ["LSTMKIT_NUM_THREADS"] = str(args.threads)
FRAMEWORK = "lstmkit" if args.threads == 2 else "lstmkit-%dt" % args.threads
if args.dtype_policy == "mixed_bfloat16":
    FRAMEWORK += "-bf16"

sys.path.insert(0, str(PEERS))
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from common import (SPECS, emit, median, peak_rss_mb, probe_gflops, timed_calls,  # noqa: E402
                    train_flops_per_sample, windows_from_stamps)

name = args.model
s = SPECS[name]
rng = np.random.default_rng(0)


class Unsupported(Exception):
    pass


def layer(cls_name):
    """lstmkit.layers.<cls_name>, or Unsupported when the binding does not have it yet."""
    cls = getattr(lstmkit.layers, cls_name, None)
    if cls is None:
        raise Unsupported("lstmkit.layers has no %s yet" % cls_name)
    return cls


def build_model():
    """The tutorial architectures, layer for layer, as in bench_keras.py."""
    L = lstmkit.layers
    inp = lstmkit.Input(shape=(s["T"],), dtype="int32")
    if name == "M1":
        stack = [inp, L.Embedding(s["vocab"], s["emb"]), L.LSTM(s["H"]),
                 L.Dense(1, activation="sigmoid")]
        loss = "binary_crossentropy"
    elif name == "M2":
        stack = [inp, L.Embedding(s["vocab"], s["emb"]),
                 layer("Bidirectional")(L.LSTM(s["H"])),
                 L.Dense(1, activation="sigmoid")]
        loss = "binary_crossentropy"
    elif name.startswith("M3"):
        stack = [inp, L.Embedding(s["vocab"], s["emb"]),
                 L.LSTM(s["H"], dropout=s["dropout"], recurrent_dropout=s["rec_dropout"]),
                 L.Dense(s["dense"], activation="relu"),
                 L.Dense(s["classes"], activation="softmax")]
        loss = "categorical_crossentropy"
    else:  # M4
        stack = [inp, L.Embedding(s["vocab"], s["emb"], mask_zero=True),
                 L.LSTM(s["H"]),
                 layer("RepeatVector")(s["T_out"]),
                 L.LSTM(s["H"], return_sequences=True),
                 layer("TimeDistributed")(L.Dense(s["out_vocab"], activation="softmax"))]
        loss = "sparse_categorical_crossentropy"
    try:
        model = lstmkit.Sequential(stack)
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], dtype_policy=args.dtype_policy)
    except lstmkit.BadConfigError as exc:  # the library refuses a layer or an option it lacks
        raise Unsupported(str(exc)) from exc
    except (TypeError, ValueError) as exc:  # the binding refuses, e.g. an unknown layer object
        raise Unsupported("%s: %s" % (type(exc).__name__, exc)) from exc
    return model


def random_data(n):
    """Random token ids in [1, vocab) (no padding zeros, so M4's mask is all-true) and targets."""
    x = rng.integers(1, s["vocab"], size=(n, s["T"]), dtype=np.int32)
    if s["task"] == "binary":
        y = rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    elif s["task"] == "5class":
        y = np.eye(s["classes"], dtype=np.float32)[rng.integers(0, s["classes"], size=n)]
    else:
        y = rng.integers(0, s["out_vocab"], size=(n, s["T_out"]), dtype=np.int32)
    return x, y


class StepTimer(lstmkit.callbacks.Callback):
    """Records a timestamp at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.stamps = []

    def on_train_batch_end(self, batch, logs=None):
        self.stamps.append(time.perf_counter())


def latency_binary():
    """Path of the C latency program: --latency-bin, or compiled now from bench/latency.c."""
    if args.latency_bin:
        return args.latency_bin
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise RuntimeError("no C compiler to build bench/latency.c")
    lib = Path(lstmkit.library_path).resolve()
    out = Path(tempfile.mkdtemp(prefix="lstmkit-latency-")) / "latency"
    subprocess.run([cc, "-O2", "-o", str(out), str(HERE / "latency.c"), "-I", str(REPO / "include"),
                    "-L", str(lib.parent), "-llstmkit", "-Wl,-rpath," + str(lib.parent)],
                   check=True)
    return str(out)


def c_latency(model):
    """Median/min batch-1 latency (ms) of lstmkit_model_predict from C, on this model saved."""
    with tempfile.TemporaryDirectory(prefix="lstmkit-bench-") as tmp:
        path = os.path.join(tmp, "model.lstmkit")
        model.save(path)
        env = dict(os.environ, LD_LIBRARY_PATH=str(Path(lstmkit.library_path).resolve().parent))
        # 20 untimed calls: the steady state, after the first calls built the projection tables
        proc = subprocess.run([latency_binary(), path, str(args.lat_n * 3), "20", str(s["vocab"])],
                              capture_output=True, text=True, env=env, check=True)
    fields = dict(item.split("=") for item in proc.stdout.split() if "=" in item)
    return float(fields["median_ms"]), float(fields["min_ms"])


probe_start = probe_gflops()
try:
    model = build_model()
    B = s["B"]
    ws = args.window_steps or s["window_steps"]
    n_steps = args.warmup + args.windows * ws + 1
    x, y = random_data(n_steps * B)
    timer = StepTimer()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    fit_wall = time.perf_counter() - t0
except Unsupported as exc:
    print("unsupported: %s (%s): %s" % (name, FRAMEWORK, exc), flush=True)
    sys.exit(EXIT_UNSUPPORTED)

# ---- training: windows of per-batch timestamps ------------------------------------------
rates = windows_from_stamps(timer.stamps, args.warmup, ws, B)
train_sps = median(rates)
rss_after_train = peak_rss_mb()

# ---- inference: predict() at batch 256 --------------------------------------------------
xi, _ = random_data(256 * args.infer_batches)
model.predict(xi[:256], batch_size=256, verbose=0)  # warm up
infer_rates = []
for _ in range(args.infer_reps):
    t0 = time.perf_counter()
    model.predict(xi, batch_size=256, verbose=0)
    infer_rates.append(len(xi) / (time.perf_counter() - t0))

# ---- batch-1 latency through the binding ------------------------------------------------
x1 = xi[:1]
# 20 untimed calls, as the C program makes: the steady state
lat_med, lat_all = timed_calls(lambda: model.predict(x1, batch_size=1, verbose=0), args.lat_n,
                               warmup=20)
rss = peak_rss_mb()  # before the C program runs (it is another process anyway)

# ---- batch-1 latency from C -------------------------------------------------------------
lat_c = lat_c_min = None
c_error = None
if not args.no_c_latency:
    try:
        lat_c, lat_c_min = c_latency(model)
    except (RuntimeError, OSError, subprocess.CalledProcessError, KeyError, ValueError) as exc:
        c_error = "%s: %s" % (type(exc).__name__, getattr(exc, "stderr", None) or exc)
        print("C latency not measured: " + c_error, file=sys.stderr)
# after the C latency: numpy's OpenBLAS threads keep spinning for a while after the probe's
# products, on the cores the C program would use
probe_end = probe_gflops()

flops = train_flops_per_sample(name)
emit({
    "framework": FRAMEWORK,

    "model": name,
    "versions": {"lstmkit": lstmkit.library_version(), "numpy": np.__version__},
    "library_path": str(lstmkit.library_path),
    "threads_intra": args.threads,
    "params": int(model.count_params()),
    "batch": B, "seq_len": s["T"],
    "train_samples_per_s": train_sps,
    "train_windows_sps": rates,
    "train_step_ms": 1000.0 * B / train_sps,
    "window_steps": ws, "warmup_steps": args.warmup,
    "fit_wall_s_incl_trace": fit_wall,
    "est_epoch_s": s["epoch_samples"] / train_sps,
    "epoch_samples": s["epoch_samples"],
    "train_gflops_per_s": train_sps * flops / 1e9,
    "train_flops_per_sample": flops,
    "infer_samples_per_s_b256": median(infer_rates),
    "infer_runs_sps": infer_rates,
    "latency_b1_ms": 1000.0 * lat_med,
    "latency_b1_ms_min": 1000.0 * min(lat_all),
    "latency_b1_ms_c": lat_c,
    "latency_b1_ms_c_min": lat_c_min,
    "latency_c_error": c_error,
    "peak_rss_mb_after_train": rss_after_train,
    "probe_gflops_start_end": [probe_start, probe_end],
    "peak_rss_mb": rss,
})
