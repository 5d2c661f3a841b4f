"""Models without Embedding take float sequences (batch, timesteps, features), with the shape
given as in Keras (Input(shape=...) or input_shape=...), through fit, evaluate and predict."""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import LSTM, Conv1D, Dense, GlobalAveragePooling1D, Input
from lstmkit.optimizers import Adam


def sine_windows(n_points=420, window=10, noise=0.05, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(n_points) * 0.15
    series = np.sin(t) + noise * rng.normal(size=n_points)
    x = np.stack([series[i:i + window] for i in range(n_points - window)])[..., None]
    y = series[window:]
    return x.astype(np.float32), y.astype(np.float32)


def test_lstm_regression_on_a_noisy_sine_beats_the_mean():
    lstmkit.utils.set_random_seed(7)
    x, y = sine_windows()
    baseline = float(np.mean((y - y.mean()) ** 2))   # mse of always predicting the mean
    model = lstmkit.Sequential([Input(shape=(10, 1)), LSTM(8), Dense(1)])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0, seed=1)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, mae = model.evaluate(x, y, verbose=0)
    assert loss < 0.25 * baseline, (loss, baseline)
    pred = model.predict(x, verbose=0)
    assert pred.shape == (len(x), 1) and pred.dtype == np.float32
    np.testing.assert_allclose(np.mean((pred[:, 0] - y) ** 2), loss, rtol=1e-4)
    np.testing.assert_allclose(np.mean(np.abs(pred[:, 0] - y)), mae, rtol=1e-4)


@pytest.mark.parametrize("first", ["input", "input_shape"])
def test_float_lstm_fit_evaluate_predict(first, rng):
    layers = [LSTM(8), Dense(1)]
    if first == "input":
        layers.insert(0, Input(shape=(30, 1)))
    else:
        layers[0] = LSTM(8, input_shape=(30, 1))
    model = lstmkit.Sequential(layers)
    assert model.input_shape == (None, 30, 1)
    model.compile(optimizer="adam", loss="mean_squared_error")
    x = rng.normal(size=(40, 30, 1))                      # float64 is converted once
    y = rng.normal(size=(40, 1))
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "val_loss"}
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    assert model.predict(x[:5], verbose=0).shape == (5, 1)
    # y given as a flat vector for a single output works too, as in Keras
    model.fit(x, y[:, 0], epochs=1, verbose=0)


def test_float_input_shape_errors_are_clear(rng):
    model = lstmkit.Sequential([Input(shape=(30, 1)), LSTM(4), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(lstmkit.InvalidArgumentError):
        model.predict(rng.normal(size=(2, 30, 3)), verbose=0)
    with pytest.raises(lstmkit.InvalidArgumentError):
        model.predict(rng.normal(size=(2, 30)), verbose=0)


def test_conv_regression_with_mae_loss(rng):
    x = rng.normal(size=(64, 12, 2)).astype(np.float32)
    y = x[:, :, 0].mean(axis=1, keepdims=True)
    model = lstmkit.Sequential([Input(shape=(12, 2)), Conv1D(4, 3, padding="same"),
                                GlobalAveragePooling1D(), Dense(1)])
    model.compile(optimizer=Adam(0.02), loss="mae", metrics=["mse"])
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, seed=2)
    assert set(history.history) == {"loss", "mse"}
    after = model.evaluate(x, y, verbose=0)
    assert after[0] < 0.5 * before[0]
