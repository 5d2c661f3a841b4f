"""Trains Keras 3 and lstmkit side by side from the same initial weights on the same real IMDB
batches (no shuffling) and prints how far apart their losses, weights and predictions end up.
It answers "is lstmkit computing what Keras computes?" with the real recipe instead of a unit
test's toy sizes. Run it in the peers' virtualenv, which has Keras and numpy:

    bench/.venv-peers/bin/python bench/keras_equivalence.py [--rows 3200] [--batches 40]

(bench/run.sh creates that virtualenv.) Same-weight training diverges only through float
rounding, which Adam amplifies where a gradient is near zero, so the figures to read are the
loss curves and the held-out predictions, not bit equality.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import lstmkit  # noqa: E402
import lstmkit.optimizers  # noqa: E402
from lstmkit.callbacks import Callback  # noqa: E402
from lstmkit.preprocessing.sequence import pad_sequences  # noqa: E402
from lstmkit.preprocessing.text import Tokenizer  # noqa: E402


def data_dir():
    return Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3200, help="training rows (then 1000 held out)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"],
                        help="sgd (learning rate 0.5) is linear in the gradients, so it shows "
                             "gradient differences that Adam's normalisation would blow up")
    args = parser.parse_args()

    import keras  # noqa: E402  (the peers' Keras 3)

    frame = pd.read_csv(data_dir() / "imdb" / "IMDB_Dataset.csv", nrows=args.rows + 1000)
    y = (frame["sentiment"] == "positive").to_numpy(dtype=np.float32)
    tokenizer = Tokenizer(num_words=5000)
    tokenizer.fit_on_texts(frame["review"][:args.rows])
    x = pad_sequences(tokenizer.texts_to_sequences(frame["review"]), maxlen=600)
    x_train, y_train, x_test = x[:args.rows], y[:args.rows], x[args.rows:]

    keras.utils.set_random_seed(1)
    reference = keras.Sequential([keras.Input(shape=(600,), dtype="int32"),
                                  keras.layers.Embedding(5001, 32), keras.layers.LSTM(100),
                                  keras.layers.Dense(1, activation="sigmoid")])
    def optimizer(module):
        return module.optimizers.SGD(learning_rate=0.5) if args.optimizer == "sgd" else "adam"

    reference.compile(optimizer=optimizer(keras), loss="binary_crossentropy", metrics=["accuracy"])
    ours = lstmkit.Sequential([lstmkit.layers.Embedding(5001, 32), lstmkit.layers.LSTM(100),
                               lstmkit.layers.Dense(1, activation="sigmoid")])
    ours.compile(optimizer=optimizer(lstmkit), loss="binary_crossentropy", metrics=["accuracy"])
    ours.predict(x_train[:1], verbose=0)        # builds the weights
    initial = reference.get_weights()
    ours.set_weights(initial)                   # Keras's order and layout, unchanged
    start = ours.predict(x_test, verbose=0)[:, 0]
    start_ref = reference.predict(x_test, verbose=0)[:, 0]
    print("before training: largest prediction difference %.2e" % np.abs(start - start_ref).max())

    class Losses(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.values = []

        def on_train_batch_end(self, batch, logs=None):
            self.values.append(float(logs["loss"]))

    class OurLosses(Callback):
        def __init__(self):
            super().__init__()
            self.values = []

        def on_train_batch_end(self, batch, logs=None):
            self.values.append(float(logs["loss"]))

    ref_losses, our_losses = Losses(), OurLosses()
    reference.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=False,
                  verbose=0, callbacks=[ref_losses])
    ours.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=False,
             verbose=0, callbacks=[our_losses])

    print("running mean training loss every 10 batches (Keras | lstmkit):")
    for i in range(9, len(ref_losses.values), 10):
        print("  batch %4d   %.5f | %.5f" % (i + 1, ref_losses.values[i], our_losses.values[i]))
    p_ref = reference.predict(x_test, verbose=0)[:, 0]
    p_ours = ours.predict(x_test, verbose=0)[:, 0]
    y_test = y[args.rows:]
    print("held-out accuracy: Keras %.4f, lstmkit %.4f" % (((p_ref > 0.5) == y_test).mean(),
                                                          ((p_ours > 0.5) == y_test).mean()))
    print("held-out predictions: largest difference %.3f, mean %.4f, correlation %.4f"
          % (np.abs(p_ref - p_ours).max(), np.abs(p_ref - p_ours).mean(),
             np.corrcoef(p_ref, p_ours)[0, 1]))
    print("how far the two trainings moved each weight apart, relative to how far Keras moved it:")
    for (name, a), b, w0 in zip(zip(ours._weight_names(), ours.get_weights()),
                                reference.get_weights(), initial):
        print("  %-28s %.2e" % (name, np.linalg.norm(a - b) / max(np.linalg.norm(b - w0), 1e-12)))
        if name.endswith("embeddings"):
            # row 0 is the padding id: most lookups, and the one the padding skip treats specially
            print("  %-28s %.2e" % ("  row 0 (padding)", np.linalg.norm(a[0] - b[0])
                                    / max(np.linalg.norm(b[0] - w0[0]), 1e-12)))


if __name__ == "__main__":
    main()
