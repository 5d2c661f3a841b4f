#!/usr/bin/env python
"""Seconds per epoch of the real-data IMDB tutorial, on lstmkit or (--framework keras) Keras 3.

usage: real_imdb_epoch.py [--framework lstmkit|keras] [--epochs 1] [--threads 2]

The recipe, identical for both: ../shared/datasets/imdb/IMDB_Dataset.csv, the first 25,000 rows
as training data, Tokenizer(num_words=5000) fitted on them, pad_sequences(maxlen=600, 'pre'),
Embedding(5001, 32) -> LSTM(100) -> Dense(1, sigmoid), adam, binary_crossentropy, accuracy,
batch 64, validation_split 0.1. Epoch time runs from on_epoch_begin to on_epoch_end, so it
includes the validation pass in both frameworks. Preprocessing is not timed.

Keras 3 no longer ships keras.preprocessing.text.Tokenizer; when it is missing, the Keras run
tokenizes with lstmkit's Tokenizer (a ctypes call into liblstmkit.so that reproduces Keras's
Tokenizer exactly) and pads with keras.utils.pad_sequences. The RESULT says which was used.

Run the Keras variant with the peers' interpreter (bench/run.sh does). Prints one line
"RESULT {json}".
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

ap = argparse.ArgumentParser()
ap.add_argument("--framework", choices=["lstmkit", "keras"], default="lstmkit")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--max-steps", type=int, default=0,
                help="stop after this many training batches and extrapolate the epoch from the "
                     "median step time (for configurations too slow for a whole epoch)")
ap.add_argument("--rows", type=int, default=25_000, help="training rows (first ROWS of the CSV)")
ap.add_argument("--data", type=Path,
                default=Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets"))
args = ap.parse_args()

if args.framework == "lstmkit":
    os.environ["LSTMKIT_NUM_THREADS"] = str(args.threads)
else:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_data():
    df = pd.read_csv(args.data / "imdb" / "IMDB_Dataset.csv", nrows=args.rows)
    texts = df["review"].tolist()
    y = (df["sentiment"] == "positive").astype("float32").to_numpy()
    return texts, y


def tokenize(texts, tokenizer_cls, pad):
    tokenizer = tokenizer_cls(num_words=5000)
    tokenizer.fit_on_texts(texts)
    return pad(tokenizer.texts_to_sequences(texts), maxlen=600, padding="pre", truncating="pre")


t_start = time.perf_counter()
texts, y = load_data()
versions = {"numpy": np.__version__, "pandas": pd.__version__}

if args.framework == "lstmkit":
    import lstmkit
    from lstmkit.callbacks import Callback
    from lstmkit.layers import LSTM, Dense, Embedding
    from lstmkit.preprocessing.sequence import pad_sequences
    from lstmkit.preprocessing.text import Tokenizer

    versions["lstmkit"] = lstmkit.library_version()
    tokenizer_used = "lstmkit"
    x = tokenize(texts, Tokenizer, pad_sequences)
    model = lstmkit.Sequential([lstmkit.Input(shape=(600,), dtype="int32"), Embedding(5001, 32),
                                LSTM(100), Dense(1, activation="sigmoid")])
else:
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras
    from keras.callbacks import Callback
    from keras.layers import LSTM, Dense, Embedding

    versions.update(tensorflow=tf.__version__, keras=keras.__version__)
    try:
        from keras.preprocessing.text import Tokenizer  # Keras 2 only
        tokenizer_used = "keras"
    except ImportError:
        from lstmkit.preprocessing.text import Tokenizer
        tokenizer_used = "lstmkit (Keras 3 has no Tokenizer)"
    x = tokenize(texts, Tokenizer, keras.utils.pad_sequences)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(600,), dtype="int32"), Embedding(5001, 32),
                              LSTM(100), Dense(1, activation="sigmoid")])

x = np.ascontiguousarray(x, dtype=np.int32)
prep_s = time.perf_counter() - t_start
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])


class EpochTimer(Callback):
    def __init__(self):
        super().__init__()
        self.begin, self.seconds, self.logs, self.stamps = None, [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.stamps.append(time.perf_counter())
        if args.max_steps and len(self.stamps) >= args.max_steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.begin)
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})


timer = EpochTimer()
t0 = time.perf_counter()
model.fit(x, y, epochs=args.epochs, batch_size=64, validation_split=0.1, verbose=2,
          callbacks=[timer])
fit_wall = time.perf_counter() - t0

later = timer.seconds[1:]
steps_per_epoch = -(-int(len(texts) * 0.9) // 64)
step_s = np.diff(timer.stamps[1:]) if len(timer.stamps) > 2 else np.array([])
partial = bool(args.max_steps) and len(timer.stamps) < steps_per_epoch * args.epochs
print("RESULT " + json.dumps({
    "framework": args.framework if args.threads == 2 else "%s-%dt" % (args.framework, args.threads),
    "partial_epoch": partial,
    "steps_done": len(timer.stamps),
    "steps_per_epoch": steps_per_epoch,
    "median_step_s": float(np.median(step_s)) if len(step_s) else None,
    "est_epoch_train_s": float(np.median(step_s)) * steps_per_epoch if len(step_s) else None,
    "recipe": "imdb_real_M1",
    "versions": versions,
    "tokenizer": tokenizer_used,
    "threads": args.threads,
    "rows": len(texts),
    "epochs": args.epochs,
    "epoch_s": None if partial else timer.seconds,
    "epoch1_s": timer.seconds[0] if timer.seconds and not partial else None,
    "later_epoch_s_median": float(np.median(later)) if later else None,
    "fit_wall_s": fit_wall,
    "preprocess_s": prep_s,
    "epoch_logs": timer.logs,
    "params": int(model.count_params()),
    "peak_rss_mb": peak_rss_mb(),
}, sort_keys=True), flush=True)
