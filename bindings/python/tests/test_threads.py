"""The engine splits each batch over its worker threads (LSTMKIT_NUM_THREADS); the split must
not change what training computes beyond float rounding. Each thread count runs in its own
process, since the pool is sized once per process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, %r)
import lstmkit
import lstmkit.optimizers
from lstmkit.layers import Embedding, LSTM, GRU, Bidirectional, TimeDistributed, Dense
lstmkit.utils.set_random_seed(5)
rng = np.random.default_rng(7)
x = rng.integers(0, 50, size=(96, 12)).astype(np.int32)
x[:, :4] = 0   # padding, masked in the second model
if %r == "lstm":
    y = (rng.random(96) < 0.5).astype(np.float32)
    model = lstmkit.Sequential([Embedding(50, 8), LSTM(6, return_sequences=True), LSTM(5),
                                Dense(3, activation="tanh"), Dense(1, activation="sigmoid")])
    loss = "binary_crossentropy"
else:
    y = rng.integers(0, 3, size=(96, 12)).astype(np.int32)
    model = lstmkit.Sequential([Embedding(50, 8, mask_zero=True),
                                Bidirectional(GRU(5, return_sequences=True)),
                                TimeDistributed(Dense(3, activation="softmax"))])
    loss = "sparse_categorical_crossentropy"
# A large epsilon keeps Adam's update linear in the gradient: with the default, a gradient that
# rounding alone moves across zero flips its update between +lr and -lr.
model.compile(optimizer=lstmkit.optimizers.Adam(learning_rate=0.05, epsilon=1.0),
              loss=loss, metrics=["accuracy"])
history = model.fit(x, y, epochs=2, batch_size=48, verbose=0, seed=3)
out = {"weights": [w.ravel().tolist() for w in model.get_weights()],
       "predictions": model.predict(x, batch_size=96, verbose=0).ravel().tolist(),
       "loss": history.history["loss"]}
print(json.dumps(out))
"""


def run_with_threads(n, model):
    env = dict(os.environ, LSTMKIT_NUM_THREADS=str(n))
    done = subprocess.run([sys.executable, "-c", SCRIPT % (str(HERE.parent), model)], env=env,
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.parametrize("model", ["lstm", "masked_bidirectional_gru"])
def test_batch_split_over_threads_trains_the_same_weights(model):
    one, two, four = (run_with_threads(n, model) for n in (1, 2, 4))
    for other in (two, four):
        for a, b in zip(one["weights"], other["weights"]):
            np.testing.assert_allclose(a, b, rtol=0, atol=2e-5)
        np.testing.assert_allclose(one["predictions"], other["predictions"], rtol=0, atol=2e-5)
        np.testing.assert_allclose(one["loss"], other["loss"], rtol=1e-5)
    # the model did learn something, so the comparison is not between untouched weights
    assert one["loss"][1] != one["loss"][0]
