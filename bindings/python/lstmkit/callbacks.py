"""Training callbacks shaped like keras.callbacks: Callback, History, the progress printer,
EarlyStopping and ModelCheckpoint."""

import math
import re
import sys
import time

__all__ = ["Callback", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint"]


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


# mode="auto": the direction of each metric lstmkit can log (Keras 3 asks the metric object;
# the names here are the ones fit's history uses, compared without case or a "val_" prefix)
_HIGHER_IS_BETTER = ("acc", "accuracy", "binary_accuracy", "categorical_accuracy",
                     "sparse_categorical_accuracy", "top_k_categorical_accuracy",
                     "sparse_top_k_categorical_accuracy", "binaryaccuracy", "categoricalaccuracy",
                     "sparsecategoricalaccuracy", "topkcategoricalaccuracy",
                     "sparsetopkcategoricalaccuracy")
_LOWER_IS_BETTER = ("loss", "mae", "mse", "mean_absolute_error", "mean_squared_error")


def _monitor_op(mode, monitor, who):
    """'min', 'max', or for 'auto' the monitored metric's own direction, as Keras 3 chooses it
    (an unknown name is an error there too). Returns (is_better(a, b), worst starting value)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError("%s: mode must be 'auto', 'min' or 'max', got %r" % (who, mode))
    if mode == "auto":
        name = str(monitor).lower()
        name = name[4:] if name.startswith("val_") else name
        name = re.sub(r"_\d+$", "", name)   # repeats are suffixed _1, _2
        if name in _HIGHER_IS_BETTER:
            mode = "max"
        elif name in _LOWER_IS_BETTER:
            mode = "min"
        else:
            raise ValueError("%s: cannot tell whether %r should go up or down; pass mode='min' "
                             "or mode='max'" % (who, monitor))
    if mode == "max":
        return (lambda a, b: a > b), -math.inf
    return (lambda a, b: a < b), math.inf


class EarlyStopping(Callback):
    """Stops fit when `monitor` has not improved by more than min_delta for `patience` epochs,
    as keras.callbacks.EarlyStopping; restore_best_weights puts back the weights of the best
    epoch when training ends."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._better, self._worst = _monitor_op(mode, monitor, "EarlyStopping")
        # Keras: min_delta counts in the direction of improvement
        self.min_delta = abs(min_delta) if self._worst == -math.inf else -abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._worst
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._worst
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value, reference):
        return self._better(value - self.min_delta, reference)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            sys.stderr.write("EarlyStopping: metric %r is not available; available: %s\n"
                             % (self.monitor, ", ".join(sorted(logs or {}))))
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # until something improves, the first epoch's weights are the best
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print("Epoch %d: early stopping" % (self.stopped_epoch + 1))
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: %d."
                      % (self.best_epoch + 1))
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model (model.save: configuration, weights, optimizer state, tokenizer) at the
    end of every epoch, to filepath formatted with the epoch (1-based) and the logs, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.lstmkit"; with save_best_only, only when `monitor`
    improves, as keras.callbacks.ModelCheckpoint. To resume after an interruption:
    load_model(path).fit(..., initial_epoch=<the saved epoch number>, seed=<the same seed>).
    Saves are atomic, so a Ctrl-C or a kill mid-epoch leaves the last complete checkpoint."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_weights_only:
            raise ValueError("ModelCheckpoint: save_weights_only=True is not supported; the whole "
                             "model is saved (lstmkit.load_model reads it back)")
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath = str(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self._better, worst = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.best = worst if initial_value_threshold is None else float(initial_value_threshold)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                # as Keras: say so and save anyway, so a misspelt monitor still leaves a checkpoint
                sys.stderr.write("ModelCheckpoint: can save best model only with %s available, "
                                 "saving every epoch\n" % (self.monitor,))
            elif not self._better(current, self.best):
                if self.verbose > 0:
                    print("Epoch %d: %s did not improve from %.5f" % (epoch + 1, self.monitor, self.best))
                return
            else:
                if self.verbose > 0:
                    print("Epoch %d: %s improved from %.5f to %.5f, saving model to %s"
                          % (epoch + 1, self.monitor, self.best, current, path))
                self.best = current
        elif self.verbose > 0:
            print("Epoch %d: saving model to %s" % (epoch + 1, path))
        self.model.save(path)
