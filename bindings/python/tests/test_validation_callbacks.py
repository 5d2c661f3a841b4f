"""fit(validation_data=...), EarlyStopping and ModelCheckpoint, as Keras defines them."""

import numpy as np
import pytest

import lstmkit
from lstmkit.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lstmkit.layers import LSTM, Dense, Input


def small_model(seed_weights=None):
    model = lstmkit.Sequential([Input(shape=(5, 2)), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 5, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.float32)
    return x[:32], y[:32], x[32:], y[32:]


class Recorder(Callback):
    """The weights and the logs at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def test_validation_data_equals_evaluate(data):
    x, y, xv, yv = data
    model = small_model()
    rec = Recorder()
    history = model.fit(x, y, epochs=2, batch_size=8, validation_data=(xv, yv), verbose=0,
                        callbacks=[rec], seed=1)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the last epoch's val values are evaluate on the final weights
    loss, acc = model.evaluate(xv, yv, batch_size=8, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc, rel=1e-6)
    # and the first epoch's, evaluated on that epoch's weights
    probe = small_model()
    probe.set_weights(rec.weights[0])
    assert history.history["val_loss"][0] == pytest.approx(probe.evaluate(xv, yv, batch_size=8, verbose=0)[0], rel=1e-6)
    # validation_data takes the place of validation_split, as in Keras
    h2 = small_model().fit(x, y, epochs=1, validation_split=0.5, validation_data=(xv, yv), verbose=0)
    assert len(h2.history["val_loss"]) == 1
    with pytest.raises(lstmkit.InvalidArgumentError):
        small_model().fit(x, y, validation_data=(xv[:, :, :1], yv), verbose=0)
    with pytest.raises(ValueError):
        small_model().fit(x, y, validation_data=xv, verbose=0)


class Scripted(Callback):
    """Replaces the monitored value with a scripted sequence (run before EarlyStopping)."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_early_stopping_patience_and_min_delta(data):
    x, y, xv, yv = data
    # improves at epochs 0, 1; 2 and 3 improve by less than min_delta; patience 2 stops after 3
    script = Scripted([1.0, 0.8, 0.79, 0.795, 0.5, 0.4])
    stop = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.05)
    history = small_model().fit(x, y, epochs=6, batch_size=16, validation_data=(xv, yv), verbose=0,
                                callbacks=[script, stop])
    assert len(history.history["loss"]) == 4
    assert stop.stopped_epoch == 3 and stop.best == 0.8
    # mode max (auto for accuracy): no improvement after epoch 0 stops at epoch patience
    script = Scripted([0.5, 0.5, 0.4, 0.9], key="val_accuracy")
    stop = EarlyStopping(monitor="val_accuracy", patience=1)
    history = small_model().fit(x, y, epochs=4, batch_size=16, validation_data=(xv, yv), verbose=0,
                                callbacks=[script, stop])
    assert len(history.history["loss"]) == 2


def test_early_stopping_restores_the_best_weights(data):
    x, y, xv, yv = data
    script = Scripted([1.0, 0.5, 0.7, 0.9])
    rec = Recorder()
    model = small_model()
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(x, y, epochs=4, batch_size=16, validation_data=(xv, yv), verbose=0,
              callbacks=[rec, script, stop])
    assert stop.best_epoch == 1 and len(rec.weights) == 4
    for got, want in zip(model.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_every_epoch_and_best_only(data, tmp_path):
    x, y, xv, yv = data
    model = small_model()
    pattern = str(tmp_path / "every-{epoch:02d}.lstmkit")
    model.fit(x, y, epochs=3, batch_size=16, validation_data=(xv, yv), verbose=0,
              callbacks=[ModelCheckpoint(pattern)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["every-01.lstmkit", "every-02.lstmkit",
                                                         "every-03.lstmkit"]
    last = lstmkit.load_model(tmp_path / "every-03.lstmkit")
    np.testing.assert_array_equal(last.predict(xv, verbose=0), model.predict(xv, verbose=0))

    best = tmp_path / "best"
    best.mkdir()
    rec = Recorder()
    script = Scripted([0.9, 0.5, 0.7, 0.4, 0.6])
    model = small_model()
    model.fit(x, y, epochs=5, batch_size=16, validation_data=(xv, yv), verbose=0,
              callbacks=[rec, script, ModelCheckpoint(str(best / "m-{epoch}.lstmkit"), save_best_only=True)])
    assert sorted(p.name for p in best.iterdir()) == ["m-1.lstmkit", "m-2.lstmkit", "m-4.lstmkit"]
    saved = lstmkit.load_model(best / "m-4.lstmkit")
    for got, want in zip(saved.get_weights(), rec.weights[3]):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="save_weights_only"):
        ModelCheckpoint("x", save_weights_only=True)


def test_auto_mode_follows_the_metric_not_its_spelling():
    from lstmkit.callbacks import _monitor_op
    for name in ["val_accuracy", "val_BinaryAccuracy", "CategoricalAccuracy", "val_acc_1",
                 "val_sparse_top_k_categorical_accuracy"]:
        better, worst = _monitor_op("auto", name, "EarlyStopping")
        assert better(0.9, 0.8) and worst == -np.inf, name
    for name in ["val_loss", "loss", "val_mae", "mean_squared_error"]:
        better, worst = _monitor_op("auto", name, "EarlyStopping")
        assert better(0.1, 0.2) and worst == np.inf, name
    with pytest.raises(ValueError, match="mode='min'"):
        _monitor_op("auto", "val_f1", "EarlyStopping")
    better, _ = _monitor_op("max", "val_f1", "EarlyStopping")
    assert better(2, 1)


def test_best_only_checkpoint_without_its_monitor_saves_anyway(data, tmp_path, capsys):
    x, y, _, _ = data
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,   # no validation: no val_loss
              callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}.lstmkit"), save_best_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.lstmkit", "m-2.lstmkit"]
    assert "val_loss available" in capsys.readouterr().err
