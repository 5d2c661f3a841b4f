import os
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))  # the package, when it is not pip-installed

import lstmkit  # noqa: E402
from lstmkit.layers import LSTM, Dense, Embedding  # noqa: E402
from lstmkit.sequence import pad_sequences  # noqa: E402
from lstmkit.text import Tokenizer  # noqa: E402

# The small IMDB setting shared by the training, file and C-example tests.
IMDB_TRAIN_ROWS = 2000
IMDB_HELD_OUT_ROWS = 1000
NUM_WORDS = 1000
MAXLEN = 100


def data_dir():
    return Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def imdb():
    """The first 3,000 IMDB rows as (reviews, labels float32 1 = positive)."""
    pd = pytest.importorskip("pandas")
    path = data_dir() / "imdb" / "IMDB_Dataset.csv"
    if not path.is_file():
        pytest.skip("IMDB data not found at %s (set LSTMKIT_DATA)" % path)
    frame = pd.read_csv(path, nrows=IMDB_TRAIN_ROWS + IMDB_HELD_OUT_ROWS)
    labels = (frame["sentiment"] == "positive").to_numpy(dtype=np.float32)
    return frame["review"], labels


class TrainedImdb:
    """A tiny model trained once per session on the first 2,000 reviews."""

    def __init__(self, reviews, labels):
        lstmkit.utils.set_random_seed(1234)
        self.tokenizer = Tokenizer(num_words=NUM_WORDS)
        self.tokenizer.fit_on_texts(reviews[:IMDB_TRAIN_ROWS])
        x = pad_sequences(self.tokenizer.texts_to_sequences(reviews), maxlen=MAXLEN)
        self.x_train, self.y_train = x[:IMDB_TRAIN_ROWS], labels[:IMDB_TRAIN_ROWS]
        self.x_test, self.y_test = x[IMDB_TRAIN_ROWS:], labels[IMDB_TRAIN_ROWS:]
        self.test_reviews = list(reviews[IMDB_TRAIN_ROWS:])
        self.model = lstmkit.Sequential([Embedding(NUM_WORDS, 16), LSTM(16),
                                         Dense(1, activation="sigmoid")])
        self.model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        self.history = self.model.fit(self.x_train, self.y_train, epochs=2, batch_size=32,
                                      validation_split=0.1, verbose=0, seed=99)


@pytest.fixture(scope="session")
def trained(imdb):
    return TrainedImdb(*imdb)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)
