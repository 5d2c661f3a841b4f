"""lstmkit: train and run LSTMs with a Keras-shaped API, over liblstmkit.so (ctypes only).

    from lstmkit import Sequential
    from lstmkit.layers import Embedding, LSTM, Dense
    model = Sequential([Embedding(5001, 32), LSTM(100), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"""

from . import callbacks, layers, mixed_precision, optimizers, preprocessing, sequence, text, utils
from ._capi import library_path, library_version
from .errors import (BadConfigError, BufferTooSmallError, CancelledError, FormatError,
                     InternalError, InvalidArgumentError, LSTMKitError, LSTMKitIOError,
                     NoMemoryError, NumericError, UnsupportedError, WrongStateError)
from .layers import Input
from .models import Model, Sequential, load_model

from ._version import __version__

__all__ = [
    "Sequential", "Model", "load_model", "Input", "layers", "text", "sequence", "utils", "callbacks",
    "optimizers", "mixed_precision", "preprocessing", "library_version", "library_path", "LSTMKitError",
    "InvalidArgumentError", "BadConfigError", "WrongStateError", "LSTMKitIOError", "FormatError",
    "NoMemoryError", "BufferTooSmallError", "CancelledError", "NumericError", "UnsupportedError",
    "InternalError",
]
