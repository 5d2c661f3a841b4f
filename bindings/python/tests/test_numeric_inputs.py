"""Data the engine used to take without a word (issue 15): binary crossentropy labels outside
[0, 1], outputs that overflow float32 from finite inputs, and batch_size=0."""

import numpy as np
import pytest

import lstmkit
from lstmkit.errors import BadConfigError, InvalidArgumentError, NumericError
from lstmkit.layers import LSTM, Dense, Embedding


def bce_model():
    lstmkit.utils.set_random_seed(3)
    model = lstmkit.Sequential([lstmkit.Input((4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("bad", [2.0, -0.5, 1.0000001])
def test_binary_crossentropy_refuses_labels_outside_0_1(bad):
    """Before: fit trained on them (a label of 2 gives a loss that falls without bound as the
    prediction goes to 0, rewarding the wrong answer)."""
    model = bce_model()
    x = np.ones((6, 4), np.float32)
    y = np.array([0, 1, 1, 0, bad, 1], np.float32)
    before = model.get_weights()
    with pytest.raises(InvalidArgumentError, match=r"y\[4\] is .*binary_crossentropy takes labels in \[0, 1\]"):
        model.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(InvalidArgumentError, match="labels in"):
        model.evaluate(x, y, verbose=0)
    good = np.array([0, 1, 1, 0, 0.25, 1], np.float32)   # soft labels in [0, 1] are fine
    with pytest.raises(InvalidArgumentError, match="labels in"):
        model.fit(x, good, validation_data=(x, y), epochs=1, verbose=0)
    model.fit(x, good, epochs=1, verbose=0)
    assert np.isfinite(model.evaluate(x, good, verbose=0))


def test_other_losses_keep_taking_any_finite_target():
    model = lstmkit.Sequential([lstmkit.Input((4,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 4), np.float32), np.array([2, -3, 5, 0], np.float32), verbose=0)


def overflowing_dense(units, activation):
    lstmkit.utils.set_random_seed(4)
    model = lstmkit.Sequential([lstmkit.Input((2,)), Dense(5, name="hidden"),
                                Dense(units, activation=activation, name="out")])
    model.build()
    kernel, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([np.full_like(kernel, 3e38), bias])   # finite, but x W overflows
    return model


@pytest.mark.parametrize("activation", [None, "softmax", "relu"])
def test_an_overflowing_dense_layer_is_a_numeric_error_naming_it(activation):
    """Before: predict returned inf (linear, relu) or NaN (softmax of inf logits)."""
    model = overflowing_dense(3, activation)
    x = np.array([[1e-3, 1e-3], [10.0, 10.0], [0.0, 0.0]], np.float32)
    with pytest.raises(NumericError, match=r"\(sample 1\) is .*inputs and weights are finite: "
                                           r"float32 overflowed in layer 'hidden' \(Dense\)"):
        model.predict(x, verbose=0)
    # The finite rows alone still predict, and finitely.
    assert np.isfinite(model.predict(x[[0, 2]], verbose=0)).all()


def test_a_saturated_sigmoid_is_not_an_error():
    """Only the output is checked: a logit that overflowed to +inf gives sigmoid 1, as Keras."""
    model = lstmkit.Sequential([lstmkit.Input((2,)), Dense(1, activation="sigmoid")])
    model.build()
    kernel, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([np.full_like(kernel, 3e38), bias])
    assert model.predict(np.array([[10.0, 10.0]], np.float32), verbose=0).tolist() == [[1.0]]


def test_evaluate_with_an_overflowing_output_is_a_numeric_error():
    """Before: evaluate returned a NaN loss as a result."""
    model = overflowing_dense(1, None)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NumericError, match="the loss is -?nan on finite inputs"):
        model.evaluate(np.array([[10.0, 10.0]], np.float32), np.zeros(1, np.float32), verbose=0)


def test_a_recurrent_model_is_checked_too():
    lstmkit.utils.set_random_seed(5)
    model = lstmkit.Sequential([Embedding(5, 2, input_length=3), LSTM(2), Dense(5, name="big"),
                                Dense(1, name="top")])
    model.build()
    kernel, bias = model.layers[2].get_weights()
    model.layers[2].set_weights([np.zeros_like(kernel), np.full_like(bias, 3e38)])   # finite
    kernel, bias = model.layers[3].get_weights()
    model.layers[3].set_weights([np.ones_like(kernel), bias])   # 5 x 3e38 overflows here
    with pytest.raises(NumericError, match=r"in layer 'top' \(Dense\)"):
        model.predict(np.array([[1, 2, 3]], np.int32), verbose=0)


@pytest.mark.parametrize("size", [0, -1])
def test_batch_size_zero_or_negative_is_refused_not_32(size):
    """Before: `batch_size or 32` made 0 into 32 silently (-1 was refused already)."""
    model = bce_model()
    x, y = np.ones((4, 4), np.float32), np.zeros(4, np.float32)
    with pytest.raises(BadConfigError, match="batch_size"):
        model.fit(x, y, batch_size=size, verbose=0)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        model.evaluate(x, y, batch_size=size, verbose=0)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        model.predict(x, batch_size=size, verbose=0)


@pytest.mark.parametrize("size", [2.5, True, "8"])
def test_a_batch_size_that_is_not_an_integer_is_refused(size):
    model = bce_model()
    x, y = np.ones((4, 4), np.float32), np.zeros(4, np.float32)
    for call in (lambda: model.fit(x, y, batch_size=size, verbose=0),
                 lambda: model.evaluate(x, y, batch_size=size, verbose=0),
                 lambda: model.predict(x, batch_size=size, verbose=0)):
        with pytest.raises(InvalidArgumentError, match="batch_size must be an integer"):
            call()


def test_batch_size_none_is_keras_default_and_numpy_ints_work():
    model = bce_model()
    x, y = np.ones((40, 4), np.float32), np.zeros(40, np.float32)
    steps = []

    class Count(lstmkit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    model.fit(x, y, batch_size=None, verbose=0, callbacks=[Count()])
    assert len(steps) == 2          # 40 rows in batches of 32
    steps.clear()
    model.fit(x, y, batch_size=np.int64(10), verbose=0, callbacks=[Count()])
    assert len(steps) == 4
