"""Learning-rate schedules, shaped like keras.optimizers.schedules; the library evaluates them."""

__all__ = ["LearningRateSchedule", "ExponentialDecay", "serialize"]


class LearningRateSchedule:
    def get_config(self):
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the exponent floored when
    staircase; step is the optimizer's iteration count before the update (0 on the first)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        if int(decay_steps) <= 0:
            raise ValueError("decay_steps must be positive, got %r" % (decay_steps,))
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name or "ExponentialDecay"

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = float(int(p // 1))
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}

    def __repr__(self):
        return "ExponentialDecay(%g, %d, %g, staircase=%s)" % (
            self.initial_learning_rate, self.decay_steps, self.decay_rate, self.staircase)


def serialize(schedule):
    """{"class_name": ..., "config": {...}}, the form compile's learning_rate takes."""
    config = dict(schedule.get_config())
    config.pop("name", None)
    return {"class_name": type(schedule).__name__, "config": config}
