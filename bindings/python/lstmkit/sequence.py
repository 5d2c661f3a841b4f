"""Keras's pad_sequences. Integer sequences are padded by the library; other dtypes (floats,
strings, sequences of vectors) follow the same rules in NumPy."""

from itertools import chain

import numpy as np

from . import _capi
from ._arrays import int32_ptr, int64_ptr

__all__ = ["pad_sequences"]

_MODES = {"pre": _capi.PAD_PRE, "post": _capi.PAD_POST}
_I32 = np.iinfo(np.int32)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pads (or truncates) each sequence to maxlen (default: the longest), as Keras does.

    padding/truncating: "pre" adds/removes at the start, "post" at the end.
    Returns an array of shape (len(sequences), maxlen).
    """
    if padding not in _MODES:
        raise ValueError('Padding type "%s" not understood' % (padding,))
    if truncating not in _MODES:
        raise ValueError('Truncating type "%s" not understood' % (truncating,))
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        n, width = sequences.shape
        flat = sequences.reshape(-1)
        lengths = np.full(n, width, dtype=np.int64)
    else:
        if hasattr(sequences, "to_numpy"):  # pandas Series of lists
            sequences = sequences.to_numpy()
        try:
            lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        except TypeError as exc:
            raise ValueError("`sequences` must be a list of iterables. %s" % exc) from exc
        flat = None
    n = len(lengths)
    if maxlen is None:
        maxlen = int(lengths.max()) if n else 0
    maxlen = int(maxlen)
    if maxlen < 0:
        raise ValueError("maxlen must be >= 0, got %d" % maxlen)

    if not _library_can_pad(dtype, value):
        return _pad_numpy(sequences, lengths, maxlen, dtype, padding, truncating, value)
    out_dtype = np.dtype(dtype)

    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if flat is None:
        try:
            flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(offsets[-1]))
        except (TypeError, ValueError, OverflowError):
            # Nested vectors, floats, strings: not a ragged list of ids.
            return _pad_numpy(sequences, lengths, maxlen, dtype, padding, truncating, value)
    if flat.size and (flat.dtype.kind not in "iu" or flat.min() < _I32.min or flat.max() > _I32.max):
        return _pad_numpy(sequences, lengths, maxlen, dtype, padding, truncating, value)
    ids = np.ascontiguousarray(flat, dtype=np.int32)

    out = np.empty((n, maxlen), dtype=np.int32)
    if n and maxlen:
        _capi.check(_capi.lstmkit_pad_sequences(
            int32_ptr(ids), int64_ptr(offsets), n, maxlen, _MODES[padding], _MODES[truncating],
            int(value), int32_ptr(out), out.size))
    else:
        out.fill(int(value))
    return out if out_dtype == np.int32 else out.astype(out_dtype)


def _library_can_pad(dtype, value):
    if dtype is object or isinstance(value, (str, bytes)):
        return False
    try:
        if np.dtype(dtype).kind not in "iu":
            return False
        value = float(value)
    except (TypeError, ValueError):
        return False
    return value.is_integer() and _I32.min <= value <= _I32.max


def _pad_numpy(sequences, lengths, maxlen, dtype, padding, truncating, value):
    """Keras's own algorithm, for what the library's int32 padding does not cover."""
    is_str = np.issubdtype(np.dtype(dtype), np.str_) if dtype is not object else False
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError("`dtype` %s is not compatible with `value`'s type: %s\n"
                         "You should set `dtype=object` for variable length strings."
                         % (dtype, type(value)))
    sample_shape = ()
    for s in sequences:
        if len(s):
            sample_shape = np.asarray(s).shape[1:]
            break
    x = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return x
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError("Shape of sample %s of sequence at position %s is different from "
                             "expected shape %s" % (trunc.shape[1:], idx, sample_shape))
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x
