"""Five-class sentiment of Rotten Tomatoes phrases with an LSTM — the Kaggle "Sentiment Analysis
on Movie Reviews" tutorial, on lstmkit.

    python examples/python/rotten_tomatoes.py                            # 156,060 phrases, 8 epochs
    python examples/python/rotten_tomatoes.py --rows 5000 --epochs 2     # a quick run

Labels: 0 negative, 1 somewhat negative, 2 neutral, 3 somewhat positive, 4 positive. The last
10% of the rows are held out for validation; the file is ordered by sentence, so those are
mostly phrases of sentences the model never saw. Always answering "neutral" scores 0.49 there
with all rows; Keras 3 reaches a best val_accuracy of at least 0.60. Writes the loss and
accuracy curves (rotten_tomatoes_loss.png, rotten_tomatoes_accuracy.png) to --out.
"""

import re
import time

import numpy as np
import pandas as pd

import example_setup  # first: it finds lstmkit in a checkout
from example_setup import data_dir
from lstmkit.layers import LSTM, Dense, Embedding, Input
from lstmkit.models import Sequential
from lstmkit.preprocessing.sequence import pad_sequences
from lstmkit.preprocessing.text import Tokenizer
from lstmkit.utils import to_categorical

NUM_WORDS = 8192
NUM_CLASSES = 5
# Keras's default filters minus . , ! ? and the apostrophe: those stay as words of their own.
FILTERS = '"#$%&()*+-/:;<=>@[\\]^_`{|}~\t\n'
CONTRACTIONS = [("n't", " not"), ("'s", " is"), ("'re", " are"), ("'ve", " have"),
                ("'ll", " will"), ("'d", " would"), ("'m", " am")]


def clean_text(text):
    """Lowercase, expand the (Treebank-split) contractions, space out the punctuation."""
    text = text.lower()
    for short, long in CONTRACTIONS:
        text = text.replace(short, long)
    return re.sub(r"([^\w\s'])", r" \1 ", text)


def plot_history(history, out):
    """One PNG per metric: the training and validation curves over the epochs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history.epoch) + 1)
    paths = []
    for metric, title in (("loss", "Loss"), ("accuracy", "Accuracy")):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, history.history[metric], "o-", label="training")
        ax.plot(epochs, history.history["val_" + metric], "s-", label="validation")
        ax.set_title("Rotten Tomatoes LSTM: " + title.lower())
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(title.lower())
        ax.legend()
        fig.tight_layout()
        path = out / ("rotten_tomatoes_%s.png" % metric)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def main():
    parser = example_setup.parser(__doc__.splitlines()[0], epochs=8, batch_size=512,
                                  rows_help="use only the first ROWS phrases")
    args = example_setup.parse(parser)
    started = time.monotonic()

    # keep_default_na=False: phrases such as "null" or "NA" stay text, not NaN.
    data = pd.read_csv(data_dir() / "rotten_tomatoes" / "train.tsv", sep="\t", nrows=args.rows,
                       keep_default_na=False)
    phrases = data["Phrase"].map(clean_text)
    print("%d phrases; e.g. %r -> %r" % (len(data), data["Phrase"][0][:60], phrases[0][:60]))

    tokenizer = Tokenizer(num_words=NUM_WORDS, filters=FILTERS)
    tokenizer.fit_on_texts(phrases)
    x = pad_sequences(tokenizer.texts_to_sequences(phrases))  # pre-padded to the longest phrase
    y = to_categorical(data["Sentiment"], NUM_CLASSES)
    maxlen = x.shape[1]
    print("%d distinct words, longest phrase %d tokens" % (len(tokenizer.word_index), maxlen))

    model = Sequential([
        Input(shape=(maxlen,)),
        Embedding(NUM_WORDS, 256),
        LSTM(256, dropout=0.3, recurrent_dropout=0.3),
        Dense(256, activation="relu"),
        Dense(NUM_CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()

    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1)

    n_train = int(len(x) * 0.9)
    neutral = float(np.mean(data["Sentiment"].to_numpy()[n_train:] == 2))
    best = int(np.argmax(history.history["val_accuracy"]))
    print("Always 'neutral' on the validation rows: %.4f" % neutral)
    print("Best val_accuracy: %.4f (epoch %d)" % (history.history["val_accuracy"][best], best + 1))

    args.out.mkdir(parents=True, exist_ok=True)
    for path in plot_history(history, args.out):
        print("Wrote %s" % path)
    print("Wall time: %.0f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
