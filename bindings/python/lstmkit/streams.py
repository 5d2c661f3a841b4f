"""One stream's place in a sequence, fed a few timesteps at a time (lstmkit_state_* in
include/lstmkit.h): model.stream() gives a State; state.step(x) is what model.predict(x) gives
for x continuing from where the stream is, and moves it to the end of x."""
import ctypes

import numpy as np

from . import _capi
from ._arrays import c_array, float_ptr
from ._owned import OwnedHandle

_MAX_RANK = 8


class State(OwnedHandle):
    """A stream on a model (keeps the model's engine handle alive). Not for several threads at
    once (the library serialises them); one State per stream, any number per model."""

    def __init__(self, model, handle=None):
        self._model = model
        self._input_code = model._input_dtype()
        self._handle = handle or _capi.new_handle(_capi.lstmkit_state_create, model._live())
        self._floats = {}   # x shape -> output floats, so a step is usually one call

    _what = "state"

    def _free(self, handle):
        _capi.lstmkit_state_free(handle)

    def step(self, x):
        """x: (k,) ids or (k, features) values of the next k timesteps (a leading batch
        dimension of 1 may be given). Returns predict's output for them: (k, ...) when the
        model's output has timesteps, else the output after the last of them."""
        arr = np.asarray(x)
        batched = arr.ndim >= (2 if self._input_code == _capi.INT32 else 3)
        xa = c_array(arr if batched else arr[np.newaxis], self._input_code, "x")
        handle = self._live()
        capacity = self._floats.get(xa.array.shape, 0)
        out = np.empty(capacity, dtype=np.float32)
        count = ctypes.c_size_t(0)
        shape = (ctypes.c_int64 * _MAX_RANK)()
        ndim = ctypes.c_int32(0)

        def call(buffer):
            return _capi.lstmkit_state_step(handle, xa.ref, float_ptr(buffer) if buffer.size else None,
                                            buffer.size, ctypes.byref(count), shape, _MAX_RANK,
                                            ctypes.byref(ndim))
        status = call(out)
        if status == _capi.E_BUFFER_TOO_SMALL or (status == _capi.OK and capacity == 0):
            out = np.empty(count.value, dtype=np.float32)
            status = call(out)
        _capi.check(status)
        self._floats[xa.array.shape] = count.value
        result = out[:count.value].reshape(tuple(shape[:ndim.value]))
        return result if batched else result[0]

    def reset(self):
        """Back to the start of a sequence (zero states)."""
        _capi.check(_capi.lstmkit_state_reset(self._live()))

    def copy(self):
        """An independent State at the same place in the sequence."""
        return State(self._model, _capi.new_handle(_capi.lstmkit_state_copy, self._live()))

