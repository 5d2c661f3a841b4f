#!/usr/bin/env python
"""Seconds per epoch of a seed tutorial on its real data, on lstmkit or (--framework keras) Keras 3.

usage: real_imdb_epoch.py [--recipe imdb_lstm|translate_en_fr|imdb_bilstm]
                          [--framework lstmkit|lstmkit-noskip|keras] [--epochs 1] [--threads 2]

Recipes (each identical for both frameworks; adam, validation_split 0.1; the data are read from
../shared/datasets or $LSTMKIT_DATA):
- imdb_lstm (the IMDB LSTM tutorial, seed 001; default): imdb/IMDB_Dataset.csv, the first 25,000
  rows, Tokenizer(num_words=5000) fitted on them, pad_sequences(maxlen=600, 'pre'),
  Embedding(5001, 32) -> LSTM(100) -> Dense(1, sigmoid), binary_crossentropy, batch 64.
- translate_en_fr (seed 000, examples/python/translate_en_fr.py): translation/small_vocab_en and
  _fr, a word Tokenizer each (its filters drop the punctuation) fitted on the whole corpus,
  post-padded to the longest sentence; the first 90% of the 137,860 pairs are the training data;
  Embedding(en_vocab, 256, mask_zero=True) -> LSTM(256) -> RepeatVector(fr_len) ->
  LSTM(256, return_sequences=True) -> TimeDistributed(Dense(fr_vocab, softmax)),
  sparse_categorical_crossentropy, batch 1024.
- imdb_bilstm (seed 002, examples/python/imdb_bilstm.py): the 50,000 reviews, the first 45,000
  are the training data, Tokenizer(num_words=10000) fitted on them, pad_sequences(maxlen=200,
  'pre'), Embedding(10000, 64) -> Bidirectional(LSTM(64)) -> Dense(1, sigmoid),
  binary_crossentropy, batch 128.
All report accuracy. Epoch time runs from on_epoch_begin to on_epoch_end, so it includes the
validation pass in both frameworks. Preprocessing is not timed.

Both frameworks preprocess with lstmkit's Tokenizer and pad_sequences (ctypes calls into
liblstmkit.so that reproduce Keras's; Keras 3 no longer ships a Tokenizer), so they train on
the same arrays: the RESULT carries their sha1 to check it, and the share of padding.
lstmkit-noskip is lstmkit with LSTMKIT_PADDING_SKIP=0 (every padding step computed, as Keras
does), to show what skipping the padding gains.

Run the Keras variant with the peers' interpreter (bench/run.sh does: REAL_RECIPES, REAL_IMDB).
Prints one line "RESULT {json}".
"""
import argparse
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RECIPES = ["imdb_lstm", "translate_en_fr", "imdb_bilstm"]
VALIDATION_SPLIT = 0.1

ap = argparse.ArgumentParser()
ap.add_argument("--recipe", choices=RECIPES + ["imdb_real_M1"], default="imdb_lstm",
                help="imdb_real_M1 is the old name of imdb_lstm")
ap.add_argument("--framework", choices=["lstmkit", "lstmkit-noskip", "lstmkit-bf16", "keras"], default="lstmkit",
                help="lstmkit-bf16: compile with dtype_policy mixed_bfloat16")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--max-steps", type=int, default=0,
                help="stop after this many training batches and extrapolate the epoch from the "
                     "median step time (for configurations too slow for a whole epoch)")
ap.add_argument("--rows", type=int, default=0,
                help="rows of the data set to use (imdb_lstm: 25,000 training rows; the others: "
                     "all, 90%% of them training)")
