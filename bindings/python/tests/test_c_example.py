"""examples/c/classify and examples/c/translate, built with the C compiler against
include/lstmkit.h and the release library, load models saved from Python and must print what
Python computes for the same texts: the same probabilities, the same French words."""

import shutil
import subprocess

import lstmkit

import numpy as np
import pytest

from conftest import MAXLEN, REPO, data_dir
from lstmkit.layers import LSTM, Dense, Embedding, Input, RepeatVector, TimeDistributed
from lstmkit.models import load_model
from lstmkit.sequence import pad_sequences
from lstmkit.text import Tokenizer


@pytest.fixture(scope="module")
def c_build(tmp_path_factory):
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make or cc not installed")
    build = tmp_path_factory.mktemp("c-build")
    subprocess.run(["make", "-s", "-C", str(REPO / "examples" / "c"), "BUILD=%s" % build],
                   check=True, capture_output=True, text=True)
    return build


@pytest.fixture(scope="module")
def classify(c_build):
    return c_build / "classify"


@pytest.fixture(scope="module")
def translate(c_build):
    return c_build / "translate"


def test_c_program_reproduces_python_predictions(classify, trained, tmp_path):
    model_path = tmp_path / "imdb.lstmkit"
    trained.model.save(model_path, tokenizer=trained.tokenizer)
    texts = trained.test_reviews[:100]
    texts_path = tmp_path / "texts.txt"
    texts_path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")

    done = subprocess.run([str(classify), str(model_path), str(texts_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from_c = np.array([float(line) for line in done.stdout.split()])

    x = pad_sequences(trained.tokenizer.texts_to_sequences(texts), maxlen=MAXLEN)
    from_python = trained.model.predict(x, verbose=0)[:, 0]
    assert from_c.shape == (100,)
    np.testing.assert_allclose(from_c, from_python, rtol=0, atol=1e-6)
    assert from_python.std() > 1e-3   # a trained model, not a constant


def test_c_program_reports_a_missing_model_cleanly(classify, tmp_path):
    done = subprocess.run([str(classify), str(tmp_path / "absent.lstmkit")], input="a text\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "absent.lstmkit" in done.stderr and "classify:" in done.stderr


def test_c_program_reads_stdin_with_the_saved_padding(classify, trained, tmp_path):
    """Reviews on standard input, one of them 200 KB long and two with no known word; the model
    saved with post padding, which classify must use (it gives other values than pre)."""
    model_path = tmp_path / "imdb_post.lstmkit"
    trained.model.save(model_path, tokenizer=trained.tokenizer,
                       padding=dict(padding="post", truncating="post"))
    texts = trained.test_reviews[:40]
    texts = texts[:5] + [" ".join(texts[:3]) * 60, "", "zzzq qqqz"] + texts[5:]
    assert len(texts[5].encode()) > 100_000
    done = subprocess.run([str(classify), str(model_path)], input="".join(t + "\n" for t in texts),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from_c = np.array([float(line) for line in done.stdout.split()], dtype=np.float32)
    loaded = load_model(model_path)
    with pytest.warns(UserWarning, match="2 of 43 texts"):
        from_python = loaded.predict_texts(texts, batch_size=64, verbose=0)[:, 0]
    # %.9g prints a float32 exactly, and C runs the same batches: the same bits.
    assert np.array_equal(from_c, from_python)
    pre = trained.model.predict(pad_sequences(trained.tokenizer.texts_to_sequences(texts), maxlen=MAXLEN),
                                batch_size=64, verbose=0)[:, 0]
    assert not np.allclose(from_c, pre, atol=1e-4)
    assert "line 7 has no word" in done.stderr and "line 8 has no word" in done.stderr
    assert done.stderr.count("has no word") == 2


def read_lines(path, n):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [next(f).rstrip("\n") for _ in range(n)]


def test_translate_prints_pythons_decoding(translate, tmp_path):
    """A tiny English -> French model trained on a slice of small_vocab_en/fr, saved with both
    tokenizers; translate must print the words Python decodes from the same model's argmax."""
    en_path = data_dir() / "translation" / "small_vocab_en"
    if not en_path.is_file():
        pytest.skip("translation data not found at %s (set LSTMKIT_DATA)" % en_path)
    english = read_lines(en_path, 1600)
    french = read_lines(data_dir() / "translation" / "small_vocab_fr", 1600)
    en_tok, fr_tok = Tokenizer(), Tokenizer()
    en_tok.fit_on_texts(english)
    fr_tok.fit_on_texts(french)
    x = pad_sequences(en_tok.texts_to_sequences(english), padding="post")
    y = pad_sequences(fr_tok.texts_to_sequences(french), padding="post")
    en_len, fr_len = x.shape[1], y.shape[1]
    fr_vocab = len(fr_tok.word_index) + 1
    lstmkit.utils.set_random_seed(7)
    model = lstmkit.Sequential([
        Input(shape=(en_len,)),
        Embedding(len(en_tok.word_index) + 1, 64, mask_zero=True),
        LSTM(64),
        RepeatVector(fr_len),
        LSTM(64, return_sequences=True),
        TimeDistributed(Dense(fr_vocab, activation="softmax")),
    ])
    model.compile(optimizer={"class_name": "adam", "learning_rate": 0.01},
                  loss="sparse_categorical_crossentropy")
    model.fit(x[:1500], y[:1500], epochs=20, batch_size=64, verbose=0, seed=3)
    path = tmp_path / "en_fr.lstmkit"
    model.save(path, tokenizer=en_tok, target_tokenizer=fr_tok, padding=dict(padding="post"))

    sentences = english[1500:1600]
    done = subprocess.run([str(translate), str(path)], input="".join(s + "\n" for s in sentences),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from_c = done.stdout.split("\n")
    assert from_c[-1] == "" and len(from_c) == 101
    # Python's decoding, written out: argmax per step, index_word, padding dropped.
    probs = model.predict(pad_sequences(en_tok.texts_to_sequences(sentences), maxlen=en_len,
                                        padding="post"), batch_size=64, verbose=0)
    index_word = fr_tok.index_word
    from_python = [" ".join(index_word[i] for i in row if i != 0) for row in probs.argmax(axis=-1)]
    assert from_c[:-1] == from_python
    assert len(set(from_python)) > 20 and all(from_python)   # a model that says something


def test_translate_refuses_a_model_without_a_target_tokenizer(translate, trained, tmp_path):
    path = tmp_path / "imdb.lstmkit"
    trained.model.save(path, tokenizer=trained.tokenizer)
    done = subprocess.run([str(translate), str(path)], input="a text\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "translate:" in done.stderr and "target tokenizer" in done.stderr
