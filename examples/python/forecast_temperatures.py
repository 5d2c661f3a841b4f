"""Tomorrow's minimum temperature in Melbourne from the last 30 days, with an LSTM on float input.

    python examples/python/forecast_temperatures.py                          # 3,650 days, 20 epochs
    python examples/python/forecast_temperatures.py --rows 1200 --epochs 3   # a quick run

The last 365 days are the test set; the rest train (the last 10% of the training windows held
out for validation). Temperatures are scaled to [0, 1] with the training part's min and max.
Prints the test RMSE in degrees C next to the persistence forecast (tomorrow = today), which a
useful model must beat, and writes forecast_temperatures.png (predicted vs actual) to --out.
"""

import time

import numpy as np
import pandas as pd

import example_setup  # first: it finds lstmkit in a checkout
from example_setup import data_dir
from lstmkit.layers import LSTM, Dense, Input
from lstmkit.models import Sequential

WINDOW = 30
TEST_DAYS = 365


def windows(series, window=WINDOW):
    """(x, y): x[i] = series[i:i+window] as (window, 1), y[i] = series[i+window]."""
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    return x[..., None].astype("float32"), series[window:].astype("float32")


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def plot(dates, actual, predicted, persistence, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(dates, actual, color="black", linewidth=1, label="actual")
    ax.plot(dates, predicted, color="tab:red", linewidth=1, label="LSTM")
    ax.plot(dates, persistence, color="tab:gray", linewidth=0.6, alpha=0.7,
            label="persistence (tomorrow = today)")
    ax.set_title("Melbourne daily minimum temperature, test year")
    ax.set_ylabel("°C")
    ax.legend(loc="upper center")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = example_setup.parser(__doc__.splitlines()[0], epochs=20, batch_size=32,
                                  rows_help=("use only the last ROWS days "
                                             "(the test year is always the last 365)"))
    args = example_setup.parse(parser)
    started = time.monotonic()

    data = pd.read_csv(data_dir() / "timeseries" / "daily-min-temperatures.csv",
                       parse_dates=["Date"])
    if args.rows:
        data = data.iloc[-args.rows:]
    temps = data["Temp"].to_numpy(dtype="float64")
    dates = data["Date"].to_numpy()
    if len(temps) < TEST_DAYS + 2 * WINDOW + 10:
        parser.error("--rows must be at least %d" % (TEST_DAYS + 2 * WINDOW + 10))

    # Scale with the training part only, so nothing about the test year leaks into training.
    split = len(temps) - TEST_DAYS
    low, high = temps[:split].min(), temps[:split].max()
    scaled = (temps - low) / (high - low)

    # Training windows predict days WINDOW..split-1; test windows predict the last 365 days
    # (their inputs reach back into the training part, as a real forecast's would).
    x_train, y_train = windows(scaled[:split])
    x_test, y_test = windows(scaled[split - WINDOW:])
    print("%d training windows, %d test windows of %d days" % (len(x_train), len(x_test), WINDOW))

    model = Sequential([
        Input(shape=(WINDOW, 1)),
        LSTM(32),
        Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.summary()

    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1)

    predicted = model.predict(x_test, verbose=0)[:, 0] * (high - low) + low
    actual = temps[split:]
    persistence = temps[split - 1:-1]
    print("First and last training loss: %.5f -> %.5f"
          % (history.history["loss"][0], history.history["loss"][-1]))
    print("Test RMSE, LSTM:        %.3f °C" % rmse(predicted, actual))
    print("Test RMSE, persistence: %.3f °C (tomorrow = today)" % rmse(persistence, actual))
    print("Test RMSE, mean:        %.3f °C (the training mean every day)"
          % rmse(temps[:split].mean(), actual))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "forecast_temperatures.png"
    plot(dates[split:], actual, predicted, persistence, path)
    print("Wrote %s" % path)
    print("Wall time: %.0f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
