"""The tutorials in examples/python, each run as a script on a slice of its data.

Every run is seeded, small (a few seconds on 2 cores) and checked for something that would go
wrong if the example or the engine broke: Keras's parameter counts, a loss that falls, a
forecast better than a trivial one, PNG files that decode, translations made of French words.
"""

import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, data_dir

import lstmkit

EXAMPLES = REPO / "examples" / "python"
pytest.importorskip("pandas")


def need(*relative):
    for rel in relative:
        if not (data_dir() / rel).is_file():
            pytest.skip("dataset %s not found under %s (set LSTMKIT_DATA)" % (rel, data_dir()))


def run(script, tmp_path, *args):
    """Runs an example with the test's data folder; returns its standard output."""
    env = dict(os.environ, LSTMKIT_DATA=str(data_dir()), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(tmp_path),
                           "--seed", "7"] + [str(a) for a in args],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (script, proc.stdout[-3000:],
                                                         proc.stderr[-3000:])
    return proc.stdout


def number(pattern, text):
    match = re.search(pattern, text)
    assert match, "no match for %r in:\n%s" % (pattern, text[-3000:])
    return float(match.group(1))


def epoch_values(key, text):
    """The per-epoch values of `key` from fit's progress lines ("... - loss: 0.6931 - ...")."""
    return [float(v) for v in re.findall(r"^\d+/\d+ - .* - %s: ([0-9.e+-]+)" % re.escape(key),
                                         text, flags=re.M)]


