"""Exceptions raised for the library's LSTMKIT_E_* statuses.

Each status has its own class, and each class also derives from the built-in exception a Python
caller would expect (ValueError for bad arguments, OSError for files, ...), so code written for
Keras's exceptions keeps catching them.
"""

__all__ = [
    "LSTMKitError",
    "InvalidArgumentError",
    "BadConfigError",
    "WrongStateError",
    "LSTMKitIOError",
    "FormatError",
    "NoMemoryError",
    "BufferTooSmallError",
    "CancelledError",
    "NumericError",
    "UnsupportedError",
    "InternalError",
    "error_for_status",
]


class LSTMKitError(Exception):
    """A failed library call. `status` is the LSTMKIT_E_* code, `message` the library's text."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self):
        return self.message


class InvalidArgumentError(LSTMKitError, ValueError):
    status = -1


class BadConfigError(LSTMKitError, ValueError):
    status = -2


class WrongStateError(LSTMKitError, RuntimeError):
    status = -3


class LSTMKitIOError(LSTMKitError, OSError):
    status = -4


class FormatError(LSTMKitError, ValueError):
    status = -5


class NoMemoryError(LSTMKitError, MemoryError):
    status = -6


class BufferTooSmallError(LSTMKitError):
    status = -7


class CancelledError(LSTMKitError):
    status = -8


class NumericError(LSTMKitError, ArithmeticError):
    status = -9


class UnsupportedError(LSTMKitError, RuntimeError):
    """The machine lacks what the request needs (mixed_bfloat16 without oneDNN or BF16 instructions)."""
    status = -10


class InternalError(LSTMKitError, RuntimeError):
    status = -99


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, BadConfigError, WrongStateError, LSTMKitIOError, FormatError,
    NoMemoryError, BufferTooSmallError, CancelledError, NumericError, UnsupportedError, InternalError)}


def error_for_status(status, message):
    """The exception for a non-zero status; unknown (newer) codes still give an LSTMKitError."""
    cls = _BY_STATUS.get(status, LSTMKitError)
    err = cls(message or "lstmkit call failed with status %d" % status)
    # OSError's constructor would reinterpret a second argument, so the status is set after.
    err.status = status
    return err
