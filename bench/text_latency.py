#!/usr/bin/env python
"""Batch-1 text -> probability latency: lstmkit_model_predict_texts from C against ONNX Runtime
with a hand tokenizer, on the IMDB LSTM tutorial model, in alternating blocks.

usage: text_latency.py [--model FILE] [--texts 200] [--blocks 10] [--threads 2] [--out FILE]

The model is the tutorial's Embedding(5001, 32) -> LSTM(100) -> Dense(1, sigmoid), texts padded
"pre" to 600 ids (examples/python/imdb_lstm.py; without --model it is trained here for one
epoch on 2,000 reviews, which is all speed needs). ONNX Runtime runs the same model: its weights
are written into an ONNX graph here (Gather -> Transpose -> LSTM -> Squeeze -> Gemm -> Sigmoid,
the LSTM's gates reordered from Keras's i,f,c,o to ONNX's i,o,f,c), and the probabilities of
both are compared before anything is timed. Its texts go through the tokenizer a user of ONNX
Runtime writes by hand: Keras's rules (lower, the filters, split on spaces, the saved word_index
and num_words), then pre-padding with NumPy, in Python.

Each block times --texts calls of each, one held-out review per call (the same reviews in the
same order on both sides): lstmkit in a process of its own (bench/text_latency.c; ONNX Runtime's
threads spin after each call and would take a core from it in the same process), ONNX Runtime
here, as bench/latency_pairs.py does; the order turns every block. The ratio is the median over
blocks of each block's median ratio, the steadier figure on a shared machine whose speed drifts.

Needs onnxruntime and onnx, which are not in requirements.txt (see bench/README.md):
    python3 -m venv --system-site-packages /tmp/ort-venv && /tmp/ort-venv/bin/pip install onnxruntime onnx
    /tmp/ort-venv/bin/python bench/text_latency.py --out bench/results/text_latency.jsonl
Prints one line "RESULT {json}" (appended to --out when given).
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
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.models import load_model  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--model", help="an IMDB model saved with its tokenizer (default: train one)")
ap.add_argument("--texts", type=int, default=200, help="held-out reviews, one call each per block")
ap.add_argument("--blocks", type=int, default=10)
ap.add_argument("--threads", type=int, default=2, help="lstmkit's and ONNX Runtime's intra-op threads")
ap.add_argument("--data", default=os.environ.get("LSTMKIT_DATA") or str(REPO.parent / "shared" / "datasets"))
ap.add_argument("--openblas-coretype", help="OPENBLAS_CORETYPE for lstmkit's process, in place of "
                "the environment's (e.g. SkylakeX; see bench/NOTES-perf.md)")
ap.add_argument("--out", help="append the RESULT line to this file")
args = ap.parse_args()
os.environ["LSTMKIT_NUM_THREADS"] = str(args.threads)
MAXLEN = 600


def build_c(tmp):
    exe = Path(tmp) / "text_latency"
    libdir = REPO / ".build" / "release"
    subprocess.run(["cc", "-std=c99", "-O2", "-I", str(REPO / "include"), str(HERE / "text_latency.c"),
                    "-o", str(exe), "-L", str(libdir), "-llstmkit", "-Wl,-rpath," + str(libdir)], check=True)
    return exe


def train_model(tmp):
    out = Path(tmp) / "imdb"
    subprocess.run([sys.executable, str(REPO / "examples" / "python" / "imdb_lstm.py"), "--rows", "4000",
                    "--epochs", "1", "--seed", "1", "--no-c", "--out", str(out)],
                   check=True, capture_output=True, env=dict(os.environ, LSTMKIT_DATA=args.data))
    return out / "imdb_lstm.lstmkit"


def onnx_model(model, path):
    """The lstmkit model's weights as an ONNX graph; input ids int64 (batch, 600)."""
    emb, kernel, recurrent, bias, dense_w, dense_b = model.get_weights()
    units = recurrent.shape[0]

    def onnx_order(m):   # Keras's gate blocks i, f, c, o (last axis) -> ONNX's i, o, f, c (first)
        i, f, c, o = np.split(m, 4, axis=-1)
        return np.concatenate([i, o, f, c], axis=-1).T

    inits = [numpy_helper.from_array(a.astype(np.float32), name) for name, a in [
        ("emb", emb), ("W", onnx_order(kernel)[None]), ("R", onnx_order(recurrent)[None]),
        ("B", np.concatenate([onnx_order(bias[None])[:, 0], np.zeros(4 * units, np.float32)])[None]),
        ("dense_w", dense_w), ("dense_b", dense_b)]]
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "axis0"))
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["e"]),                      # (B, T, 32)
        helper.make_node("Transpose", ["e"], ["x"], perm=[1, 0, 2]),           # (T, B, 32)
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["", "h"], hidden_size=units),   # h: (1, B, H)
        helper.make_node("Squeeze", ["h", "axis0"], ["h2"]),                     # (B, H)
        helper.make_node("Gemm", ["h2", "dense_w", "dense_b"], ["z"]),            # (B, 1)
        helper.make_node("Sigmoid", ["z"], ["prob"]),
    ]
    graph = helper.make_graph(nodes, "imdb_lstm",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", MAXLEN])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 1])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


class HandTokenizer:
    """What a user of ONNX Runtime writes: Keras's text_to_word_sequence and texts_to_sequences
    over the saved word_index, then pad_sequences(maxlen=600) (pre, pre) with NumPy."""

    def __init__(self, tok):
        self.word_index = tok.word_index
        self.num_words = tok.num_words
        self.lower = tok.lower
        self.split = tok.split
        self.table = str.maketrans({c: tok.split for c in tok.filters})

    def __call__(self, text):
        if self.lower:
            text = text.lower()
        words = text.translate(self.table).split(self.split)
        get, limit = self.word_index.get, self.num_words
        ids = [i for i in (get(w) for w in words if w) if i is not None and (not limit or i < limit)]
        x = np.zeros((1, MAXLEN), np.int64)
        if ids:
            ids = ids[-MAXLEN:]
            x[0, MAXLEN - len(ids):] = ids
        return x


def held_out_reviews(n):
    import csv
    csv.field_size_limit(1 << 24)
    with open(Path(args.data) / "imdb" / "IMDB_Dataset.csv", encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        reviews = [r[0] for k, r in enumerate(rows) if k >= 45000]   # never trained on here
    return [r.replace("\n", " ") for r in reviews[:n]]


def ort_block(sess, feed, hand, texts, warmup=20):
    for k in range(warmup):
        sess.run(None, {feed: hand(texts[k % len(texts)])})
    total, tokenize = [], []
    for text in texts:
        t0 = time.perf_counter()
        x = hand(text)
        t1 = time.perf_counter()
        sess.run(None, {feed: x})
        t2 = time.perf_counter()
        total.append(1000.0 * (t2 - t0))
        tokenize.append(1000.0 * (t1 - t0))
    return total, tokenize


def p90(values):
    return sorted(values)[(len(values) * 9) // 10]


with tempfile.TemporaryDirectory(prefix="lstmkit-text-latency-") as tmp:
    exe = build_c(tmp)
    model_path = Path(args.model) if args.model else train_model(tmp)
    model = load_model(model_path)
    texts = held_out_reviews(args.texts)
    texts_path = Path(tmp) / "texts.txt"
    texts_path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    onnx_path = Path(tmp) / "imdb_lstm.onnx"
    onnx_model(model, str(onnx_path))

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    feed = sess.get_inputs()[0].name
    hand = HandTokenizer(model.tokenizer)

    # The same model and the same ids on both sides, checked before timing.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, lengths = model.predict_texts(texts, batch_size=1, verbose=0, return_lengths=True)
    theirs = np.array([sess.run(None, {feed: hand(t)})[0][0, 0] for t in texts])
    max_diff = float(np.max(np.abs(ours[:, 0] - theirs)))
    assert max_diff < 1e-4, "ONNX Runtime and lstmkit disagree by %g" % max_diff
    model.close()

    env = dict(os.environ, LSTMKIT_NUM_THREADS=str(args.threads))
    if args.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = args.openblas_coretype
    blocks = []
    for k in range(args.blocks):
        row = {}
        for side in (["onnx", "c"] if k % 2 == 0 else ["c", "onnx"]):
            if side == "onnx":
                total, tokenize = ort_block(sess, feed, hand, texts)
                row.update(onnx_median_ms=statistics.median(total), onnx_p90_ms=p90(total),
                           onnx_tokenize_median_ms=statistics.median(tokenize))
            else:
                out = subprocess.run([str(exe), str(model_path), str(texts_path), str(len(texts)), "20"],
                                     capture_output=True, text=True, env=env, check=True).stdout
                f = dict(field.split("=") for field in out.split())
                row.update(c_median_ms=float(f["median_ms"]), c_p90_ms=float(f["p90_ms"]),
                           c_tokenize_median_ms=float(f["tokenize_median_ms"]))
        blocks.append(row)
        print("block %d: lstmkit C %.3f ms (p90 %.3f)  onnxruntime+hand tokenizer %.3f ms (p90 %.3f)"
              % (k, row["c_median_ms"], row["c_p90_ms"], row["onnx_median_ms"], row["onnx_p90_ms"]),
              flush=True)


def med(key):
    return statistics.median(b[key] for b in blocks)


result = {
    "bench": "text_latency", "model": "imdb_lstm (Embedding 5001x32, LSTM 100, Dense 1; maxlen 600 pre)",
    "threads": args.threads, "texts_per_block": len(texts), "blocks": blocks,
    "lstmkit_openblas_coretype": args.openblas_coretype or os.environ.get("OPENBLAS_CORETYPE", "(detected)"),
    "review_ids_median": float(np.median(lengths)), "review_ids_over_600": int(np.sum(lengths > MAXLEN)),
    "max_abs_prob_diff": max_diff,
    "c_median_ms": med("c_median_ms"), "c_p90_ms": med("c_p90_ms"),
    "c_tokenize_median_ms": med("c_tokenize_median_ms"),
    "onnx_median_ms": med("onnx_median_ms"), "onnx_p90_ms": med("onnx_p90_ms"),
    "onnx_tokenize_median_ms": med("onnx_tokenize_median_ms"),
    "ratio_c_to_onnx": statistics.median(b["c_median_ms"] / b["onnx_median_ms"] for b in blocks),
    "ratio_c_to_onnx_p90": statistics.median(b["c_p90_ms"] / b["onnx_p90_ms"] for b in blocks),
    "versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
                 "lstmkit": lstmkit.library_version(), "numpy": np.__version__},
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
}
line = "RESULT " + json.dumps(result, sort_keys=True)
print(line)
if args.out:
    with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(result, sort_keys=True) + "\n")
