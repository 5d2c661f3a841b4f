"""Optimizer descriptions for Sequential.compile, shaped like keras.optimizers; the library
applies Keras 3's update rules. learning_rate may be a number or a schedule from
lstmkit.optimizers.schedules. clipnorm (per variable), clipvalue and global_clipnorm clip the
gradients first, as in Keras (at most one of them)."""

from . import schedules
from .schedules import LearningRateSchedule

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "schedules", "get"]


class Optimizer:
    class_name = None

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        if not isinstance(learning_rate, LearningRateSchedule):
            learning_rate = float(learning_rate)
        self.learning_rate = learning_rate
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.name = name

    def _hyperparameters(self):
        return {}

    def get_config(self):
        lr = self.learning_rate
        config = {"class_name": self.class_name,
                  "learning_rate": schedules.serialize(lr) if isinstance(lr, LearningRateSchedule)
                  else lr}
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        config.update(self._hyperparameters())
        return config

    def __repr__(self):
        return "%s(learning_rate=%r)" % (type(self).__name__, self.learning_rate)


class SGD(Optimizer):
    class_name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    class_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _hyperparameters(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    class_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _hyperparameters(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    class_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def _hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam}


def get(identifier):
    """An optimizer from a name ("adam", "SGD", ...) or an optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    cls = _BY_NAME.get(str(identifier).lower())
    if cls is None:
        raise ValueError("unknown optimizer %r" % (identifier,))
    return cls()
