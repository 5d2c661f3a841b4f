"""Training callbacks shaped like keras.callbacks: Callback, History and the progress printer."""

import sys
import time

__all__ = ["Callback", "History", "ModelCheckpoint", "ProgbarLogger"]


class Callback:
    """Base class; override any of the hooks. Setting model.stop_training = True stops fit
    after the current batch (the model keeps the weights trained so far)."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """What fit returns: .history maps each metric to its per-epoch values, .epoch the epochs."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return "<History epochs=%d keys=%s>" % (len(self.epoch), sorted(self.history))


class ModelCheckpoint(Callback):
    """Saves the model (weights, optimizer state, tokenizer) after every epoch, as Keras's
    ModelCheckpoint(filepath) with save_freq="epoch". filepath may hold "{epoch}" (1-based, so
    "ckpt-{epoch:02d}.lstmkit" after the third epoch is ckpt-03.lstmkit) and the epoch's log
    keys. To resume: load_model(path).fit(..., initial_epoch=<that epoch number>, seed=<same>).
    The save is atomic, so a Ctrl-C or a kill mid-epoch leaves the last complete checkpoint."""

    def __init__(self, filepath, save_freq="epoch"):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath = str(filepath)

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.filepath.format(epoch=epoch + 1, **(logs or {})))


def _format_value(value):
    # Keras 3's progress bar prints tiny values in scientific notation.
    return ("%.4f" % value) if abs(value) > 1e-3 else ("%.4e" % value)


def _format_logs(logs):
    return "".join(" - %s: %s" % (k, _format_value(v)) for k, v in sorted(logs.items()))


def _format_step_time(seconds_per_step):
    if seconds_per_step >= 1:
        return "%.0fs/step" % seconds_per_step
    if seconds_per_step >= 1e-3:
        return "%.0fms/step" % (seconds_per_step * 1e3)
    return "%.0fus/step" % (seconds_per_step * 1e6)


def _format_eta(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds >= 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def summary_line(steps, elapsed, logs):
    """The closing line of an epoch: '352/352 - 75s - 213ms/step - accuracy: ... - loss: ...'."""
    per_step = elapsed / steps if steps else 0.0
    return "%d/%d - %.0fs - %s%s" % (steps, steps, elapsed, _format_step_time(per_step),
                                     _format_logs(logs))


class ProgbarLogger(Callback):
    """Prints Keras 3-style progress: 'Epoch 1/3', a live bar (only on a terminal, verbose=1),
    then one closing line per epoch."""

    BAR_WIDTH = 20
    INTERVAL = 0.1  # seconds between redraws of the live bar

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._last_draw = 0.0
        self._drawn = False

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _live(self):
        out = self._out()
        return self.verbose == 1 and hasattr(out, "isatty") and out.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        out = self._out()
        out.write("Epoch %d/%d\n" % (epoch + 1, self.params.get("epochs", 1)))
        out.flush()
        self._last_draw = 0.0
        self._drawn = False

    def on_train_batch_end(self, batch, logs=None, steps=None, elapsed=None):
        if not self._live() or not steps:
            return
        now = time.monotonic()
        if batch < steps and now - self._last_draw < self.INTERVAL:
            return
        self._last_draw = now
        done = int(self.BAR_WIDTH * batch / steps)
        bar = "\u2501" * done + "\x1b[2m" + "\u2501" * (self.BAR_WIDTH - done) + "\x1b[0m"
        per_step = elapsed / batch if batch else 0.0
        eta = per_step * (steps - batch)
        width = len(str(steps))
        line = "%*d/%d %s %s %s%s" % (width, batch, steps, bar, _format_eta(eta),
                                      _format_step_time(per_step), _format_logs(logs or {}))
        out = self._out()
        out.write("\r" + line + "\x1b[K")
        out.flush()
        self._drawn = True

    def on_epoch_end(self, epoch, logs=None, steps=None, elapsed=None):
        out = self._out()
        if self._drawn:
            out.write("\r\x1b[K")
        out.write(summary_line(steps or 0, elapsed or 0.0, logs or {}) + "\n")
        out.flush()
        self._drawn = False
