"""examples/c/classify, built with the C compiler against include/lstmkit.h and the release
library, loads a model saved from Python and must print the same probabilities Python's predict
gives for the same texts."""

import shutil
import subprocess

import numpy as np
import pytest

from conftest import MAXLEN, REPO
from lstmkit.sequence import pad_sequences


@pytest.fixture(scope="module")
def classify(tmp_path_factory):
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make or cc not installed")
    build = tmp_path_factory.mktemp("c-build")
    subprocess.run(["make", "-s", "-C", str(REPO / "examples" / "c"), "BUILD=%s" % build],
                   check=True, capture_output=True, text=True)
    return build / "classify"


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
