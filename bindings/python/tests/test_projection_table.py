"""Predict and evaluate look an Embedding-fed recurrent layer's input projection up in a table
(Layers/ProjectionTable.swift) once the ids projected since the weights last changed are as many
as the vocabulary. The first batches below project the plain way and the later ones by table;
every prediction must match the NumPy reference, before and after each way the weights change:
set_weights, fit, load."""
import numpy as np
import pytest

import lstmkit
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from test_recurrent_reference import reference_predict

VOCAB, STEPS = 30, 9


def ids(rng, rows, pre_padding):
    """Random ids; with pre_padding the rows start with 0..STEPS-1 padding zeros (unmasked, so
    the rows share the padding's trajectory: the shared row's id comes from the table too)."""
    x = rng.integers(1, VOCAB, size=(rows, STEPS)).astype(np.int32)
    if pre_padding:
        for r in range(rows):
            x[r, :r % STEPS] = 0
    return x


CASES = [
    ("lstm", lambda: LSTM(5), {}),
    ("gru", lambda: GRU(5), {}),
    ("gru", lambda: GRU(5, reset_after=False), {"reset_after": False}),
    ("simple_rnn", lambda: SimpleRNN(5), {}),
    ("lstm", lambda: LSTM(5, go_backwards=True), {"go_backwards": True}),
    ("bidirectional_lstm", lambda: Bidirectional(LSTM(5)), {"merge_mode": "concat"}),
]


def build(make):
    model = lstmkit.Sequential([lstmkit.Input(shape=(STEPS,), dtype="int32"), Embedding(VOCAB, 4),
                                make(), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.mark.parametrize("pre_padding", [False, True])
@pytest.mark.parametrize("kind,make,opts", CASES, ids=[c[0] + str(i) for i, c in enumerate(CASES)])
def test_predictions_follow_set_weights(kind, make, opts, pre_padding, rng):
    model = build(make)
    spec = [("embedding", {}), (kind, opts), ("dense", {})]
    x = ids(rng, 24, pre_padding)
    for _ in range(3):
        weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
        model.set_weights(weights)
        want = reference_predict(spec, weights, x)
        # batch 1 first: 9 ids a batch, so the table comes in at the fourth row
        for batch_size in (1, 8, 24):
            got = model.predict(x, batch_size=batch_size, verbose=0)
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


def test_predictions_follow_training_and_loading(rng, tmp_path):
    model = build(lambda: Bidirectional(LSTM(5)))
    spec = [("embedding", {}), ("bidirectional_lstm", {"merge_mode": "concat"}), ("dense", {})]
    x = ids(rng, 48, True)
    y = rng.normal(size=(48, 2)).astype(np.float32)
    for _ in range(2):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        want = reference_predict(spec, model.get_weights(), x)
        for _ in range(2):
            np.testing.assert_allclose(model.predict(x, batch_size=16, verbose=0), want, rtol=0, atol=2e-5)
        # evaluate is forward-only too: its loss is the reference's
        loss = model.evaluate(x, y, batch_size=16, verbose=0)
        loss = loss[0] if isinstance(loss, (list, tuple)) else loss
        assert loss == pytest.approx(float(np.mean((want - y) ** 2)), rel=1e-4)
    path = tmp_path / "m.lstmkit"
    model.save(path)
    loaded = lstmkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, batch_size=16, verbose=0),
                               reference_predict(spec, model.get_weights(), x), rtol=0, atol=2e-5)
