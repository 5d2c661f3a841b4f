"""Turning Python data into the borrowed lstmkit_array the C API takes.

An ndarray that is already C-contiguous with the dtype the library wants is passed by pointer;
anything else is converted exactly once (np.ascontiguousarray does both in one step).
"""

import ctypes

import numpy as np

from . import _capi
from .errors import InvalidArgumentError

_NP_DTYPE = {_capi.FLOAT32: np.dtype(np.float32), _capi.INT32: np.dtype(np.int32)}
_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


class CArray:
    """An ndarray and the lstmkit_array that points into it; keeps both alive for the call."""

    __slots__ = ("array", "shape", "struct")

    def __init__(self, array, code):
        self.array = array
        self.shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        self.struct = _capi.lstmkit_array(code, array.ndim, self.shape,
                                          array.ctypes.data_as(ctypes.c_void_p))

    @property
    def ref(self):
        return ctypes.byref(self.struct)


def _as_ndarray(data, what):
    if isinstance(data, np.ndarray):
        return data
    if hasattr(data, "to_numpy"):  # pandas Series / DataFrame
        return data.to_numpy()
    try:
        return np.asarray(data)
    except ValueError as exc:  # ragged nested lists
        raise InvalidArgumentError("%s could not be turned into an array: %s" % (what, exc)) from exc


def to_int32(data, what="x"):
    """Token ids as int32; integer arrays of other widths and integral floats are converted."""
    arr = _as_ndarray(data, what)
    if arr.dtype == np.int32:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < _INT32_MIN or arr.max() > _INT32_MAX):
            raise InvalidArgumentError("%s holds ids outside the int32 range" % what)
        return np.ascontiguousarray(arr, dtype=np.int32)
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            converted = np.ascontiguousarray(arr, dtype=np.int32)
        # Keras casts float ids; refuse the ones a cast would silently change.
        if not np.array_equal(converted, arr):
            raise InvalidArgumentError("%s must hold integer token ids (dtype %s has non-integer "
                                       "or out-of-range values)" % (what, arr.dtype))
        return converted
    raise InvalidArgumentError("%s must hold integer token ids, not dtype %s" % (what, arr.dtype))


def to_float32(data, what="x"):
    arr = _as_ndarray(data, what)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError("%s must be numeric, not dtype %s" % (what, arr.dtype))
    return np.ascontiguousarray(arr, dtype=np.float32)


def c_array(data, code, what="x"):
    arr = to_int32(data, what) if code == _capi.INT32 else to_float32(data, what)
    if arr.ndim == 0:
        raise InvalidArgumentError("%s must have at least one dimension" % what)
    return CArray(arr, code)


def labels(data, sparse):
    """y as float32, or int32 class ids kept as they are for sparse_categorical_crossentropy."""
    arr = _as_ndarray(data, "y")
    if sparse and arr.dtype == np.int32:
        return c_array(arr, _capi.INT32, "y")
    return c_array(arr, _capi.FLOAT32, "y")


def float_ptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def int32_ptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def int64_ptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))
