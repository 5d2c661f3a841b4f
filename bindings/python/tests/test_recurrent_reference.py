"""model.predict for SimpleRNN, GRU, LSTM (go_backwards), Bidirectional and masking against a
NumPy re-implementation of Keras's documented equations, on random weights.

Keras's recurrent layers (state h0 = 0, c0 = 0):
  SimpleRNN  h = act(x W + h U + b); W (D, H), U (H, H), b (H,).
  GRU        gate order z, r, h; W (D, 3H), U (H, 3H).
             reset_after=True, bias (2, 3H) = [input bias, recurrent bias]:
               xz, xr, xh = x W + b_in;  iz, ir, ih = h U + b_rec
               z = sigmoid(xz + iz), r = sigmoid(xr + ir), hh = tanh(xh + r * ih)
             reset_after=False, bias (3H,):
               z = sigmoid(x W_z + h U_z + b_z), r = sigmoid(x W_r + h U_r + b_r)
               hh = tanh(x W_h + b_h + (r * h) U_h)
             h' = z * h + (1 - z) * hh.
  LSTM       gates i, f, c, o: c' = f c + i tanh(.), h' = o tanh(c').
go_backwards runs over the reversed sequence and returns outputs in that (reversed) order.
A masked step keeps the previous state; its output repeats the previous output, or is zero when
zero_output_for_mask is set, which Bidirectional forces when returning sequences. Bidirectional
runs a forward copy and a go_backwards copy, flips the backward outputs back to timestep order
(return_sequences) and merges them: concat, sum, mul or ave.
"""

import numpy as np
import pytest

import lstmkit
from lstmkit.layers import (GRU, LSTM, Bidirectional, Dense, Embedding, Input, Masking,
                            SimpleRNN)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {"tanh": np.tanh, "sigmoid": sigmoid, "linear": lambda v: v,
               "relu": lambda v: np.maximum(v, 0.0)}


def simple_rnn_cell(weights, activation="tanh"):
    kernel, recurrent, bias = weights
    act = ACTIVATIONS[activation]

    def step(x, states):
        h = act(x @ kernel + states[0] @ recurrent + bias)
        return h, [h]
    return step, 1


def gru_cell(weights, reset_after=True):
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]

    def step(x, states):
        h = states[0]
        if reset_after:
            xm = x @ kernel + bias[0]
            inner = h @ recurrent + bias[1]
            z = sigmoid(xm[:, :units] + inner[:, :units])
            r = sigmoid(xm[:, units:2 * units] + inner[:, units:2 * units])
            hh = np.tanh(xm[:, 2 * units:] + r * inner[:, 2 * units:])
        else:
            xm = x @ kernel + bias
            z = sigmoid(xm[:, :units] + h @ recurrent[:, :units])
            r = sigmoid(xm[:, units:2 * units] + h @ recurrent[:, units:2 * units])
            hh = np.tanh(xm[:, 2 * units:] + (r * h) @ recurrent[:, 2 * units:])
        h = z * h + (1 - z) * hh
        return h, [h]
    return step, 1


