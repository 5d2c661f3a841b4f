"""Seconds per training batch on the real IMDB data with the seed recipe: Tokenizer(num_words=5000)
fit on the first 25,000 reviews, pad_sequences(maxlen=600) ('pre'), Embedding(5001,32) -> LSTM(100)
-> Dense(1, sigmoid), Adam, batch 64. LSTMKIT_PADDING_SKIP=0 turns the padding skip off.

    python3 scripts/perf_imdb_real.py [--batches N] [--mask-zero] [--bi] [--predict] [--dtype-policy mixed_bfloat16]"""
import os, sys, time, argparse, pickle
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import numpy as np
import pandas as pd
from lstmkit import Sequential
from lstmkit.layers import Embedding, LSTM, Dense, Bidirectional
from lstmkit.preprocessing.text import Tokenizer
from lstmkit.preprocessing.sequence import pad_sequences

ap = argparse.ArgumentParser()
ap.add_argument("--batches", type=int, default=100)
ap.add_argument("--mask-zero", action="store_true")
ap.add_argument("--bi", action="store_true", help="Bidirectional(LSTM(100)) instead of LSTM(100)")
ap.add_argument("--predict", action="store_true", help="time predict (batch 256) instead of fit")
ap.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"])
a = ap.parse_args()
data = os.environ.get("LSTMKIT_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets")
cache = "/tmp/imdb_pad600.npz"
if os.path.exists(cache):
    z = np.load(cache); x, y = z["x"], z["y"]
else:
    df = pd.read_csv(os.path.join(data, "imdb", "IMDB_Dataset.csv"))
    y = (df.sentiment == "positive").astype("float32").values
    tok = Tokenizer(num_words=5000); tok.fit_on_texts(df.review[:25000])
    x = pad_sequences(tok.texts_to_sequences(df.review), maxlen=600).astype(np.int32)
    np.savez(cache, x=x, y=y)
x, y = x[:25000], y[:25000]
print(f"padding: {np.mean(x == 0) * 100:.1f}% of timesteps")
rnn = Bidirectional(LSTM(100)) if a.bi else LSTM(100)
model = Sequential([Embedding(5001, 32, mask_zero=a.mask_zero), rnn, Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], dtype_policy=a.dtype_policy)
rng = np.random.default_rng(0)
rows = rng.permutation(25000)[: 64 * a.batches]
model.fit(x[rows[:64]], y[rows[:64]], batch_size=64, epochs=1, verbose=0)
w0, c0 = time.perf_counter(), time.process_time()
if a.predict:
    model.predict(x[rows], batch_size=256, verbose=0)
else:
    model.fit(x[rows], y[rows], batch_size=64, epochs=1, verbose=0, shuffle=False)
w, c = time.perf_counter() - w0, time.process_time() - c0
n = len(rows)
what = "predict b256" if a.predict else "train b64"
print(f"{what}: {n} rows wall {w:.2f}s cpu {c:.2f}s -> per 25,000-row epoch: {w * 25000 / n:.1f}s wall, {c * 25000 / n:.1f} CPU-s")