ap.add_argument("--data", type=Path,
                default=Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets"))
args = ap.parse_args()
if args.recipe == "imdb_real_M1":
    args.recipe = "imdb_lstm"

if args.framework.startswith("lstmkit"):
    os.environ["LSTMKIT_NUM_THREADS"] = str(args.threads)
    os.environ["LSTMKIT_PADDING_SKIP"] = "0" if args.framework == "lstmkit-noskip" else "1"
else:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402  (the Keras run needs it for the Tokenizer)
if args.framework == "lstmkit-bf16":
    lstmkit.mixed_precision.set_global_policy("mixed_bfloat16")
from lstmkit.preprocessing.sequence import pad_sequences  # noqa: E402
from lstmkit.preprocessing.text import Tokenizer  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- the recipes: data -> (x, y, info), and the model from a Keras-shaped API ----------------

def read_imdb(rows):
    import pandas as pd
    df = pd.read_csv(args.data / "imdb" / "IMDB_Dataset.csv", nrows=rows)
    return df["review"].tolist(), (df["sentiment"] == "positive").to_numpy(dtype="float32")


def data_imdb_lstm():
    texts, y = read_imdb(args.rows or 25_000)
    tokenizer = Tokenizer(num_words=5000)
    tokenizer.fit_on_texts(texts)
    x = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=600, padding="pre",
                      truncating="pre")
    return x, y, {"shape": "Embedding(5001,32)-LSTM(100)-Dense(1)", "maxlen": 600}


def data_imdb_bilstm():
    texts, labels = read_imdb(args.rows or None)
    n_train = len(texts) * 9 // 10
    tokenizer = Tokenizer(num_words=10000)
    tokenizer.fit_on_texts(texts[:n_train])
    x = pad_sequences(tokenizer.texts_to_sequences(texts[:n_train]), maxlen=200)
    return x, labels[:n_train], {"shape": "Embedding(10000,64)-Bidirectional(LSTM(64))-Dense(1)",
                                 "maxlen": 200}


def data_translate_en_fr():
    def read_lines(path):
        with open(path, encoding="utf-8", newline="\n") as f:
            return f.read().rstrip("\n").split("\n")

    def tokenize(sentences):
        tokenizer = Tokenizer()
        tokenizer.fit_on_texts(sentences)
        return len(tokenizer.word_index) + 1, pad_sequences(
            tokenizer.texts_to_sequences(sentences), padding="post")

    en_vocab, x = tokenize(read_lines(args.data / "translation" / "small_vocab_en"))
    fr_vocab, y = tokenize(read_lines(args.data / "translation" / "small_vocab_fr"))
    rows = min(args.rows or len(x), len(x))
    n_train = rows * 9 // 10
    return x[:n_train], y[:n_train], {
        "shape": "Embedding(%d,256,mask_zero)-LSTM(256)-RepeatVector(%d)-LSTM(256,seq)-"
                 "TimeDistributed(Dense(%d))" % (en_vocab, y.shape[1], fr_vocab),
        "en_vocab": en_vocab, "fr_vocab": fr_vocab, "en_len": x.shape[1], "fr_len": y.shape[1],
        "padding_fraction_y": float(np.mean(y[:n_train] == 0))}


def build(recipe, api, layers, info, steps):
    """The recipe's model; api is lstmkit or keras (Sequential, Input), layers their layers."""
    if recipe == "imdb_lstm":
        stack = [layers.Embedding(5001, 32), layers.LSTM(100), layers.Dense(1, activation="sigmoid")]
    elif recipe == "imdb_bilstm":
        stack = [layers.Embedding(10000, 64), layers.Bidirectional(layers.LSTM(64)),
                 layers.Dense(1, activation="sigmoid")]
    else:
        stack = [layers.Embedding(info["en_vocab"], 256, mask_zero=True), layers.LSTM(256),
                 layers.RepeatVector(info["fr_len"]), layers.LSTM(256, return_sequences=True),
                 layers.TimeDistributed(layers.Dense(info["fr_vocab"], activation="softmax"))]
    return api.Sequential([api.Input(shape=(steps,), dtype="int32")] + stack)


LOSS = {"imdb_lstm": "binary_crossentropy", "imdb_bilstm": "binary_crossentropy",
        "translate_en_fr": "sparse_categorical_crossentropy"}
BATCH = {"imdb_lstm": 64, "imdb_bilstm": 128, "translate_en_fr": 1024}

