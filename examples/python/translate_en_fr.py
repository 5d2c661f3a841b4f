"""English to French with an encoder-decoder LSTM — the Udacity NLP capstone's model, on lstmkit.

    python examples/python/translate_en_fr.py                           # 137,860 pairs, 10 epochs
    python examples/python/translate_en_fr.py --rows 10000 --epochs 2   # a quick run

The word tokenizers are fitted on the whole corpus (so the model has the same size at any
--rows: English 200 / French 345 ids, sentences 15 / 21 words, 1,190,489 parameters, as Keras
counts them); --rows limits the sentence pairs used to train and test. The first 90% of those
train (10% of them held out for validation), the last 10% test.

Saves the model with both tokenizers to --out (translate_en_fr.lstmkit, for examples/c/translate).
Prints held-out token accuracy counting the padding (what Keras's "accuracy" reports; Keras 3
reaches at least 0.85 with all pairs and 10 epochs), accuracy on the real words only, the share of
sentences translated exactly, and a few test sentences decoded back to French.
"""

import time

import numpy as np

import example_setup  # first: it finds lstmkit in a checkout
from example_setup import data_dir
from lstmkit.layers import (LSTM, Dense, Embedding, Input, RepeatVector,
                            TimeDistributed)
from lstmkit.models import Sequential
from lstmkit.preprocessing.sequence import pad_sequences
from lstmkit.preprocessing.text import Tokenizer

UNITS = 256


def read_lines(path):
    # One sentence per LF-terminated line; the files end with a newline.
    with open(path, encoding="utf-8", newline="\n") as f:
        return f.read().rstrip("\n").split("\n")


def tokenize(sentences):
    """A word tokenizer over all sentences (Keras's filters drop the punctuation) and the
    sentences as ids, post-padded to the longest one."""
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(sentences)
    ids = pad_sequences(tokenizer.texts_to_sequences(sentences), padding="post")
    return tokenizer, ids


def keras_param_count(en_vocab, fr_vocab, units=UNITS):
    lstm = 4 * (units * units + units * units + units)  # kernel, recurrent_kernel, bias
    return en_vocab * units + lstm + lstm + (units + 1) * fr_vocab


def decode(ids, index_word):
    return " ".join(index_word[i] for i in ids if i != 0)


def main():
    parser = example_setup.parser(__doc__.splitlines()[0], epochs=10, batch_size=1024,
                                  rows_help=("use only the first ROWS sentence pairs "
                                             "(90%% train, 10%% test)"))
    parser.add_argument("--show", type=int, default=5, help="test sentences to print")
    args = example_setup.parse(parser)
    started = time.monotonic()

    english = read_lines(data_dir() / "translation" / "small_vocab_en")
    french = read_lines(data_dir() / "translation" / "small_vocab_fr")
    en_tokenizer, x = tokenize(english)
    fr_tokenizer, y = tokenize(french)
    en_vocab = len(en_tokenizer.word_index) + 1  # + the padding id 0
    fr_vocab = len(fr_tokenizer.word_index) + 1
    en_len, fr_len = x.shape[1], y.shape[1]
    print("English: %d ids, %d words per sentence; French: %d ids, %d words per sentence"
          % (en_vocab, en_len, fr_vocab, fr_len))

    rows = min(args.rows or len(x), len(x))
    n_train = rows * 9 // 10
    x_train, y_train = x[:n_train], y[:n_train]
    x_test, y_test = x[n_train:rows], y[n_train:rows]
    print("%d training pairs, %d test pairs" % (len(x_train), len(x_test)))

    model = Sequential([
        Input(shape=(en_len,)),
        Embedding(en_vocab, UNITS, mask_zero=True),
        LSTM(UNITS),
        RepeatVector(fr_len),
        LSTM(UNITS, return_sequences=True),
        TimeDistributed(Dense(fr_vocab, activation="softmax")),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    print("Parameters: %d (Keras counts %d for these vocabularies)"
          % (model.count_params(), keras_param_count(en_vocab, fr_vocab)))

    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test, batch_size=args.batch_size)
    predicted = model.predict(x_test, batch_size=args.batch_size, verbose=0).argmax(axis=-1)
    words = y_test != 0
    print("Test loss: %.4f" % loss)
    print("Test token accuracy, padding included (Keras's accuracy): %.4f" % accuracy)
    print("Test token accuracy, real words only: %.4f" % np.mean(predicted[words] == y_test[words]))
    print("Test sentences translated exactly: %.4f" % np.mean(np.all(predicted == y_test, axis=1)))

    # Saved with both tokenizers and the English padding, examples/c/translate reads it:
    #   echo "paris is never cold during june" | examples/c/build/translate out/translate_en_fr.lstmkit
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "translate_en_fr.lstmkit", tokenizer=en_tokenizer,
               target_tokenizer=fr_tokenizer, padding=dict(maxlen=en_len, padding="post"))
    print("Saved the model with both tokenizers to %s" % (args.out / "translate_en_fr.lstmkit"))

    en_words, fr_words = en_tokenizer.index_word, fr_tokenizer.index_word
    for i in range(min(args.show, len(x_test))):
        print()
        print("  English:    %s" % decode(x_test[i], en_words))
        print("  Reference:  %s" % decode(y_test[i], fr_words))
        print("  Translated: %s" % decode(predicted[i], fr_words))
    print()
    print("Wall time: %.0f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
