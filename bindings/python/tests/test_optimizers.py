"""Optimizer objects, schedules and metrics through compile, checked against Keras 3's update
rules on a model whose gradient is known in closed form: Dense(1, use_bias=False) on one input
of value 1 with mse loss, so dL/dw = 2 (w - y)."""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import Dense, Input
from lstmkit.optimizers import SGD, Adagrad, Adam, RMSprop, schedules


def one_weight_model(optimizer, w0=0.5):
    model = lstmkit.Sequential([Input(shape=(1,)), Dense(1, use_bias=False)])
    model.set_weights([np.array([[w0]], np.float32)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def train_steps(model, steps, target=2.0):
    x = np.ones((1, 1), np.float32)
    y = np.full((1, 1), target, np.float32)
    out = []
    for _ in range(steps):
        model.fit(x, y, epochs=1, batch_size=1, verbose=0, shuffle=False)
        out.append(float(model.get_weights()[0][0, 0]))
    return out


def reference(update, steps=3, w0=0.5, target=2.0):
    w, out, state = w0, [], {}
    for t in range(steps):
        g = 2 * (w - target)
        w = update(t, w, g, state)
        out.append(w)
    return out


def test_sgd_momentum_nesterov_with_schedule():
    lr = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)

    def update(t, w, g, s):
        rate = 0.1 * 0.5 ** t
        s["m"] = 0.9 * s.get("m", 0.0) - rate * g
        return w + 0.9 * s["m"] - rate * g

    got = train_steps(one_weight_model(SGD(learning_rate=lr, momentum=0.9, nesterov=True)), 3)
    np.testing.assert_allclose(got, reference(update), rtol=1e-5)


def test_rmsprop_and_adagrad_defaults():
    def rms(t, w, g, s):
        s["v"] = 0.9 * s.get("v", 0.0) + 0.1 * g * g
        return w - 0.001 * g / np.sqrt(s["v"] + 1e-7)

    np.testing.assert_allclose(train_steps(one_weight_model("rmsprop"), 3), reference(rms), rtol=1e-5)

    def ada(t, w, g, s):
        s["a"] = s.get("a", 0.1) + g * g
        return w - 0.001 * g / np.sqrt(s["a"] + 1e-7)

    np.testing.assert_allclose(train_steps(one_weight_model(Adagrad()), 3), reference(ada), rtol=1e-5)


def test_clipping_options():
    # |g| = 3 at the start, so clipnorm=1 and clipvalue=0.5 both bite
    def clipped(limit):
        return lambda t, w, g, s: w - 0.1 * float(np.clip(g, -limit, limit))

    for kwargs, limit in (({"clipnorm": 1.0}, 1.0), ({"global_clipnorm": 1.0}, 1.0),
                          ({"clipvalue": 0.5}, 0.5)):
        got = train_steps(one_weight_model(SGD(0.1, **kwargs)), 3)
        np.testing.assert_allclose(got, reference(clipped(limit)), rtol=1e-5, err_msg=str(kwargs))
    with pytest.raises(ValueError):
        SGD(clipnorm=1.0, clipvalue=1.0)


def test_adam_and_compile_forms():
    def adam(t, w, g, s):
        s["m"] = s.get("m", 0.0) + (g - s.get("m", 0.0)) * 0.1
        s["v"] = s.get("v", 0.0) + (g * g - s.get("v", 0.0)) * 0.001
        alpha = 0.01 * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - 0.9 ** (t + 1))
        return w - alpha * s["m"] / (np.sqrt(s["v"]) + 1e-7)

    want = reference(adam)
    for form in (Adam(learning_rate=0.01), {"class_name": "adam", "learning_rate": 0.01},
                 {"class_name": "Adam", "config": {"learning_rate": 0.01}}):
        np.testing.assert_allclose(train_steps(one_weight_model(form), 3), want, rtol=1e-5)
    for name in ("sgd", "SGD", "rmsprop", "RMSprop", "adagrad", "adam"):
        one_weight_model(name)
    with pytest.raises(lstmkit.BadConfigError):
        one_weight_model("nadam")


def test_optimizer_config_survives_save_and_load(tmp_path):
    lr = schedules.ExponentialDecay(0.05, 100, 0.9, staircase=True)
    model = one_weight_model(RMSprop(learning_rate=lr, momentum=0.5, centered=True, clipnorm=2.0))
    path = tmp_path / "m.lstmkit"
    model.save(path)
    again = lstmkit.load_model(path)
    train_steps(again, 1)
    assert lr(0) == pytest.approx(0.05) and lr(250) == pytest.approx(0.05 * 0.81)


def test_history_keys_are_keras_metric_names(rng):
    model = lstmkit.Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["acc", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                           "acc"])
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20).astype(np.int32)
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.2)
    names = ["acc", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy", "acc_1"]
    assert set(history.history) == {"loss", *names, *("val_" + n for n in ["loss"] + names)}
    assert history.history["sparse_top_k_categorical_accuracy"] == [1.0]   # 3 classes, k = 5
    assert history.history["acc"] == history.history["sparse_categorical_accuracy"]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss"] + names
    # "accuracy" with one-hot targets resolves to categorical accuracy, as Keras does
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=["accuracy", "categorical_accuracy", "top_k_categorical_accuracy"])
    onehot = np.eye(3, dtype=np.float32)[y]
    values = model.evaluate(x, onehot, verbose=0)
    pred = model.predict(x, verbose=0)
    expected = float(np.mean(pred.argmax(-1) == y))
    assert values[1] == pytest.approx(expected) and values[2] == pytest.approx(expected)
    assert values[3] == 1.0
