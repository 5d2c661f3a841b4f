#!/usr/bin/env python
"""Bitwise fingerprint of the four tutorial models, for refactors that must not change a bit.

usage: LSTMKIT_LIBRARY=.build/release/liblstmkit.so python3 bench/fingerprint_models.py

Builds the tutorial architectures (IMDB Embedding->LSTM and ->Bidirectional(LSTM)->Dense sigmoid;
Rotten Tomatoes LSTM with dropout and recurrent dropout->Dense relu->Dense softmax; EN->FR
Embedding mask_zero->LSTM->RepeatVector->LSTM return_sequences->TimeDistributed Dense softmax;
temperature windows->LSTM->Dense MSE, also stateful) from fixed seeds, fits a few batches of
small real-data slices and predicts at batch 256 and batch 1 (batch 1 takes the projection
table and the unit split), then prints one SHA-256 per model over every weight and prediction,
and one over all of them. Pre-padded IMDB rows exercise the padding plan, post-padded EN->FR
rows the mask. Compare the output of two builds: it must be identical.
"""
import hashlib
import os
import sys
from pathlib import Path

os.environ.setdefault("LSTMKIT_NUM_THREADS", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bindings" / "python"))

import numpy as np  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.layers import (LSTM, Bidirectional, Dense, Embedding, Input, RepeatVector,  # noqa: E402
                            TimeDistributed)
from lstmkit.sequence import pad_sequences  # noqa: E402
from lstmkit.text import Tokenizer  # noqa: E402

DATA = Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets")


def digest(model, predictions):
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    for p in predictions:
        h.update(np.ascontiguousarray(p, dtype=np.float32).tobytes())
    return h.hexdigest()


def fit_and_predict(model, loss, x, y, batch_size, epochs=1, extra_predict=()):
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, seed=7, verbose=0)
    preds = [model.predict(x[:256], batch_size=256, verbose=0)]
    # batch 1, twice: the second call runs on the projection table the first one built
    preds += [model.predict(x[i:i + 1], batch_size=1, verbose=0) for i in (0, 1, 0)]
    preds += [p(model) for p in extra_predict]
    return preds


def imdb():
    import pandas as pd
    frame = pd.read_csv(DATA / "imdb" / "IMDB_Dataset.csv", nrows=640)
    tok = Tokenizer(num_words=800)
    tok.fit_on_texts(frame["review"])
    x = pad_sequences(tok.texts_to_sequences(frame["review"]), maxlen=120).astype(np.int32)
    y = (frame["sentiment"] == "positive").to_numpy(dtype=np.float32).reshape(-1, 1)
    return x, y


def model_imdb(x, y, bidirectional):
    lstmkit.utils.set_random_seed(1)
    rnn = Bidirectional(LSTM(24)) if bidirectional else LSTM(32)
    model = lstmkit.Sequential([Input(shape=(x.shape[1],), dtype="int32"), Embedding(801, 16),
                                rnn, Dense(1, activation="sigmoid")])
    return digest(model, fit_and_predict(model, "binary_crossentropy", x, y, 64))


def model_rotten():
    import pandas as pd
    frame = pd.read_csv(DATA / "rotten_tomatoes" / "train.tsv", sep="\t", nrows=768)
    tok = Tokenizer(num_words=1000)
    tok.fit_on_texts(frame["Phrase"])
    x = pad_sequences(tok.texts_to_sequences(frame["Phrase"]), maxlen=40).astype(np.int32)
    y = np.eye(5, dtype=np.float32)[frame["Sentiment"].to_numpy()]
    lstmkit.utils.set_random_seed(2)
    model = lstmkit.Sequential([Input(shape=(40,), dtype="int32"), Embedding(1001, 16),
                                LSTM(24, dropout=0.2, recurrent_dropout=0.2),
                                Dense(16, activation="relu"), Dense(5, activation="softmax")])
    return digest(model, fit_and_predict(model, "categorical_crossentropy", x, y, 64))


def model_translate():
    def ids(name, rows):
        lines = (DATA / "translation" / name).read_text().splitlines()[:rows]
        tok = Tokenizer()
        tok.fit_on_texts(lines)
        return pad_sequences(tok.texts_to_sequences(lines), padding="post").astype(np.int32), tok

    x, en = ids("small_vocab_en", 512)
    y, fr = ids("small_vocab_fr", 512)
    lstmkit.utils.set_random_seed(3)
    model = lstmkit.Sequential([
        Input(shape=(x.shape[1],), dtype="int32"),
        Embedding(len(en.word_index) + 1, 16, mask_zero=True), LSTM(32),
        RepeatVector(y.shape[1]), LSTM(32, return_sequences=True),
        TimeDistributed(Dense(len(fr.word_index) + 1, activation="softmax"))])
    return digest(model, fit_and_predict(model, "sparse_categorical_crossentropy", x, y, 64))


def temperature_windows(window=30, rows=1200):
    import pandas as pd
    temps = pd.read_csv(DATA / "timeseries" / "daily-min-temperatures.csv")["Temp"]
    t = temps.to_numpy(dtype=np.float32)[:rows + window + 1]
    t = (t - t.mean()) / t.std()
    x = np.stack([t[i:i + window] for i in range(rows)])[:, :, None]
    y = t[window:window + rows].reshape(-1, 1)
    return x.astype(np.float32), y.astype(np.float32)


def model_temperatures(x, y):
    lstmkit.utils.set_random_seed(4)
    model = lstmkit.Sequential([Input(shape=x.shape[1:]), LSTM(16), Dense(1)])
    return digest(model, fit_and_predict(model, "mse", x, y, 32, epochs=2))


def model_temperatures_stateful(x, y):
    lstmkit.utils.set_random_seed(5)
    model = lstmkit.Sequential([Input(shape=x.shape[1:], batch_size=8), LSTM(8, stateful=True),
                                Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x[:256], y[:256], batch_size=8, epochs=1, shuffle=False, seed=9, verbose=0)
    first = model.predict(x[:16], batch_size=8, verbose=0)
    second = model.predict(x[:16], batch_size=8, verbose=0)  # carries the state on
    model.reset_states()
    third = model.predict(x[:16], batch_size=8, verbose=0)
    return digest(model, [first, second, third])


def main():
    xi, yi = imdb()
    xt, yt = temperature_windows()
    results = [
        ("imdb_lstm", model_imdb(xi, yi, bidirectional=False)),
        ("imdb_bilstm", model_imdb(xi, yi, bidirectional=True)),
        ("rotten_tomatoes", model_rotten()),
        ("translate_en_fr", model_translate()),
        ("temperatures", model_temperatures(xt, yt)),
        ("temperatures_stateful", model_temperatures_stateful(xt, yt)),
    ]
    total = hashlib.sha256()
    for name, h in results:
        print("%-22s %s" % (name, h))
        total.update(h.encode())
    print("%-22s %s" % ("all", total.hexdigest()))


if __name__ == "__main__":
    main()
