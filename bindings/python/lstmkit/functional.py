"""The functional API, shaped like keras.Model(inputs, outputs).

    inputs = Input(shape=(12,))
    enc_out, h, c = LSTM(64, return_state=True)(Embedding(1000, 32)(inputs))
    dec = LSTM(64, return_sequences=True)(RepeatVector(9)(enc_out), initial_state=[h, c])
    outputs = TimeDistributed(Dense(1000, activation="softmax"))(dec)
    model = Model(inputs, outputs)

Calling a layer only records which tensors it reads; Model walks back from the output, names the
unnamed layers as Keras does (lstm, lstm_1, ...) and sends the graph to the library, which runs
it (Sources/LSTMKit/Training/Graph.swift). One input and one output; each layer called once.
"""

import json
import re

from . import _capi
from .layers import InputLayer, KerasTensor, Layer, deserialize
from .models import _EngineModel

__all__ = ["Model"]


def _snake_case(name):
    """Keras's to_snake_case, as the library names layers: LSTM -> lstm, Conv1D -> conv1d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _single(value, what):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError("a Model here has one %s (the C API passes one x and one y), got %d"
                             % (what, len(value)))
        value = value[0]
    if not isinstance(value, KerasTensor):
        raise TypeError("Model %s must be a tensor from lstmkit.Input() or a layer call, got %r"
                        % (what, value))
    return value


class Model(_EngineModel):
    """Model(inputs, outputs, name=None): a graph of layers, trained and saved like Sequential."""

    def __init__(self, inputs=None, outputs=None, name=None):
        super().__init__(name or "functional")
        self._config = None
        if inputs is None and outputs is None:
            return  # filled in by _from_handle
        inp, out = _single(inputs, "input"), _single(outputs, "output")
        if not isinstance(inp._layer, InputLayer):
            raise TypeError("Model inputs must come from lstmkit.Input()")
        order = self._collect(inp, out)
        self._name_layers(inp._layer, order)
        self.layers = [inp._layer] + order
        self._config = self._graph_config(inp, out, order)

    @staticmethod
    def _collect(inp, out):
        """The called layers from the input to the output, each after the layers it reads
        (depth-first from the output, so the output's layer comes last)."""
        order, state = [], {}

        def visit(layer):
            if isinstance(layer, InputLayer):
                if layer is not inp._layer:
                    raise ValueError("the graph reads an Input other than the model's input")
                return
            mark = state.get(id(layer))
            if mark == "done":
                return
            if mark == "active":
                raise ValueError("the layer graph has a cycle at %r" % (layer,))
            state[id(layer)] = "active"
            for t in list(layer._inbound) + list(layer._initial_state):
                visit(t._layer)
            state[id(layer)] = "done"
            order.append(layer)

        visit(out._layer)
        if not order:
            raise ValueError("the model's output is its input; add layers")
        return order

    @staticmethod
    def _name_layers(input_layer, order):
        used = {l.name for l in order if l.name} | ({input_layer.name} if input_layer.name else set())
        counters = {}

        def fresh(class_name):
            base = _snake_case(class_name)
            while True:
                k = counters.get(base, 0)
                counters[base] = k + 1
                candidate = base if k == 0 else "%s_%d" % (base, k)
                if candidate not in used:
                    used.add(candidate)
                    return candidate

        if not input_layer.name:
            input_layer.name = fresh("InputLayer")
        for layer in order:
            inner = getattr(layer, "layer", None)
            if layer.class_name in ("TimeDistributed", "Bidirectional") and isinstance(inner, Layer) \
                    and not inner.name:
                inner.name = fresh(inner.class_name)  # Keras creates the wrapped layer first
            if not layer.name:
                layer.name = fresh(layer.class_name)

    def _graph_config(self, inp, out, order):
        def ref(t):
            return [t._layer.name, 0, t._index]

        shape = inp._layer.shape
        layers = [{"class_name": "InputLayer", "name": inp._layer.name,
                   "config": {"name": inp._layer.name, "batch_shape": [None] + list(shape)}}]
        for layer in order:
            entry = {"class_name": layer.class_name, "name": layer.name,
                     "config": layer.get_config(),
                     "inbound_nodes": [ref(t) for t in layer._inbound]}
            if layer._initial_state:
                entry["initial_state"] = [ref(t) for t in layer._initial_state]
            layers.append(entry)
        return {"class_name": "Functional", "name": self.name, "layers": layers,
                "input_layers": [ref(inp)], "output_layers": [ref(out)]}

    def _config_json(self):
        if self._config is None:
            raise ValueError("this Model has no graph")
        return json.dumps(self._config)

    def _after_build(self, config):
        by_name = {layer.name: layer for layer in self.layers}
        for item in config.get("layers", []):
            layer = by_name.get(item.get("name"))
            if layer is None or isinstance(layer, InputLayer):
                continue
            layer._model = self
            if hasattr(layer, "_adopt"):
                layer._adopt(item.get("config") or {})

    @classmethod
    def _from_handle(cls, handle):
        model, config = cls._wrap_handle(handle)
        model._config = config
        layers = []
        for item in config.get("layers", []):
            if item.get("class_name") == "InputLayer":
                cfg = item.get("config") or {}
                layer = InputLayer(shape=list(cfg.get("batch_shape", [None, 1]))[1:],
                                   name=item.get("name") or cfg.get("name"))
            else:
                layer = deserialize(item)
                layer.name = item.get("name") or layer.name
            layers.append(layer)
        model.layers = layers
        model._after_build(config)
        return model

    def __repr__(self):
        return "<Model name=%s layers=%s>" % (self.name, [l.name for l in self.layers])
