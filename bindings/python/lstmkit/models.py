"""Sequential and load_model, shaped like keras.Sequential; every operation is a library call."""

import ctypes
import json
import math
import numbers
import signal
import sys
import threading
import time
import warnings

import numpy as np

from . import _capi, mixed_precision
from ._arrays import c_array, float_ptr, labels
from ._owned import OwnedHandle
from .callbacks import Callback, History, ProgbarLogger, summary_line
from .errors import InvalidArgumentError
from .layers import InputLayer, KerasTensor, Layer, deserialize
from .text import Tokenizer
from .utils import next_seed

__all__ = ["Sequential", "Model", "load_model"]

_MAX_RANK = 8  # lstmkit_array allows ndim 1..8
_SPARSE_LOSSES = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")


def _verbosity(verbose):
    return 1 if verbose == "auto" else int(verbose)


def _batch_size(value):
    """Keras's default of 32 for None only: 0 or a negative size goes to the library, which
    refuses it, instead of silently becoming 32; a float is refused rather than truncated."""
    if value is None:
        return 32
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError("batch_size must be an integer, got %r" % (value,))
    return int(value)


class _FitState:
    __slots__ = ("interrupted", "error")

    def __init__(self):
        self.interrupted = False
        self.error = None


class _EngineModel(OwnedHandle):
    """What Sequential and the functional Model share: a library model handle and Keras's
    compile/fit/evaluate/predict/save over it. Subclasses say how the configuration is written
    (_config_json) and how the layer objects take the library's names (_after_build)."""

    def __init__(self, name):
        self.name = name
        self.layers = []
        self.stop_training = False
        self._handle = None
        self._closed = False
        self._loss = None
        self._metrics = None
        self._input_dtype_code = None
        self._weight_names_cache = None
        self._tokenizer_cache = None
        self._target_tokenizer_cache = None
        # input shape without the batch -> floats predict wrote per row (a hint: a wrong one
        # costs a second call, never a wrong result)
        self._floats_per_row = {}

    # ---- building ----

    def _output_size_guess(self, x_shape):
        return None

    def _live(self):
        if self._closed:
            raise ValueError("this model has been closed")
        if self._handle is None:
            if not self.layers:
                raise ValueError("the model has no layers")
            self._handle = _capi.new_handle(_capi.lstmkit_model_create,
                                            self._config_json().encode("utf-8"), next_seed())
            self._after_build(self.get_config())
        return self._handle

    @classmethod
    def _wrap_handle(cls, handle):
        """A new model of this class around a live engine handle, and the handle's config."""
        model = cls()
        model._handle = handle
        config = model.get_config()
        model.name = config.get("name", model.name)
        return model, config

    @classmethod
    def from_config(cls, config):
        """A new model of the same class (fresh weights) from get_config()'s output."""
        text = config if isinstance(config, str) else json.dumps(config)
        return cls._from_handle(_capi.new_handle(_capi.lstmkit_model_create, text.encode("utf-8"),
                                                 next_seed()))

    def _after_build(self, config):
        # The library names unnamed layers (lstm, dense_1, ...); the layer objects take its names.
        items = [item for item in config.get("layers", []) if item.get("class_name") != "InputLayer"]
        for layer, item in zip(self.layers, items):
            name = (item.get("config") or {}).get("name")
            if name:
                layer.name = name
            layer._model = self
            if hasattr(layer, "_adopt"):
                layer._adopt(item.get("config") or {})

    # ---- lifetime ----

    def close(self):
        self._closed = True   # a closed model is not created again on next use (_live)
        super().close()

    def _free(self, handle):
        _capi.lstmkit_model_free(handle)

    # ---- description ----

    def get_config(self):
        return json.loads(_capi.read_text(_capi.lstmkit_model_config, self._live()))

    def summary(self, print_fn=None, **kwargs):
        text = _capi.read_text(_capi.lstmkit_model_summary, self._live()).rstrip("\n")
        (print_fn or print)(text)

    def count_params(self):
        out = ctypes.c_int64(0)
        _capi.check(_capi.lstmkit_model_count_params(self._live(), ctypes.byref(out)))
        return int(out.value)

    def _input_spec(self):
        shape = (ctypes.c_int64 * _MAX_RANK)()
        ndim = ctypes.c_int32(0)
        dtype = ctypes.c_int32(0)
        _capi.check(_capi.lstmkit_model_input_spec(self._live(), shape, _MAX_RANK,
                                                   ctypes.byref(ndim), ctypes.byref(dtype)))
        return [None if d < 0 else int(d) for d in shape[:ndim.value]], dtype.value

    @property
    def input_shape(self):
        return tuple(self._input_spec()[0])

    def _input_dtype(self):
        if self._input_dtype_code is None:
            self._input_dtype_code = self._input_spec()[1]
        return self._input_dtype_code

    @property
    def metrics_names(self):
        """"loss" then each metric under Keras's name: the identifier as given, repeats
        suffixed _1, _2 (the history keys of fit)."""
        names, seen = ["loss"], {}
        for metric in self._metrics or []:
            if metric in seen:
                names.append("%s_%d" % (metric, seen[metric]))
                seen[metric] += 1
            else:
                names.append(metric)
                seen[metric] = 1
        return names

    # ---- weights ----

    def _weight_count(self):
        n = ctypes.c_int32(0)
        _capi.check(_capi.lstmkit_model_weight_count(self._live(), ctypes.byref(n)))
        return n.value

    def _weight_info(self, index):
        needed = ctypes.c_size_t(0)
        name = ctypes.create_string_buffer(128)
        shape = (ctypes.c_int64 * _MAX_RANK)()
        ndim = ctypes.c_int32(0)
        args = (shape, _MAX_RANK, ctypes.byref(ndim))
        status = _capi.lstmkit_model_weight_info(self._live(), index, name, len(name),
                                                 ctypes.byref(needed), *args)
        if status == _capi.E_BUFFER_TOO_SMALL:
            name = ctypes.create_string_buffer(needed.value)
            status = _capi.lstmkit_model_weight_info(self._live(), index, name, len(name),
                                                     ctypes.byref(needed), *args)
        _capi.check(status)
        return name.value.decode("utf-8"), tuple(shape[:ndim.value])

    def _weight_names(self):
        if self._weight_names_cache is None:
            self._weight_names_cache = [self._weight_info(i)[0] for i in range(self._weight_count())]
        return self._weight_names_cache

    def _get_weight(self, index):
        _, shape = self._weight_info(index)
        out = np.empty(shape, dtype=np.float32)
        count = ctypes.c_size_t(0)
        _capi.check(_capi.lstmkit_model_get_weight(self._live(), index, float_ptr(out), out.size,
                                                   ctypes.byref(count)))
        return out

    def _checked_weight(self, index, value):
        name, shape = self._weight_info(index)
        arr = np.ascontiguousarray(value, dtype=np.float32)
        if arr.shape != shape:
            raise ValueError("weight %d (%s) has shape %s, but the value given has shape %s"
                             % (index, name, shape, arr.shape))
        return arr

    def _set_weight(self, index, value):
        arr = self._checked_weight(index, value)
        _capi.check(_capi.lstmkit_model_set_weight(self._live(), index, float_ptr(arr), arr.size))

    @property
    def trainable_weights(self):
        """Keras's model.trainable_weights, as arrays (copies): those of the trainable layers, in
        get_weights() order (an InputLayer has none)."""
        self._live()   # the library model, which the layers read their weights from
        return [w for layer in self.layers for w in getattr(layer, "trainable_weights", [])]

    @property
    def non_trainable_weights(self):
        self._live()
        return [w for layer in self.layers for w in getattr(layer, "non_trainable_weights", [])]

    def get_weights(self):
        """All weights as float32 arrays in Keras's order (embeddings, kernel, recurrent_kernel,
        bias, ...)."""
        return [self._get_weight(i) for i in range(self._weight_count())]

    def set_weights(self, weights):
        n = self._weight_count()
        weights = list(weights)
        if len(weights) != n:
            raise ValueError("the model has %d weights, but set_weights got %d arrays"
                             % (n, len(weights)))
        # Every shape is checked before anything changes, so a bad list leaves the model as it was.
        arrays = [self._checked_weight(i, w) for i, w in enumerate(weights)]
        for i, arr in enumerate(arrays):
            _capi.check(_capi.lstmkit_model_set_weight(self._live(), i, float_ptr(arr), arr.size))

    # ---- training ----

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, dtype_policy=None, **kwargs):
        """dtype_policy: "float32" or "mixed_bfloat16" (see lstmkit.mixed_precision); None takes
        the global policy."""
        if hasattr(optimizer, "get_config"):
            optimizer = optimizer.get_config()
        config = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or [])}
        policy = mixed_precision.global_policy() if dtype_policy is None else dtype_policy
        policy = getattr(policy, "name", policy)
        if policy != "float32":
            config["dtype_policy"] = policy
        config.update(kwargs)
        _capi.check(_capi.lstmkit_model_compile(self._live(), json.dumps(config).encode("utf-8")))
        self._loss = loss
        self._metrics = list(metrics or [])

    def _x(self, x):
        return c_array(x, self._input_dtype(), "x")

    def _y(self, y):
        return labels(y, sparse=self._loss in _SPARSE_LOSSES)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, seed=None, initial_epoch=0):
        """Trains epochs initial_epoch..epochs-1 (as Keras: `epochs` is the epoch to stop before);
        returns a History. The last validation_split of the rows is held out (before shuffling,
        as in Keras); validation_data=(x_val, y_val) is evaluated instead when given. Each epoch's
        shuffle and dropout depend only on (seed, epoch), so a model saved after epoch k-1, loaded
        and fitted with initial_epoch=k and the same seed continues exactly as the uninterrupted
        run would have. Ctrl-C (or model.stop_training = True in a callback) stops after the
        current batch and returns the History so far."""
        handle = self._live()
        verbose = _verbosity(verbose)
        xa, ya = self._x(x), self._y(y)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            if len(validation_data) == 3 and validation_data[2] is not None:
                raise ValueError("validation_data with sample weights is not supported")
            val = (self._x(validation_data[0]), self._y(validation_data[1]))
        options = {"epochs": int(epochs), "batch_size": _batch_size(batch_size),
                   "validation_split": float(validation_split), "shuffle": bool(shuffle),
                   "seed": int(seed) if seed is not None else next_seed()}
        if initial_epoch:
            options["initial_epoch"] = int(initial_epoch)

        history = History()
        progbar = ProgbarLogger(verbose) if verbose else None
        hooks = [history] + ([progbar] if progbar else []) + list(callbacks or [])
        params = {"verbose": verbose, "epochs": int(epochs), "steps": None}
        for cb in hooks:
            if not isinstance(cb, Callback):
                raise TypeError("callbacks must be lstmkit.callbacks.Callback objects, got %r" % (cb,))
            cb.set_model(self)
            cb.set_params(params)

        state = _FitState()
        self.stop_training = False

        def on_progress(progress_ptr, _user_data):
            try:
                p = progress_ptr.contents
                logs = {p.names[i].decode("utf-8"): float(p.values[i]) for i in range(p.n_values)}
                params["steps"] = int(p.steps)
                if p.event == _capi.EVENT_BATCH_END:
                    for cb in hooks:
                        if cb is progbar:
                            cb.on_train_batch_end(int(p.step), logs, steps=int(p.steps),
                                                  elapsed=p.elapsed_seconds)
                        else:
                            cb.on_train_batch_end(int(p.step) - 1, logs)
                elif p.event == _capi.EVENT_EPOCH_END:
                    for cb in hooks:
                        if cb is progbar:
                            cb.on_epoch_end(int(p.epoch), logs, steps=int(p.steps),
                                            elapsed=p.elapsed_seconds)
                        else:
                            cb.on_epoch_end(int(p.epoch), logs)
                    if p.epoch + 1 < p.epochs and not (self.stop_training or state.interrupted):
                        for cb in hooks:
                            cb.on_epoch_begin(int(p.epoch) + 1)
                return 1 if (self.stop_training or state.interrupted) else 0
            except KeyboardInterrupt:
                state.interrupted = True
                return 1
            except BaseException as exc:  # re-raised once the library has returned
                state.error = exc
                return 1

        callback = _capi.PROGRESS_FN(on_progress)
        previous_handler = self._catch_sigint(state)
        try:
            for cb in hooks:
                cb.on_train_begin()
            for cb in hooks:
                cb.on_epoch_begin(int(initial_epoch))
            options_json = json.dumps(options).encode("utf-8")
            if val is None:
                status = _capi.lstmkit_model_fit(handle, xa.ref, ya.ref, options_json, callback, None)
            else:
                status = _capi.lstmkit_model_fit_validation(handle, xa.ref, ya.ref, val[0].ref,
                                                            val[1].ref, options_json, callback,
                                                            None)
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        if state.error is not None:
            raise state.error
        if status == _capi.E_CANCELLED and (state.interrupted or self.stop_training):
            if state.interrupted and verbose:
                sys.stderr.write("\nTraining interrupted; the model keeps the weights of the "
                                 "last completed batch.\n")
        else:
            _capi.check(status)
        for cb in hooks:
            cb.on_train_end()
        return history

    @staticmethod
    def _catch_sigint(state):
        """While the library trains, Ctrl-C only sets a flag that the progress callback turns
        into a stop request; a second Ctrl-C raises as usual. Returns the handler to restore."""
        if threading.current_thread() is not threading.main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None

        def on_sigint(signum, frame):
            if state.interrupted:
                raise KeyboardInterrupt
            state.interrupted = True

        return signal.signal(signal.SIGINT, on_sigint)

    def stream(self):
        """A new lstmkit.streams.State on this model: feed a sequence a few timesteps at a time;
        its outputs are predict's for the whole sequence, bitwise (include/lstmkit.h,
        lstmkit_state_step)."""
        from .streams import State
        return State(self)

    def reset_states(self):
        """Keras's reset_states: every stateful recurrent layer starts the next batch from zeros."""
        _capi.check(_capi.lstmkit_model_reset_states(self._live(), None))

    def _reset_layer_states(self, name):
        _capi.check(_capi.lstmkit_model_reset_states(self._live(), name.encode("utf-8")))

    def get_layer(self, name=None, index=None):
        """The layer with this name (or at this index of .layers), as in Keras."""
        self._live()
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError("no layer named %r; the layers are %s" % (name, [l.name for l in self.layers]))

    # ---- inference ----

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """[loss, metric...] on (x, y) (just the loss when no metric was compiled)."""
        handle = self._live()
        xa, ya = self._x(x), self._y(y)
        batch_size = _batch_size(batch_size)
        capacity = 8
        results = (ctypes.c_double * capacity)()
        count = ctypes.c_size_t(0)
        start = time.monotonic()
        status = _capi.lstmkit_model_evaluate(handle, xa.ref, ya.ref, batch_size, results,
                                              capacity, ctypes.byref(count))
        if status == _capi.E_BUFFER_TOO_SMALL:
            capacity = count.value
            results = (ctypes.c_double * capacity)()
            status = _capi.lstmkit_model_evaluate(handle, xa.ref, ya.ref, batch_size, results,
                                                  capacity, ctypes.byref(count))
        _capi.check(status)
        values = [float(v) for v in results[:count.value]]
        names = self.metrics_names
        if len(names) != len(values):
            names = ["loss"] + ["metric_%d" % i for i in range(1, len(values))]
        logs = dict(zip(names, values))
        if _verbosity(verbose):
            steps = math.ceil(xa.array.shape[0] / batch_size)
            print(summary_line(steps, time.monotonic() - start, logs))
        if return_dict:
            return logs
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's outputs for x as a float32 array (inference: dropout off)."""
        handle = self._live()
        xa = self._x(x)
        batch_size = _batch_size(batch_size)
        rows, row_shape = xa.array.shape[0], xa.array.shape[1:]
        per_row = self._floats_per_row.get(row_shape)
        # without a size the library is asked for it first: a second call per predict, which at
        # batch 1 cost a tenth of the translation model's latency
        capacity = rows * per_row if per_row is not None else (self._output_size_guess(xa.array.shape) or 0)
        out = np.empty(capacity, dtype=np.float32)
        count = ctypes.c_size_t(0)
        shape = (ctypes.c_int64 * _MAX_RANK)()
        ndim = ctypes.c_int32(0)
        start = time.monotonic()

        def call(buffer):
            ptr = float_ptr(buffer) if buffer.size else None
            return _capi.lstmkit_model_predict(handle, xa.ref, batch_size, ptr, buffer.size,
                                               ctypes.byref(count), shape, _MAX_RANK,
                                               ctypes.byref(ndim))

        status = call(out)
        if status == _capi.E_BUFFER_TOO_SMALL or (status == _capi.OK and capacity == 0):
            out = np.empty(count.value, dtype=np.float32)
            status = call(out)
        _capi.check(status)
        if rows:
            self._floats_per_row[row_shape] = count.value // rows
        result = out[:count.value].reshape(tuple(shape[:ndim.value]))
        if _verbosity(verbose):
            steps = math.ceil(xa.array.shape[0] / batch_size)
            print(summary_line(steps, time.monotonic() - start, {}))
        return result

    # ---- files ----

    def _stored_tokenizer(self, getter, cache):
        """The tokenizer getter returns (a copy, kept in the attribute cache), or None."""
        if getattr(self, cache) is None:
            out = ctypes.c_void_p()
            _capi.check(getter(self._live(), ctypes.byref(out)))
            if not out.value:
                return None
            setattr(self, cache, Tokenizer._adopt(out.value))
        return getattr(self, cache)

    def _store_tokenizer(self, setter, cache, tokenizer):
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError("expected a lstmkit Tokenizer, got %r" % (tokenizer,))
        _capi.check(setter(self._live(), tokenizer._live() if tokenizer is not None else None))
        setattr(self, cache, None)

    @property
    def tokenizer(self):
        """The Tokenizer saved with the model (a copy), or None."""
        return self._stored_tokenizer(_capi.lstmkit_model_get_tokenizer, "_tokenizer_cache")

    @tokenizer.setter
    def tokenizer(self, tokenizer):
        self._store_tokenizer(_capi.lstmkit_model_set_tokenizer, "_tokenizer_cache", tokenizer)

    @property
    def target_tokenizer(self):
        """The Tokenizer of the outputs saved with the model (a translation model's target
        language; a copy), or None."""
        return self._stored_tokenizer(_capi.lstmkit_model_get_target_tokenizer, "_target_tokenizer_cache")

    @target_tokenizer.setter
    def target_tokenizer(self, tokenizer):
        self._store_tokenizer(_capi.lstmkit_model_set_target_tokenizer, "_target_tokenizer_cache", tokenizer)

    @property
    def text_padding(self):
        """How predict_texts pads, as pad_sequences's arguments: {"maxlen", "padding",
        "truncating", "value"}. maxlen is the length used (the one saved, else the model's input
        length; None when neither is known). Saved with the model."""
        maxlen, padding, truncating, value = (ctypes.c_int64(), ctypes.c_int32(), ctypes.c_int32(),
                                              ctypes.c_int32())
        _capi.check(_capi.lstmkit_model_get_text_padding(
            self._live(), ctypes.byref(maxlen), ctypes.byref(padding), ctypes.byref(truncating),
            ctypes.byref(value)))
        side = {_capi.PAD_PRE: "pre", _capi.PAD_POST: "post"}
        return {"maxlen": None if maxlen.value < 0 else int(maxlen.value),
                "padding": side[padding.value], "truncating": side[truncating.value],
                "value": int(value.value)}

    @text_padding.setter
    def text_padding(self, settings):
        settings = dict(settings or {})
        unknown = set(settings) - {"maxlen", "padding", "truncating", "value"}
        if unknown:
            raise TypeError("text padding takes maxlen, padding, truncating and value "
                            "(pad_sequences's arguments), not %s" % ", ".join(sorted(unknown)))
        modes = {"pre": _capi.PAD_PRE, "post": _capi.PAD_POST}
        for key in ("padding", "truncating"):
            if settings.get(key, "pre") not in modes:
                raise ValueError('%s must be "pre" or "post", got %r' % (key, settings[key]))
        maxlen = settings.get("maxlen")
        value = settings.get("value", 0)
        for key, v in (("maxlen", maxlen), ("value", value)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
                raise InvalidArgumentError("%s must be an integer, got %r" % (key, v))
        _capi.check(_capi.lstmkit_model_set_text_padding(
            self._live(), -1 if maxlen is None else int(maxlen), modes[settings.get("padding", "pre")],
            modes[settings.get("truncating", "pre")], int(value)))
        self._floats_per_row.pop("texts", None)

    def predict_texts(self, texts, batch_size=None, verbose="auto", return_lengths=False):
        """predict on raw texts in one library call: the saved tokenizer's texts_to_sequences,
        pad_sequences with the saved text_padding, then predict (the same values, bit for bit).
        A text that gives no token id (empty, or only unknown words and no oov_token) is
        predicted on a row of padding, as Keras would, and a warning names it. With
        return_lengths, returns (outputs, lengths): each text's id count before padding."""
        handle = self._live()
        array, n, _keep = _capi.encode_texts(texts)
        batch_size = _batch_size(batch_size)
        lengths = np.zeros(max(n, 1), dtype=np.int64)
        key = "texts"   # a hint like predict's; the text padding setter drops it
        per_row = self._floats_per_row.get(key)
        out = np.empty(n * per_row if per_row else 0, dtype=np.float32)
        count = ctypes.c_size_t(0)
        shape = (ctypes.c_int64 * _MAX_RANK)()
        ndim = ctypes.c_int32(0)
        start = time.monotonic()

        def call(buffer):
            ptr = float_ptr(buffer) if buffer.size else None
            return _capi.lstmkit_model_predict_texts(
                handle, array, n, batch_size, ptr, buffer.size, ctypes.byref(count), shape,
                _MAX_RANK, ctypes.byref(ndim), lengths.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)))

        status = call(out)
        if status == _capi.E_BUFFER_TOO_SMALL or (status == _capi.OK and out.size == 0):
            out = np.empty(count.value, dtype=np.float32)
            status = call(out)
        _capi.check(status)
        if n:
            self._floats_per_row[key] = count.value // n
        result = out[:count.value].reshape(tuple(shape[:ndim.value]))
        lengths = lengths[:n]
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            warnings.warn("%d of %d texts gave no token id (empty, or no word the tokenizer "
                          "knows), so their outputs are the model's for a row of padding only: "
                          "texts %s" % (empty.size, n, ", ".join(str(i) for i in empty[:10])
                                        + (", ..." if empty.size > 10 else "")),
                          stacklevel=2)
        if _verbosity(verbose):
            steps = math.ceil(n / batch_size)
            print(summary_line(steps, time.monotonic() - start, {}))
        return (result, lengths) if return_lengths else result

    def save(self, filepath, tokenizer=None, target_tokenizer=None, padding=None):
        """Writes configuration, weights and tokenizers to one file. tokenizer (the inputs')
        and target_tokenizer (the outputs', for a translation model) given here are attached
        first; without them, those already attached (if any) are kept. padding: how
        predict_texts (here and lstmkit_model_predict_texts in C) pads the texts' ids, as
        pad_sequences's arguments, e.g. dict(maxlen=600, padding="post", truncating="post");
        what is left out takes pad_sequences's default, maxlen the model's input length.
        The padding is checked before anything is attached, so a refused one changes nothing."""
        if padding is not None:
            self.text_padding = padding
        if tokenizer is not None:
            self.tokenizer = tokenizer
        if target_tokenizer is not None:
            self.target_tokenizer = target_tokenizer
        _capi.check(_capi.lstmkit_model_save(self._live(), _capi.encode_path(filepath)))



