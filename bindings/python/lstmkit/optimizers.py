"""Optimizer descriptions for Sequential.compile, shaped like keras.optimizers."""

__all__ = ["Adam"]


class Adam:
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def get_config(self):
        return {"class_name": "adam", "learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}

    def __repr__(self):
        return "Adam(learning_rate=%g)" % self.learning_rate
