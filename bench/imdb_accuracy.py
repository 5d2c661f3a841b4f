#!/usr/bin/env python
"""Test accuracy of the IMDB LSTM tutorial (issue 2's recipe) after a full training run, on
lstmkit or on Keras 3, for comparing the two frameworks' accuracy over several seeds.

usage: imdb_accuracy.py [--framework lstmkit|keras] [--seed 1] [--epochs 3] [--dtype-policy mixed_bfloat16]

The recipe: the first 25,000 reviews of imdb/IMDB_Dataset.csv train and the last 25,000 test;
Tokenizer(num_words=5000) fitted on the training reviews, pad_sequences(maxlen=600, 'pre'),
Embedding(5001, 32) -> LSTM(100) -> Dense(1, sigmoid), adam, binary_crossentropy, batch 64,
validation_split 0.1. Both frameworks preprocess with lstmkit's Tokenizer (identical to Keras's;
Keras 3 has none), so they see the same arrays. Run the Keras variant with the peers'
interpreter (bench/.venv-peers/bin/python). Prints one line "RESULT {json}".
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lstmkit.preprocessing.sequence import pad_sequences  # noqa: E402
from lstmkit.preprocessing.text import Tokenizer  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--framework", choices=["lstmkit", "keras"], default="lstmkit")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"],
                help="lstmkit's compile dtype_policy (Keras: its global mixed-precision policy)")
args = ap.parse_args()

data = Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets")
frame = pd.read_csv(data / "imdb" / "IMDB_Dataset.csv")
y = (frame["sentiment"] == "positive").to_numpy(dtype=np.float32)
tokenizer = Tokenizer(num_words=5000)
tokenizer.fit_on_texts(frame["review"][:25000])
x = pad_sequences(tokenizer.texts_to_sequences(frame["review"]), maxlen=600).astype(np.int32)

if args.framework == "keras":
    import keras as api
    api.utils.set_random_seed(args.seed)
    api.mixed_precision.set_global_policy(args.dtype_policy)
    first = [api.Input(shape=(600,), dtype="int32")]
else:
    import lstmkit as api
    api.utils.set_random_seed(args.seed)
    api.mixed_precision.set_global_policy(args.dtype_policy)
    first = []
model = api.Sequential(first + [api.layers.Embedding(5001, 32), api.layers.LSTM(100),
                                api.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
history = model.fit(x[:25000], y[:25000], epochs=args.epochs, batch_size=64, validation_split=0.1,
                    verbose=2)
train_s = time.perf_counter() - start
loss, accuracy = model.evaluate(x[25000:], y[25000:], batch_size=256, verbose=0)
print("RESULT " + json.dumps({
    "framework": args.framework, "dtype_policy": args.dtype_policy, "seed": args.seed, "epochs": args.epochs,
    "test_accuracy": round(float(accuracy), 4), "test_loss": round(float(loss), 4),
    "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
    "train_s": round(train_s, 1), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
