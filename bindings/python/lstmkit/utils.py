"""keras.utils counterparts: to_categorical and set_random_seed."""

import random

import numpy as np

__all__ = ["to_categorical", "set_random_seed"]

# Seeds for new models and for fit's shuffling come from here; set_random_seed makes them
# reproducible, otherwise they come from the OS like Keras's unseeded runs.
_rng = np.random.default_rng()
# Seeds stay below 2**53 so they survive any JSON reader that keeps numbers as doubles.
_SEED_LIMIT = 2 ** 53


def set_random_seed(seed):
    """Seeds Python's random, NumPy's global generator and lstmkit's own seeds, as Keras does."""
    global _rng
    if not isinstance(seed, (int, np.integer)):
        raise ValueError("seed must be an integer, got %r" % (seed,))
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    _rng = np.random.default_rng(seed)


def next_seed():
    return int(_rng.integers(0, _SEED_LIMIT))


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encodes integer class ids; a trailing dimension of 1 is dropped, as in Keras."""
    y = np.array(y, dtype="int64")
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(y)) + 1
    n = y.shape[0]
    categorical = np.zeros((n, num_classes), dtype=dtype)
    categorical[np.arange(n), y] = 1
    return categorical.reshape(input_shape + (num_classes,))
