"""Sentiment analysis of IMDB reviews with an LSTM — the classic Keras tutorial, on lstmkit.

    python examples/python/imdb_lstm.py                 # the full 50,000 reviews, 3 epochs
    python examples/python/imdb_lstm.py --rows 2000 --epochs 1   # a quick run

Writes to --out (default <repo>/out): the trained model with its tokenizer
(imdb_lstm.lstmkit), the first 100 test reviews one per line (imdb_test_100.txt) and this
script's predictions for them (imdb_test_100.python.txt). Then it builds the C example
(examples/c/classify.c, against include/lstmkit.h and the same library), runs it on the saved
model and the 100 reviews, and checks that C prints the same probabilities (--no-c skips this).
"""

import shutil
import subprocess
import sys

import pandas as pd

import example_setup  # first: it finds lstmkit in a checkout
from example_setup import REPO, data_dir
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential
from lstmkit.preprocessing.sequence import pad_sequences
from lstmkit.preprocessing.text import Tokenizer


def main():
    parser = example_setup.parser(__doc__.splitlines()[0], epochs=3,
                                  rows_help=("use only the first ROWS reviews "
                                             "(half to train, half to test)"))
    parser.add_argument("--no-c", action="store_true", help="skip the check with the C example")
    args = example_setup.parse(parser)

    # Load the data: 50,000 reviews labelled positive/negative.
    data = pd.read_csv(data_dir() / "imdb" / "IMDB_Dataset.csv", nrows=args.rows)
    data["sentiment"] = (data["sentiment"] == "positive").astype("float32")
    half = len(data) // 2
    train_data, test_data = data.iloc[:half], data.iloc[half:]

    # Turn each review into a sequence of word ids (the 5,000 most frequent words), padded
    # at the front to 600 words.
    tokenizer = Tokenizer(num_words=5000)
    tokenizer.fit_on_texts(train_data["review"])
    x_train = pad_sequences(tokenizer.texts_to_sequences(train_data["review"]), maxlen=600)
    x_test = pad_sequences(tokenizer.texts_to_sequences(test_data["review"]), maxlen=600)
    y_train = train_data["sentiment"].to_numpy()
    y_test = test_data["sentiment"].to_numpy()

    # Embedding -> LSTM -> a sigmoid unit for "positive".
    model = Sequential([
        Embedding(5001, 32),
        LSTM(100),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.summary()

    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test)
    print("Test accuracy: %.4f" % accuracy)

    # Save the model with its tokenizer and how texts are padded, plus a sample for
    # examples/c/classify to check. predict_texts (here, and lstmkit_model_predict_texts in C)
    # then goes from raw reviews to probabilities in one call.
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "imdb_lstm.lstmkit", tokenizer=tokenizer,
               padding=dict(maxlen=600, padding="pre", truncating="pre"))
    sample = test_data["review"].iloc[:100].tolist()
    with open(args.out / "imdb_test_100.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(review + "\n" for review in sample)
    predictions = model.predict_texts(sample, verbose=0)
    with open(args.out / "imdb_test_100.python.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines("%.9g\n" % p for p in predictions[:, 0])
    print("Saved the model and a 100-review sample to %s" % args.out)
    if not args.no_c:
        check_with_c(args.out, predictions[:, 0])


def check_with_c(out, python_predictions):
    """Classifies the saved sample with the C program and compares with Python's predictions."""
    if shutil.which("make") is None or shutil.which("cc") is None:
        print("C check skipped: make and a C compiler are needed (scripts/setup.sh installs them)")
        return
    build = out / "c-build"
    subprocess.run(["make", "-s", "-C", str(REPO / "examples" / "c"), "BUILD=%s" % build], check=True)
    done = subprocess.run([str(build / "classify"), str(out / "imdb_lstm.lstmkit"),
                           str(out / "imdb_test_100.txt")], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("C example failed: %s" % done.stderr.strip())
    from_c = [float(line) for line in done.stdout.split()]
    if len(from_c) != len(python_predictions):
        sys.exit("C example printed %d values for %d reviews" % (len(from_c), len(python_predictions)))
    worst = max(abs(c - p) for c, p in zip(from_c, python_predictions))
    print("C example (examples/c/classify) on the same 100 reviews: largest difference from "
          "Python's predictions %.2g" % worst)
    if worst > 1e-6:
        sys.exit("C and Python disagree by more than 1e-6")


if __name__ == "__main__":
    main()
