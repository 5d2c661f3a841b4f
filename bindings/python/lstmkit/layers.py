"""Layer descriptions, shaped like keras.layers.

A layer here holds only its configuration; the weights live in the library's model. Once the
layer belongs to a built Sequential model, get_weights/set_weights reach the model's weights
whose names start with the layer's name.
"""

from . import _capi

__all__ = ["Layer", "Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Masking", "Dense",
           "Dropout", "InputLayer", "Input", "deserialize",
           "RepeatVector", "TimeDistributed", "Flatten", "SpatialDropout1D", "GlobalMaxPooling1D",
           "GlobalAveragePooling1D", "GlobalMaxPool1D", "GlobalAvgPool1D", "Conv1D", "Convolution1D",
           "MaxPooling1D", "MaxPool1D", "Concatenate", "KerasTensor"]


def _shape(shape):
    if shape is None:
        return None
    if isinstance(shape, int):
        return [shape]
    return [None if d is None else int(d) for d in shape]


def _int1d(value, what):
    """Keras's 1D layers take an int or a one-element tuple/list ((3,) in saved configs)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError("%s must be an int or a tuple of one int, got %r" % (what, value))
        value = value[0]
    return int(value)


def _activation(activation):
    if activation is not None and not isinstance(activation, str):
        raise TypeError("activation must be a name such as 'sigmoid', got %r" % (activation,))
    return activation


class Layer:
    class_name = None

    def __init__(self, name=None, input_shape=None, trainable=True, **kwargs):
        self.name = name
        self.input_shape = _shape(input_shape)
        self._model = None
        self.trainable = trainable
        # Other Keras arguments go to the library as given, so it can refuse what it lacks
        # (BAD_CONFIG naming the key, a misspelling too) instead of the binding dropping them.
        self._extra = dict(kwargs)

    @property
    def trainable(self):
        """Keras's layer.trainable: False freezes the layer's weights (fit leaves them as they
        are; gradients still flow through to the layers before). A layer of a model the library
        holds already passes the change on at once, so it takes effect at the next fit whether
        or not compile is called again; changing which weights train after fit restarts the
        optimizer's state, as a new compile would."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        model = self._model
        if model is None or model._handle is None:
            return  # goes to the library with the config
        if not any(layer is self for layer in model.layers):
            raise ValueError("layer %r is inside a wrapper; set trainable on the wrapper (Bidirectional, "
                             "TimeDistributed) of a model the library holds already" % (self.name,))
        _capi.check(_capi.lstmkit_model_set_trainable(model._handle, self.name.encode("utf-8"),
                                                      1 if self._trainable else 0))

    def _own_config(self):
        raise NotImplementedError

    def get_config(self):
        config = {}
        if self.name is not None:
            config["name"] = self.name
        config.update(self._own_config())
        if not self.trainable:
            config["trainable"] = False
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        config.update(self._extra)
        return config

    def _serialize(self):
        return {"class_name": self.class_name, "config": self.get_config()}

    def _weight_indices(self):
        if self._model is None:
            raise ValueError("layer %r does not belong to a built model yet" % (self.name,))
        prefix = "%s/" % (getattr(self, "_path", None) or self.name)
        return [i for i, name in enumerate(self._model._weight_names()) if name.startswith(prefix)]

    def get_weights(self):
        return [self._model._get_weight(i) for i in self._weight_indices()]

    def set_weights(self, weights):
        indices = self._weight_indices()
        if len(weights) != len(indices):
            raise ValueError("layer %r has %d weights, got %d" % (self.name, len(indices), len(weights)))
        for i, w in zip(indices, weights):
            self._model._set_weight(i, w)

    @property
    def trainable_weights(self):
        """Keras's trainable_weights, as arrays (copies, like get_weights): all of the layer's
        weights when it is trainable, else none."""
        return self.get_weights() if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.get_weights()

    def count_params(self):
        return int(sum(w.size for w in self.get_weights()))

    def reset_states(self):
        """Keras's reset_states for a stateful recurrent layer of a built model."""
        if self._model is None:
            raise ValueError("layer %r does not belong to a built model yet" % (self.name,))
        self._model._reset_layer_states(self.name)

    # ---- the functional API: calling a layer on tensors records the graph ----

    def _output_count(self):
        return 1

    def __call__(self, inputs, initial_state=None, **kwargs):
        """layer(tensor) -> tensor (or a list for several outputs), as in Keras's functional API.
        The call is only recorded; lstmkit.Model(inputs, outputs) sends the graph to the library.
        Each layer can be called once (shared layers are not supported)."""
        if kwargs:
            raise TypeError("%s: call arguments %s are not supported" % (self.name or self.class_name,
                                                                         sorted(kwargs)))
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not tensors or not all(isinstance(t, KerasTensor) for t in tensors):
            raise TypeError("layers are called on lstmkit.Input() tensors or other layers' outputs "
                            "(build a Model, then fit or predict on data); got %r" % (inputs,))
        if isinstance(inputs, (list, tuple)) and self.class_name != "Concatenate":
            if len(tensors) != 1:
                raise TypeError("%s takes one input tensor, got %d" % (self.class_name, len(tensors)))
        states = []
        if initial_state is not None:
            if not isinstance(self, _Recurrent):
                raise TypeError("initial_state is for LSTM, GRU and SimpleRNN, not %s" % self.class_name)
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if not all(isinstance(t, KerasTensor) for t in states):
                raise TypeError("initial_state must be tensors (e.g. an encoder's return_state outputs)")
        if getattr(self, "_inbound", None) is not None:
            raise ValueError("layer %r is called a second time; shared layers are not supported"
                             % (self.name or self.class_name,))
        if self._model is not None:
            raise ValueError("layer %r belongs to a model already" % (self.name,))
        self._inbound = tensors
        self._initial_state = states
        outputs = [KerasTensor(self, i) for i in range(self._output_count())]
        return outputs[0] if len(outputs) == 1 else outputs

    def __repr__(self):
        return "<%s name=%s>" % (self.class_name, self.name)


