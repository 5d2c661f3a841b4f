"""Parameter counts and output shapes of the non-recurrent layers, from Keras's formulas:
Conv1D K*D*F + F (K*D*F without bias); TimeDistributed(layer) = layer's; Dense D*U + U;
RepeatVector, Flatten, SpatialDropout1D and the pooling layers 0."""

import lstmkit
from lstmkit.layers import (LSTM, Conv1D, Dense, Embedding, Flatten, GlobalAveragePooling1D,
                            GlobalMaxPooling1D, Input, MaxPooling1D, RepeatVector,
                            SpatialDropout1D, TimeDistributed)


def conv1d_params(k, d, f, bias=True):
    return k * d * f + (f if bias else 0)


def dense_params(d, u, bias=True):
    return d * u + (u if bias else 0)


def lstm_params(d, h):
    return 4 * (h * (d + h) + h)


def test_conv1d_counts_and_shapes():
    for k, d, f, bias in ((3, 1, 8, True), (5, 16, 32, False), (1, 7, 2, True)):
        model = lstmkit.Sequential([Input(shape=(20, d)), Conv1D(f, k, use_bias=bias)])
        assert model.count_params() == conv1d_params(k, d, f, bias)
        shapes = [w.shape for w in model.get_weights()]
        assert shapes == [(k, d, f)] + ([(f,)] if bias else [])


def test_output_lengths_in_summary():
    model = lstmkit.Sequential([Input(shape=(30, 2)), Conv1D(4, 5), Conv1D(4, 3, padding="same",
                                strides=2), Conv1D(4, 3, padding="causal", dilation_rate=2),
                                MaxPooling1D(), MaxPooling1D(3, padding="same"),
                                GlobalMaxPooling1D()])
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    # valid: 30 - 5 + 1 = 26; same with strides 2: 13; causal: 13; pool 2: 6; pool 3 same: 2
    for shape in ("(None, 26, 4)", "(None, 13, 4)", "(None, 6, 4)", "(None, 2, 4)", "(None, 4)"):
        assert shape in text, shape
    assert model.count_params() == conv1d_params(5, 2, 4) + 2 * conv1d_params(3, 4, 4)


def test_time_distributed_has_its_layers_weights_under_keras_names():
    model = lstmkit.Sequential([Input(shape=(10, 6)), LSTM(8, return_sequences=True),
                                TimeDistributed(Dense(3)), Dense(2)])
    assert model.count_params() == lstm_params(6, 8) + dense_params(8, 3) + dense_params(3, 2)
    td = model.layers[1]
    assert td.count_params() == dense_params(8, 3)
    assert td.layer.count_params() == dense_params(8, 3)
    assert model._weight_names()[3:] == ["time_distributed/dense/kernel",
                                         "time_distributed/dense/bias",
                                         "dense_1/kernel", "dense_1/bias"]
    assert [layer.name for layer in model.layers] == ["lstm", "time_distributed", "dense_1"]
    lines = []
    model.summary(print_fn=lines.append)
    assert "time_distributed (TimeDistributed)" in lines[0]
    assert "(None, 10, 3)" in lines[0]


def test_parameter_free_layers():
    model = lstmkit.Sequential([Embedding(50, 8), SpatialDropout1D(0.2), GlobalAveragePooling1D(),
                                RepeatVector(4), Flatten(), Dense(1)])
    assert model.count_params() == 50 * 8 + dense_params(32, 1)
    for layer in model.layers[1:5]:
        assert layer.count_params() == 0
    lines = []
    model.summary(print_fn=lines.append)
    for shape in ("(None, 8)", "(None, 4, 8)", "(None, 32)"):
        assert shape in lines[0], shape


def test_config_round_trip_keeps_the_new_layers():
    model = lstmkit.Sequential([Input(shape=(12, 3)), Conv1D(4, 3, padding="causal"),
                                MaxPooling1D(2), TimeDistributed(Dense(2)), Flatten(), Dense(1)])
    again = lstmkit.Sequential.from_config(model.get_config())
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    assert again.count_params() == model.count_params()
    assert again._weight_names() == model._weight_names()