def lstm_cell(weights):
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]

    def step(x, states):
        h, c = states
        zz = x @ kernel + h @ recurrent + bias
        i = sigmoid(zz[:, :units])
        f = sigmoid(zz[:, units:2 * units])
        g = np.tanh(zz[:, 2 * units:3 * units])
        o = sigmoid(zz[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, [h, c]
    return step, 2


def run_rnn(x, mask, cell, units, go_backwards=False, return_sequences=False,
            zero_output_for_mask=False):
    step, n_states = cell
    n, steps, _ = x.shape
    states = [np.zeros((n, units)) for _ in range(n_states)]
    previous = np.zeros((n, units))
    outputs = []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        out, new_states = step(x[:, t, :], states)
        if mask is not None:
            keep = mask[:, t][:, None]
            states = [np.where(keep, s1, s0) for s1, s0 in zip(new_states, states)]
            seq_out = np.where(keep, out, 0.0 if zero_output_for_mask else previous)
            previous = np.where(keep, out, previous)
        else:
            states = new_states
            seq_out = previous = out
        outputs.append(seq_out)
    return np.stack(outputs, axis=1) if return_sequences else previous


def make_cell(kind, weights, opts):
    if kind == "simple_rnn":
        return simple_rnn_cell(weights, opts.get("activation", "tanh"))
    if kind == "gru":
        return gru_cell(weights, opts.get("reset_after", True))
    return lstm_cell(weights)


def bidirectional(x, mask, kind, fw, bw, opts, merge_mode):
    units = fw[1].shape[0]
    seq = opts.get("return_sequences", False)
    y = run_rnn(x, mask, make_cell(kind, fw, opts), units, False, seq, zero_output_for_mask=seq)
    y_rev = run_rnn(x, mask, make_cell(kind, bw, opts), units, True, seq, zero_output_for_mask=seq)
    if seq:
        y_rev = y_rev[:, ::-1, :]
    return {"concat": lambda: np.concatenate([y, y_rev], axis=-1), "sum": lambda: y + y_rev,
            "mul": lambda: y * y_rev, "ave": lambda: (y + y_rev) / 2}[merge_mode]()


def reference_predict(spec, weights, x):
    """spec: (kind, options) per layer, mirroring the model; weights in Keras's order."""
    weights = [w.astype(np.float64) for w in weights]
    out, mask = x, None
    for kind, opts in spec:
        if kind == "embedding":
            if opts.get("mask_zero"):
                mask = out != 0
            out = weights.pop(0)[out]
        elif kind == "masking":
            mask = np.any(out != opts.get("mask_value", 0.0), axis=-1)
            out = out * mask[..., None]
        elif kind in ("simple_rnn", "gru", "lstm"):
            w = [weights.pop(0) for _ in range(3)]
            out = run_rnn(out, mask, make_cell(kind, w, opts), w[1].shape[0],
                          opts.get("go_backwards", False), opts.get("return_sequences", False))
            mask = mask if opts.get("return_sequences", False) else None
        elif kind.startswith("bidirectional_"):
            fw = [weights.pop(0) for _ in range(3)]
            bw = [weights.pop(0) for _ in range(3)]
            out = bidirectional(out, mask, kind[len("bidirectional_"):], fw, bw, opts,
                                opts.get("merge_mode", "concat"))
            mask = mask if opts.get("return_sequences", False) else None
        elif kind == "dense":
            out = out @ weights.pop(0) + weights.pop(0)
    assert not weights
    return out


def check(model, spec, x, rng, atol=2e-5):
    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    expected = reference_predict(spec, weights, x)
    got = model.predict(x, batch_size=3, verbose=0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    return got


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "linear"])
def test_simple_rnn(seq, activation, rng):
    model = lstmkit.Sequential([Input(shape=(6, 3)),
                                SimpleRNN(5, activation=activation, return_sequences=seq)])
    x = rng.normal(size=(7, 6, 3)).astype(np.float32)
    check(model, [("simple_rnn", {"activation": activation, "return_sequences": seq})], x, rng)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru(seq, reset_after, rng):
    model = lstmkit.Sequential([Embedding(20, 4), GRU(6, reset_after=reset_after, return_sequences=seq),
                                Dense(2)])
    x = rng.integers(0, 20, size=(8, 7)).astype(np.int32)
    check(model, [("embedding", {}), ("gru", {"reset_after": reset_after, "return_sequences": seq}),
                  ("dense", {})], x, rng)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("layer,kind", [(LSTM, "lstm"), (GRU, "gru"), (SimpleRNN, "simple_rnn")])
def test_go_backwards(layer, kind, seq, rng):
    model = lstmkit.Sequential([Input(shape=(5, 2)), layer(4, go_backwards=True, return_sequences=seq)])
    x = rng.normal(size=(6, 5, 2)).astype(np.float32)
    got = check(model, [(kind, {"go_backwards": True, "return_sequences": seq})], x, rng)
    if seq:
        # outputs come in processing order: the first one has seen only the last timestep
        single = reference_predict([(kind, {})], model.get_weights(), x[:, -1:, :])
        np.testing.assert_allclose(got[:, 0, :], single, atol=2e-5)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("layer,kind", [(LSTM, "lstm"), (GRU, "gru"), (SimpleRNN, "simple_rnn")])
def test_bidirectional(layer, kind, merge_mode, seq, rng):
    model = lstmkit.Sequential([Input(shape=(6, 3)),
                                Bidirectional(layer(4, return_sequences=seq), merge_mode=merge_mode)])
    x = rng.normal(size=(5, 6, 3)).astype(np.float32)
    got = check(model, [("bidirectional_" + kind, {"merge_mode": merge_mode, "return_sequences": seq})],
                x, rng)
    assert got.shape[-1] == (8 if merge_mode == "concat" else 4)


def padded_ids(rng, n, steps, vocab):
    """Rows post-padded, pre-padded and with a gap, as mask_zero sees them."""
    x = rng.integers(1, vocab, size=(n, steps)).astype(np.int32)
    for row in range(n):
        k = row % 3
        if k == 0:
            x[row, steps - 1 - row % steps:] = 0
        elif k == 1:
            x[row, :row % steps] = 0
        else:
            x[row, 2:4] = 0
    return x


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("layer,kind,opts", [(LSTM, "lstm", {}), (GRU, "gru", {}),
                                             (GRU, "gru", {"reset_after": False}),
                                             (SimpleRNN, "simple_rnn", {}),
                                             (LSTM, "lstm", {"go_backwards": True})])
def test_mask_zero_embedding(layer, kind, opts, seq, rng):
    model = lstmkit.Sequential([Embedding(15, 3, mask_zero=True),
                                layer(4, return_sequences=seq, **opts)])
    x = padded_ids(rng, 9, 7, 15)
    check(model, [("embedding", {"mask_zero": True}), (kind, dict(opts, return_sequences=seq))], x, rng)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_mask_zero_through_bidirectional(merge_mode, seq, rng):
    model = lstmkit.Sequential([Embedding(15, 3, mask_zero=True),
                                Bidirectional(GRU(4, return_sequences=seq), merge_mode=merge_mode),
                                LSTM(3, return_sequences=True) if seq else Dense(2)])
    x = padded_ids(rng, 9, 7, 15)
    check(model, [("embedding", {"mask_zero": True}),
                  ("bidirectional_gru", {"merge_mode": merge_mode, "return_sequences": seq}),
                  ("lstm", {"return_sequences": True}) if seq else ("dense", {})], x, rng)


def test_masking_layer_on_float_input(rng):
    model = lstmkit.Sequential([Input(shape=(6, 2)), Masking(mask_value=-1.0),
                                SimpleRNN(3, return_sequences=True), GRU(4)])
    x = rng.normal(size=(6, 6, 2)).astype(np.float32)
    x[0, 4:] = -1.0
    x[1, :2] = -1.0
    x[2, 3] = -1.0
    x[3, 2, 0] = -1.0          # one feature alone does not mask the step
    check(model, [("masking", {"mask_value": -1.0}), ("simple_rnn", {"return_sequences": True}),
                  ("gru", {})], x, rng)


def test_dropout_trains_and_inference_is_deterministic(rng):
    model = lstmkit.Sequential([Embedding(30, 4), LSTM(5, dropout=0.2, recurrent_dropout=0.3,
                                                       return_sequences=True),
                                Bidirectional(GRU(3, dropout=0.1)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = rng.integers(0, 30, size=(32, 6)).astype(np.int32)
    y = (x.sum(axis=1) % 2).astype(np.float32)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bidirectional_config_round_trip(rng):
    model = lstmkit.Sequential([Input(shape=(4, 2)), Bidirectional(LSTM(3), merge_mode="sum")])
    config = model.get_config()
    bi = [item for item in config["layers"] if item["class_name"] == "Bidirectional"][0]["config"]
    assert bi["merge_mode"] == "sum"
    assert bi["layer"]["class_name"] == "LSTM" and bi["layer"]["config"]["units"] == 3
    again = lstmkit.Sequential.from_config(config)
    assert again._weight_names() == model._weight_names()
    weights = model.get_weights()
    again.set_weights(weights)
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_and_load_keep_recurrent_layers(rng, tmp_path):
    model = lstmkit.Sequential([Embedding(20, 4, mask_zero=True),
                                Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode="ave"),
                                GRU(5, reset_after=False, go_backwards=True), Dense(2)])
    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = padded_ids(rng, 6, 5, 20)
    want = model.predict(x, verbose=0)
    path = str(tmp_path / "rnn.lstmkit")
    model.save(path)
    again = lstmkit.load_model(path)
    assert [layer.class_name for layer in again.layers] == ["Embedding", "Bidirectional", "GRU", "Dense"]
    assert again.layers[1].merge_mode == "ave" and again.layers[1].layer.units == 3
    assert again.layers[2].go_backwards and not again.layers[2].reset_after
    np.testing.assert_array_equal(again.predict(x, verbose=0), want)


def test_batch_one_wide_lstm_splits_its_units(rng):
    """Batch-1 predict of an LSTM of 160 units or more computes each step's units on two threads
    (Layers/UnitSplit.swift); the predictions are the reference's all the same, masks included."""
    model = lstmkit.Sequential([Embedding(20, 4, mask_zero=True), LSTM(176, return_sequences=True),
                                LSTM(168), Dense(2)])
    x = padded_ids(rng, 6, 7, 20)
    weights = [rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    spec = [("embedding", {"mask_zero": True}), ("lstm", {"return_sequences": True}), ("lstm", {}),
            ("dense", {})]
    want = reference_predict(spec, weights, x)
    np.testing.assert_allclose(model.predict(x, batch_size=1, verbose=0), want, rtol=0, atol=2e-5)