# ---- preprocessing (not timed) ---------------------------------------------------------------
load_start = os.getloadavg()
t_start = time.perf_counter()
x, y, info = {"imdb_lstm": data_imdb_lstm, "imdb_bilstm": data_imdb_bilstm,
              "translate_en_fr": data_translate_en_fr}[args.recipe]()
x = np.ascontiguousarray(x, dtype=np.int32)
y = np.ascontiguousarray(y, dtype=np.int32 if args.recipe == "translate_en_fr" else np.float32)
versions = {"numpy": np.__version__, "lstmkit": lstmkit.library_version()}
n_fit = int(len(x) * (1 - VALIDATION_SPLIT))  # Keras's split: the last 10% validate
info.update(padding_fraction=float(np.mean(x == 0)),
            padding_fraction_train=float(np.mean(x[:n_fit] == 0)),
            x_sha1=hashlib.sha1(x.tobytes()).hexdigest()[:12],
            y_sha1=hashlib.sha1(y.tobytes()).hexdigest()[:12],
            x_shape=list(x.shape), y_shape=list(y.shape))

if args.framework.startswith("lstmkit"):
    from lstmkit.callbacks import Callback
    lstmkit.utils.set_random_seed(0)
    model = build(args.recipe, lstmkit, lstmkit.layers, info, x.shape[1])
else:
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras
    from keras.callbacks import Callback

    versions.update(tensorflow=tf.__version__, keras=keras.__version__)
    keras.utils.set_random_seed(0)
    model = build(args.recipe, keras, keras.layers, info, x.shape[1])
prep_s = time.perf_counter() - t_start
model.compile(optimizer="adam", loss=LOSS[args.recipe], metrics=["accuracy"])


class EpochTimer(Callback):
    def __init__(self):
        super().__init__()
        self.begin, self.seconds, self.cpu, self.logs, self.stamps = None, [], [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin, self.cpu_begin = time.perf_counter(), cpu_s()

    def on_train_batch_end(self, batch, logs=None):
        self.stamps.append(time.perf_counter())
        if args.max_steps and len(self.stamps) >= args.max_steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.begin)
        self.cpu.append(cpu_s() - self.cpu_begin)
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})


timer = EpochTimer()
batch = BATCH[args.recipe]
t0 = time.perf_counter()
model.fit(x, y, epochs=args.epochs, batch_size=batch, validation_split=VALIDATION_SPLIT, verbose=2,
          callbacks=[timer])
fit_wall = time.perf_counter() - t0

later = timer.seconds[1:]
steps_per_epoch = -(-n_fit // batch)
step_s = np.diff(timer.stamps[1:]) if len(timer.stamps) > 2 else np.array([])
partial = bool(args.max_steps) and len(timer.stamps) < steps_per_epoch * args.epochs
framework = args.framework if args.threads == 2 else "%s-%dt" % (args.framework, args.threads)
print("RESULT " + json.dumps({
    "framework": framework,
    "recipe": args.recipe,
    "batch_size": batch,
    "partial_epoch": partial,
    "steps_done": len(timer.stamps),
    "steps_per_epoch": steps_per_epoch,
    "median_step_s": float(np.median(step_s)) if len(step_s) else None,
    "est_epoch_train_s": float(np.median(step_s)) * steps_per_epoch if len(step_s) else None,
    "versions": versions,
    "tokenizer": "lstmkit",
    "threads": args.threads,
    "padding_skip": args.framework in ("lstmkit", "lstmkit-bf16"),
    "rows": len(x),
    "fit_rows": n_fit,
    "data": info,
    "epochs": args.epochs,
    "epoch_s": None if partial else timer.seconds,
    "epoch_cpu_s": None if partial else timer.cpu,
    "epoch1_s": timer.seconds[0] if timer.seconds and not partial else None,
    "later_epoch_s_median": float(np.median(later)) if later else None,
    "fit_wall_s": fit_wall,
    "preprocess_s": prep_s,
    "loadavg_start_end": [load_start[0], os.getloadavg()[0]],
    "epoch_logs": timer.logs,
    "params": int(model.count_params()),
    "peak_rss_mb": peak_rss_mb(),
}, sort_keys=True), flush=True)