def check_png(path, min_size=(200, 150)):
    """A real PNG: the signature, an IHDR of a sensible size, and pixels that decode and vary."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_size[0] and height >= min_size[1], (width, height)
    assert data[-8:-4] == b"IEND"
    image = pytest.importorskip("matplotlib.image")
    pixels = image.imread(str(path))
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.01  # not a blank canvas


def load_example(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(EXAMPLES))


# ---- forecast_temperatures.py ----

def test_forecast_beats_the_mean_and_plots(tmp_path):
    need("timeseries/daily-min-temperatures.csv")
    out = run("forecast_temperatures.py", tmp_path, "--rows", 900, "--epochs", 4)
    assert "Total params: 4,385" in out  # LSTM(32) on one feature + Dense(1), as Keras counts
    losses = epoch_values("loss", out)
    assert len(losses) == 4 and losses[-1] < losses[0]
    lstm = number(r"Test RMSE, LSTM: +([0-9.]+)", out)
    mean = number(r"Test RMSE, mean: +([0-9.]+)", out)
    persistence = number(r"Test RMSE, persistence: +([0-9.]+)", out)
    assert 2.0 < persistence < 3.5  # the data's own figure, independent of the model
    assert lstm < mean, "the LSTM forecast (%.3f) is no better than the mean (%.3f)" % (lstm, mean)
    check_png(tmp_path / "forecast_temperatures.png")


def test_forecast_windows():
    forecast = load_example("forecast_temperatures")
    series = np.arange(40, dtype="float64")
    x, y = forecast.windows(series, window=30)
    assert x.shape == (10, 30, 1) and y.shape == (10,)
    assert x.dtype == np.float32
    assert x[0, :, 0].tolist() == list(range(30)) and y[0] == 30
    assert x[-1, -1, 0] == 38 and y[-1] == 39


# ---- imdb_bilstm.py ----

def test_imdb_bilstm_runs_and_saves(tmp_path):
    need("imdb/IMDB_Dataset.csv")
    out = run("imdb_bilstm.py", tmp_path, "--rows", 1000, "--epochs", 1)
    assert "900 training reviews, 100 test reviews" in out
    # Embedding(10000, 64) 640,000 + Bidirectional(LSTM(64)) 2 * 33,024 + Dense(1) 129.
    assert "Total params: 706,177" in out
    assert re.search(r"bidirectional \(Bidirectional\)\s+│ \(None, 128\)", out)
    assert 0.0 <= number(r"Test accuracy: ([0-9.]+)", out) <= 1.0
    model = lstmkit.load_model(tmp_path / "imdb_bilstm.lstmkit")
    assert model.count_params() == 706177
    tokenizer = model.tokenizer
    assert tokenizer.num_words == 10000
    x = lstmkit.sequence.pad_sequences(
        tokenizer.texts_to_sequences(["a wonderful film", "a dreadful waste of time"]), maxlen=200)
    p = model.predict(x, verbose=0)
    assert p.shape == (2, 1) and np.all((p > 0) & (p < 1))


# ---- rotten_tomatoes.py ----

def test_rotten_tomatoes_clean_text():
    rt = load_example("rotten_tomatoes")
    assert rt.clean_text("It 's not bad , but it does n't work !").split() == \
        ["it", "is", "not", "bad", ",", "but", "it", "does", "not", "work", "!"]
    assert rt.clean_text("They 're fine -- really ?").split() == \
        ["they", "are", "fine", "-", "-", "really", "?"]


def test_rotten_tomatoes_longest_phrase_is_53_tokens():
    need("rotten_tomatoes/train.tsv")
    import pandas as pd
    rt = load_example("rotten_tomatoes")
    data = pd.read_csv(data_dir() / "rotten_tomatoes" / "train.tsv", sep="\t",
                       keep_default_na=False)
    phrases = data["Phrase"].map(rt.clean_text)
    tokenizer = lstmkit.text.Tokenizer(num_words=rt.NUM_WORDS, filters=rt.FILTERS)
    tokenizer.fit_on_texts(phrases)
    x = lstmkit.sequence.pad_sequences(tokenizer.texts_to_sequences(phrases))
    assert x.shape == (156060, 53)
    assert x.max() < rt.NUM_WORDS


def test_rotten_tomatoes_learns_and_plots(tmp_path):
    need("rotten_tomatoes/train.tsv")
    out = run("rotten_tomatoes.py", tmp_path, "--rows", 1500, "--epochs", 2)
    # Embedding(8192, 256) + LSTM(256) + Dense(256) + Dense(5), whatever the slice's vocabulary.
    assert "Total params: 2,689,541" in out
    losses = epoch_values("loss", out)
    assert len(losses) == 2 and losses[1] < losses[0] < 1.7  # ln 5 = 1.609 at the start
    assert len(epoch_values("val_accuracy", out)) == 2
    assert 0.0 < number(r"Best val_accuracy: ([0-9.]+)", out) <= 1.0
    for name in ("rotten_tomatoes_loss.png", "rotten_tomatoes_accuracy.png"):
        check_png(tmp_path / name)


# ---- translate_en_fr.py ----

def test_translate_counts_and_decodes(tmp_path):
    need("translation/small_vocab_en", "translation/small_vocab_fr")
    out = run("translate_en_fr.py", tmp_path, "--rows", 2000, "--epochs", 1, "--batch-size", 64,
              "--show", 20)
    assert "English: 200 ids, 15 words per sentence; French: 345 ids, 21 words" in out
    assert "Total params: 1,190,489" in out
    assert "Parameters: 1190489 (Keras counts 1190489 for these vocabularies)" in out
    assert re.search(r"time_distributed \(TimeDistributed\)\s+│ \(None, 21, 345\)", out)
    padded = number(r"padding included \(Keras's accuracy\): ([0-9.]+)", out)
    words = number(r"real words only: ([0-9.]+)", out)
    assert 0.0 < padded <= 1.0 and 0.0 <= words <= 1.0
    assert 0.0 <= number(r"translated exactly: ([0-9.]+)", out) <= 1.0

    translate = load_example("translate_en_fr")
    fr_tokenizer, _ = translate.tokenize(
        translate.read_lines(data_dir() / "translation" / "small_vocab_fr"))
    french_words = set(fr_tokenizer.word_index)
    references = re.findall(r"^  Reference:  (.*)$", out, flags=re.M)
    translated = re.findall(r"^  Translated: ?(.*)$", out, flags=re.M)
    assert len(references) == len(translated) == 20
    for line in references:
        assert line.split() and set(line.split()) <= french_words
    produced = [w for line in translated for w in line.split()]
    assert produced, "the model translated nothing into words"
    assert set(produced) <= french_words
    saved = lstmkit.models.load_model(tmp_path / "translate_en_fr.lstmkit")
    assert set(saved.target_tokenizer.word_index) == french_words
    assert saved.text_padding == {"maxlen": 15, "padding": "post", "truncating": "pre", "value": 0}


def test_translate_decode_round_trip():
    need("translation/small_vocab_en", "translation/small_vocab_fr")
    translate = load_example("translate_en_fr")
    french = translate.read_lines(data_dir() / "translation" / "small_vocab_fr")
    assert len(french) == 137860
    tokenizer, ids = translate.tokenize(french)
    assert ids.shape == (137860, 21) and ids[:, -1].max() > 0  # post-padded, longest fills it
    assert ids[0, -1] == 0
    # Keras's filters drop the punctuation; what remains decodes word for word.
    assert translate.decode(ids[0], tokenizer.index_word) == \
        "new jersey est parfois calme pendant l' automne et il est neigeux en avril"
    assert translate.keras_param_count(200, 345) == 1190489
