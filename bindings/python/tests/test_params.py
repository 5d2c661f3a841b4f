"""Parameter counts and weight layout, from Keras's formulas:
Embedding V*D; LSTM 4*(H*(D+H)+H); Dense D*U+U (D*U without bias)."""

import numpy as np

import lstmkit
from lstmkit.layers import LSTM, Dense, Dropout, Embedding, Input


def embedding_params(v, d):
    return v * d


def lstm_params(d, h):
    return 4 * (h * (d + h) + h)


def dense_params(d, u, bias=True):
    return d * u + (u if bias else 0)


def imdb_model():
    return lstmkit.Sequential([Embedding(5001, 32), LSTM(100), Dense(1, activation="sigmoid")])


def test_imdb_tutorial_model_has_213333_params():
    expected = embedding_params(5001, 32) + lstm_params(32, 100) + dense_params(100, 1)
    assert expected == 213333
    with imdb_model() as model:
        assert model.count_params() == expected
        assert sum(w.size for w in model.get_weights()) == expected


def test_summary_prints_keras_table(capsys):
    with imdb_model() as model:
        model.summary()
        text = capsys.readouterr().out
        assert "213,333" in text
        for word in ("Embedding", "LSTM", "Dense", "160,032", "53,200", "101"):
            assert word in text, word
        lines = []
        model.summary(print_fn=lines.append)
        assert "213,333" in lines[0]


def test_weights_come_in_keras_order_with_keras_names():
    model = lstmkit.Sequential([Embedding(50, 8), LSTM(6, return_sequences=True), Dropout(0.2),
                                LSTM(5), Dense(4, activation="relu"), Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(50, 8), (8, 24), (6, 24), (24,), (6, 20), (5, 20), (20,), (5, 4), (4,), (4, 1), (1,)]
    names = model._weight_names()
    assert [layer.name for layer in model.layers] == ["embedding", "lstm", "dropout", "lstm_1",
                                                      "dense", "dense_1"]
    assert names == ["embedding/embeddings", "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias",
                     "lstm_1/kernel", "lstm_1/recurrent_kernel", "lstm_1/bias",
                     "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    expected = (embedding_params(50, 8) + lstm_params(8, 6) + lstm_params(6, 5)
                + dense_params(5, 4) + dense_params(4, 1))
    assert model.count_params() == expected
    assert model.layers[1].count_params() == lstm_params(8, 6)
    assert model.layers[2].get_weights() == []


def test_float_input_and_no_bias_counts():
    model = lstmkit.Sequential([Input(shape=(30, 1)), LSTM(50), Dense(3, use_bias=False)])
    assert model.count_params() == lstm_params(1, 50) + dense_params(50, 3, bias=False)
    assert model.input_shape == (None, 30, 1)


def test_keras_initialisation():
    """Keras's defaults: embeddings U(-0.05, 0.05), LSTM bias zero except the forget gate's 1,
    Dense bias zero, recurrent kernel orthogonal."""
    model = lstmkit.Sequential([Embedding(300, 16), LSTM(8), Dense(2)])
    emb, kernel, recurrent, bias, dense_kernel, dense_bias = model.get_weights()
    assert np.abs(emb).max() <= 0.05 and np.abs(emb).max() > 0.04
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    np.testing.assert_array_equal(dense_bias, 0)
    # Glorot uniform limit sqrt(6 / (fan_in + fan_out)).
    assert np.abs(kernel).max() <= np.sqrt(6 / (16 + 32)) + 1e-6
    assert np.abs(dense_kernel).max() <= np.sqrt(6 / (8 + 2)) + 1e-6
    # Orthogonal (H, 4H): the rows are orthonormal.
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)


def test_same_seed_same_initial_weights():
    lstmkit.utils.set_random_seed(5)
    a = lstmkit.Sequential([Embedding(30, 4), LSTM(3)]).get_weights()
    lstmkit.utils.set_random_seed(5)
    b = lstmkit.Sequential([Embedding(30, 4), LSTM(3)]).get_weights()
    c = lstmkit.Sequential([Embedding(30, 4), LSTM(3)]).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