class KerasTensor:
    """A symbolic tensor of the functional API: output `index` of `layer`'s call. shape is
    known for Input tensors only (batch dimension None)."""

    def __init__(self, layer, index=0, shape=None):
        self._layer = layer
        self._index = index
        self.shape = shape

    def __iter__(self):
        raise TypeError("this tensor is one output; a layer with several outputs (return_state=True, "
                        "Bidirectional merge_mode=None) returns a list")

    def __repr__(self):
        return "<KerasTensor %s[%d]%s>" % (getattr(self._layer, "name", None) or
                                           self._layer.class_name, self._index,
                                           "" if self.shape is None else " shape=%s" % (self.shape,))


class Embedding(Layer):
    class_name = "Embedding"

    def __init__(self, input_dim, output_dim, mask_zero=False, input_length=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.input_length = None if input_length is None else int(input_length)

    def _own_config(self):
        config = {"input_dim": self.input_dim, "output_dim": self.output_dim,
                  "mask_zero": self.mask_zero}
        if self.input_length is not None:
            config["input_length"] = self.input_length
        return config


class _Recurrent(Layer):
    """The options Keras's RNN layers share; the engine runs them all on one driver."""

    def __init__(self, units, return_sequences=False, go_backwards=False, dropout=0.0,
                 recurrent_dropout=0.0, return_state=False, stateful=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)

    def _own_config(self):
        config = {"units": self.units, "return_sequences": self.return_sequences,
                  "go_backwards": self.go_backwards, "dropout": self.dropout,
                  "recurrent_dropout": self.recurrent_dropout}
        if self.return_state:
            config["return_state"] = True
        if self.stateful:
            config["stateful"] = True
        return config

    _state_count = 1

    def _output_count(self):
        return 1 + (self._state_count if self.return_state else 0)


class LSTM(_Recurrent):
    """return_state=True gives [output, h, c]; initial_state=[h, c] starts from given states."""

    class_name = "LSTM"
    _state_count = 2


class GRU(_Recurrent):
    """reset_after=True (Keras's default) keeps separate input and recurrent biases, shape (2, 3H)."""

    class_name = "GRU"

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _own_config(self):
        config = super()._own_config()
        config["reset_after"] = self.reset_after
        return config


class SimpleRNN(_Recurrent):
    class_name = "SimpleRNN"

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        if activation is not None and not isinstance(activation, str):
            raise TypeError("activation must be a name such as 'tanh', got %r" % (activation,))
        self.activation = "linear" if activation is None else activation

    def _own_config(self):
        config = super()._own_config()
        config["activation"] = self.activation
        return config


class Bidirectional(Layer):
    """Bidirectional(LSTM(64)): weights forward_<layer>/... then backward_<layer>/..., as Keras.

    merge_mode None gives two outputs (forward, backward): usable in a functional Model only;
    a Sequential model refuses it.
    """

    class_name = "Bidirectional"

    def __init__(self, layer, merge_mode="concat", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(layer, _Recurrent):
            raise TypeError("Bidirectional wraps an LSTM, GRU or SimpleRNN layer, got %r" % (layer,))
        self.layer = layer
        self.merge_mode = merge_mode

    def _own_config(self):
        return {"layer": self.layer._serialize(), "merge_mode": self.merge_mode}

    def _output_count(self):
        return 2 if self.merge_mode is None else 1


class Masking(Layer):
    """Masks the timesteps whose features all equal mask_value, for the recurrent layers after it."""

    class_name = "Masking"

    def __init__(self, mask_value=0.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.mask_value = float(mask_value)

    def _own_config(self):
        return {"mask_value": self.mask_value}


class Dense(Layer):
    class_name = "Dense"

    def __init__(self, units, activation=None, use_bias=True, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.units = int(units)
        self.activation = _activation(activation)
        self.use_bias = bool(use_bias)

    def _own_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias}


class Dropout(Layer):
    class_name = "Dropout"

    def __init__(self, rate, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = float(rate)

    def _own_config(self):
        return {"rate": self.rate}


class InputLayer:
    """The input of a model: its shape without the batch dimension. lstmkit.Input() gives its
    tensor for the functional API; a Sequential model takes either."""

    class_name = "InputLayer"

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("InputLayer needs a shape")
        self.shape = _shape(shape)
        self.batch_size = batch_size
        self.dtype = dtype
        self.name = name

    def get_weights(self):
        return []

    def count_params(self):
        return 0

    def __repr__(self):
        return "<InputLayer shape=%s>" % (tuple(self.shape),)


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """keras.Input: the input tensor of a functional Model; in a Sequential model, fixes the
    input shape (batch dimension left out)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
    return KerasTensor(layer, 0, shape=(None,) + tuple(layer.shape))


class Concatenate(Layer):
    """Joins tensors along the last axis (axis=-1 only): Concatenate()([a, b]), functional only."""

    class_name = "Concatenate"

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = int(axis)

    def _own_config(self):
        return {"axis": self.axis}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    class_name = "RepeatVector"

    def __init__(self, n, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.n = int(n)

    def _own_config(self):
        return {"n": self.n}


class TimeDistributed(Layer):
    """Applies `layer` to every timestep with the same weights; its weights are the layer's,
    named time_distributed/<layer>/kernel as in Keras 3."""

    class_name = "TimeDistributed"

    def __init__(self, layer, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, Layer):
            raise TypeError("TimeDistributed wraps a lstmkit layer, got %r" % (layer,))
        self.layer = layer

    def _own_config(self):
        return {"layer": self.layer._serialize()}

    def _adopt(self, config):
        inner = (config.get("layer") or {}).get("config") or {}
        if inner.get("name"):
            self.layer.name = inner["name"]
        self.layer._path = "%s/%s" % (self.name, self.layer.name)
        self.layer._model = self._model


class Flatten(Layer):
    class_name = "Flatten"

    def __init__(self, data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_format = data_format

    def _own_config(self):
        return {} if self.data_format is None else {"data_format": self.data_format}


class SpatialDropout1D(Layer):
    """Drops whole feature channels of (batch, steps, channels) at training time."""

    class_name = "SpatialDropout1D"

    def __init__(self, rate, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = float(rate)

    def _own_config(self):
        return {"rate": self.rate}


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_format = data_format
        self.keepdims = bool(keepdims)

    def _own_config(self):
        config = {"keepdims": self.keepdims}
        if self.data_format is not None:
            config["data_format"] = self.data_format
        return config


class GlobalMaxPooling1D(_GlobalPooling1D):
    class_name = "GlobalMaxPooling1D"


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps; with a mask (Embedding(mask_zero=True)), over the unmasked steps."""

    class_name = "GlobalAveragePooling1D"


GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D


class Conv1D(Layer):
    """kernel (kernel_size, in_channels, filters) and bias (filters,); padding valid, same or
    causal."""

    class_name = "Conv1D"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.filters = int(filters)
        self.kernel_size = _int1d(kernel_size, "kernel_size")
        self.strides = _int1d(strides, "strides")
        self.padding = str(padding)
        self.data_format = data_format
        self.dilation_rate = _int1d(dilation_rate, "dilation_rate")
        self.activation = _activation(activation)
        self.use_bias = bool(use_bias)

    def _own_config(self):
        config = {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                  "padding": self.padding, "dilation_rate": self.dilation_rate,
                  "activation": self.activation, "use_bias": self.use_bias}
        if self.data_format is not None:
            config["data_format"] = self.data_format
        return config


Convolution1D = Conv1D


class MaxPooling1D(Layer):
    class_name = "MaxPooling1D"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _int1d(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _int1d(strides, "strides")
        self.padding = str(padding)
        self.data_format = data_format

    def _own_config(self):
        config = {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}
        if self.data_format is not None:
            config["data_format"] = self.data_format
        return config


MaxPool1D = MaxPooling1D

_CLASSES = {cls.class_name: cls for cls in (Embedding, LSTM, GRU, SimpleRNN, Bidirectional, Masking,
                                            Dense, Dropout, RepeatVector, TimeDistributed, Flatten,
                                            SpatialDropout1D, GlobalMaxPooling1D,
                                            GlobalAveragePooling1D, Conv1D, MaxPooling1D,
                                            Concatenate)}
_ALIASES = {"Convolution1D": "Conv1D", "MaxPool1D": "MaxPooling1D",
            "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalAvgPool1D": "GlobalAveragePooling1D"}


def deserialize(item):
    """A layer object from {"class_name": ..., "config": {...}} (as in the model's config)."""
    class_name = item.get("class_name")
    cls = _CLASSES.get(_ALIASES.get(class_name, class_name))
    if cls is None:
        raise ValueError("unknown layer class %r" % (class_name,))
    config = dict(item.get("config") or {})
    if not (cls in (Embedding, Bidirectional, Masking, Dense, Dropout) or issubclass(cls, _Recurrent)):
        # The newer layers' constructors take their config as keyword arguments.
        return cls(**config)
    layer = cls.__new__(cls)
    Layer.__init__(layer, name=config.pop("name", None), input_shape=config.pop("input_shape", None),
                   trainable=config.pop("trainable", True))
    if cls is Embedding:
        layer.input_dim = int(config.pop("input_dim"))
        layer.output_dim = int(config.pop("output_dim"))
        layer.mask_zero = bool(config.pop("mask_zero", False))
        length = config.pop("input_length", None)
        layer.input_length = None if length is None else int(length)
    elif issubclass(cls, _Recurrent):
        layer.units = int(config.pop("units"))
        layer.return_sequences = bool(config.pop("return_sequences", False))
        layer.go_backwards = bool(config.pop("go_backwards", False))
        layer.dropout = float(config.pop("dropout", 0.0))
        layer.recurrent_dropout = float(config.pop("recurrent_dropout", 0.0))
        layer.return_state = bool(config.pop("return_state", False))
        layer.stateful = bool(config.pop("stateful", False))
        if cls is GRU:
            layer.reset_after = bool(config.pop("reset_after", True))
        elif cls is SimpleRNN:
            layer.activation = config.pop("activation", "tanh") or "linear"
    elif cls is Bidirectional:
        layer.layer = deserialize(config.pop("layer"))
        layer.merge_mode = config.pop("merge_mode", "concat")
    elif cls is Masking:
        layer.mask_value = float(config.pop("mask_value", 0.0))
    elif cls is Dense:
        layer.units = int(config.pop("units"))
        layer.activation = config.pop("activation", None)
        layer.use_bias = bool(config.pop("use_bias", True))
    elif cls is Dropout:
        layer.rate = float(config.pop("rate"))
    layer._extra = config
    return layer
