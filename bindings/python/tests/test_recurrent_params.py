"""Parameter counts and weight layout of the recurrent layers, from Keras's weight shapes:
SimpleRNN  kernel (D, H) + recurrent_kernel (H, H) + bias (H)      = H*(D+H) + H
GRU        kernel (D, 3H) + recurrent_kernel (H, 3H) + bias (2, 3H) = 3*(H*(D+H) + 2H)  (reset_after)
           ... + bias (3H)                                          = 3*(H*(D+H) + H)   (reset_before)
LSTM       kernel (D, 4H) + recurrent_kernel (H, 4H) + bias (4H)    = 4*(H*(D+H) + H)
Bidirectional(layer): two copies of the layer, 2 * params(layer). Masking: none."""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, Masking, SimpleRNN


def simple_rnn_params(d, h):
    return d * h + h * h + h


def gru_params(d, h, reset_after=True):
    return d * 3 * h + h * 3 * h + (2 * 3 * h if reset_after else 3 * h)


def lstm_params(d, h):
    return d * 4 * h + h * 4 * h + 4 * h


def test_formulas_match_keras_closed_forms():
    # the closed forms Keras users know, against the shapes above
    assert gru_params(32, 100) == 3 * (100 * (32 + 100) + 2 * 100) == 40200
    assert gru_params(32, 100, reset_after=False) == 3 * (100 * (32 + 100) + 100) == 39900
    assert simple_rnn_params(32, 100) == 100 * (32 + 100) + 100 == 13300
    assert lstm_params(32, 100) == 4 * (100 * (32 + 100) + 100) == 53200


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_shapes_and_count(reset_after):
    model = lstmkit.Sequential([Embedding(50, 8), GRU(6, reset_after=reset_after), Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes[1:4] == [(8, 18), (6, 18), (2, 18) if reset_after else (18,)]
    assert model.layers[1].count_params() == gru_params(8, 6, reset_after)
    assert model.count_params() == 50 * 8 + gru_params(8, 6, reset_after) + 6 + 1
    assert model._weight_names()[1:4] == ["gru/kernel", "gru/recurrent_kernel", "gru/bias"]


def test_simple_rnn_and_masking_counts():
    model = lstmkit.Sequential([Input(shape=(10, 3)), Masking(), SimpleRNN(7)])
    model.build()
    assert [layer.name for layer in model.layers] == ["masking", "simple_rnn"]
    assert model.layers[0].count_params() == 0
    assert model.count_params() == simple_rnn_params(3, 7)
    assert [w.shape for w in model.get_weights()] == [(3, 7), (7, 7), (7,)]


@pytest.mark.parametrize("inner,count", [(lambda: LSTM(5), lambda d: lstm_params(d, 5)),
                                         (lambda: GRU(5), lambda d: gru_params(d, 5)),
                                         (lambda: SimpleRNN(5), lambda d: simple_rnn_params(d, 5))])
def test_bidirectional_counts_and_order(inner, count):
    model = lstmkit.Sequential([Input(shape=(9, 4)), Bidirectional(inner())])
    layer = model.layers[0].layer
    base = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[layer.class_name]
    assert model.count_params() == 2 * count(4)
    assert model._weight_names() == ["bidirectional/%s_%s/%s" % (side, base, w)
                                     for side in ("forward", "backward")
                                     for w in ("kernel", "recurrent_kernel", "bias")]


def test_summary_shows_keras_counts(capsys):
    model = lstmkit.Sequential([Embedding(1000, 16, mask_zero=True),
                                Bidirectional(LSTM(32, return_sequences=True)),
                                GRU(8), Dense(1, activation="sigmoid")])
    model.build((None, 40))
    model.summary()
    text = capsys.readouterr().out
    bi, gru = 2 * lstm_params(16, 32), gru_params(64, 8)
    total = 1000 * 16 + bi + gru + 9
    for word in ("Bidirectional", "GRU", "(None, 40, 64)", "{:,}".format(bi), "{:,}".format(gru),
                 "{:,}".format(total)):
        assert word in text, word


def test_gru_and_simple_rnn_keras_initialisation():
    model = lstmkit.Sequential([Input(shape=(4, 10)), GRU(8, return_sequences=True), SimpleRNN(6)])
    kernel, recurrent, bias, s_kernel, s_recurrent, s_bias = model.get_weights()
    np.testing.assert_array_equal(bias, 0)
    np.testing.assert_array_equal(s_bias, 0)
    assert np.abs(kernel).max() <= np.sqrt(6 / (10 + 24)) + 1e-6
    assert np.abs(s_kernel).max() <= np.sqrt(6 / (8 + 6)) + 1e-6
    # orthogonal (H, 3H): orthonormal rows; (H, H): an orthogonal matrix
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)
    np.testing.assert_allclose(s_recurrent @ s_recurrent.T, np.eye(6), atol=1e-5)


def test_merge_mode_none_is_refused():
    model = lstmkit.Sequential([Input(shape=(4, 2)), Bidirectional(LSTM(3), merge_mode=None)])
    with pytest.raises(lstmkit.BadConfigError, match="merge_mode"):
        model.count_params()