class Sequential(_EngineModel):
    """A linear stack of layers: Sequential([Embedding(5001, 32), LSTM(100), Dense(1, ...)]).

    The library model is created on first use (summary, compile, fit, ...); layers cannot be
    added after that. close() (or a with block) frees it; garbage collection does too.
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name or "sequential")
        self._input_shape = None
        for layer in layers or []:
            self.add(layer)

    @classmethod
    def _from_handle(cls, handle):
        model, config = cls._wrap_handle(handle)
        model._input_shape = config.get("input_shape")
        model.layers = [deserialize(item) for item in config.get("layers", [])
                        if item.get("class_name") != "InputLayer"]
        model._after_build(config)
        return model

    # ---- building ----

    def add(self, layer):
        if self._handle is not None or self._closed:
            raise ValueError("layers cannot be added once the model has been built")
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if isinstance(layer, InputLayer):
            if self.layers:
                raise ValueError("an Input must come before the other layers")
            self._input_shape = list(layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError("expected a lstmkit layer, got %r" % (layer,))
        self.layers.append(layer)

    def _config_json(self):
        config = {"name": self.name, "layers": [layer._serialize() for layer in self.layers]}
        if self._input_shape is not None:
            config["input_shape"] = list(self._input_shape)
        return json.dumps(config)

    def build(self, input_shape=None):
        """Creates the weights; input_shape includes the batch dimension, as in Keras. Works
        after compile too (compile creates the library model, which then waits for a shape)."""
        if input_shape is None:
            self._live()
            return
        dims = [None if d is None else int(d) for d in list(input_shape)]
        if self._handle is None:
            self._input_shape = dims[1:]
            self._live()
            return
        shape = (ctypes.c_int64 * len(dims))(*[-1 if d is None else d for d in dims])
        _capi.check(_capi.lstmkit_model_build(self._live(), shape, len(dims)))
        self._input_dtype_code = None
        self._weight_names_cache = None

    def _output_size_guess(self, x_shape):
        """Floats predict will write, from the layer stack; None when the stack is unfamiliar."""
        shape = list(x_shape[1:])
        for layer in self.layers:
            kind = layer.class_name
            if kind == "Embedding":
                shape = shape + [layer.output_dim]
            elif kind in ("LSTM", "GRU", "SimpleRNN", "Bidirectional"):
                if len(shape) < 2:
                    return None
                rnn = layer.layer if kind == "Bidirectional" else layer
                units = rnn.units * (2 if kind == "Bidirectional" and layer.merge_mode == "concat" else 1)
                shape = shape[:-1] + [units] if rnn.return_sequences else [units]
            elif kind == "Dense":
                if not shape:
                    return None
                shape = shape[:-1] + [layer.units]
            elif kind not in ("Dropout", "Masking"):
                return None
        return int(x_shape[0]) * int(np.prod(shape)) if shape else None

    def __repr__(self):
        return "<Sequential name=%s layers=%s>" % (self.name, [l.name for l in self.layers])



def load_model(filepath):
    """The model in a file written by save (tokenizer included): a Sequential model, or a
    functional Model when the file describes a layer graph. A model saved compiled comes back
    compiled, with its optimizer state: fit(..., initial_epoch=k) continues training without
    compile, as Keras's load_model."""
    handle = _capi.new_handle(_capi.lstmkit_model_load, _capi.encode_path(filepath))
    try:
        config = json.loads(_capi.read_text(_capi.lstmkit_model_config, handle))
    except BaseException:
        _capi.lstmkit_model_free(handle)
        raise
    cls = Model if config.get("class_name") == "Functional" else Sequential
    return cls._from_handle(handle)


from .functional import Model  # noqa: E402  (functional.py builds on _EngineModel above)
