"""The learning-rate range test: train briefly with an exponentially growing rate, watch the loss.

:func:`find_learning_rate` leaves the model as it found it (weights, optimizer state and step
counter) and returns an :class:`LRFinderResult` with the curve, suggestions and a plot.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_dnnkit import _compat
from keras_dnnkit._arrays import is_dataset, row_count, take_rows, unpack_batch
from keras_dnnkit._validation import check_open_interval, check_positive

__all__ = ["LRFinderResult", "find_learning_rate"]


@dataclass(frozen=True)
class LRFinderResult:
    """What a range test measured: the rates tried and the smoothed per-batch losses.

    Attributes:
        learning_rates: the rate of each step, growing exponentially.
        losses: the debiased exponential moving average of the per-batch losses.
        raw_losses: the per-batch losses themselves.
        stop_reason: ``"completed"``, ``"diverged"`` (loss > ``divergence_factor`` x best) or
            ``"nan"``.

    Example:
        >>> result = LRFinderResult(np.logspace(-4, 0, 20), np.linspace(2, 1, 20) ** 2,
        ...                         np.zeros(20), "completed")
        >>> round(result.minimum_over_10, 3)
        0.1
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    stop_reason: str
    suggestions: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "suggestions",
            {
                "steepest": self.steepest,
                "minimum_over_10": self.minimum_over_10,
                "valley": self.valley,
            },
        )

    @property
    def steepest(self) -> float:
        """The rate where the loss falls fastest against ``log10(rate)``.

        The first 10 % and the last 5 % of the points are left out: at the start the average
        is still noisy, at the end the loss is already diverging.
        """
        rates, losses = self.learning_rates, self.losses
        if len(rates) < 3:
            return float(rates[0])
        start, end = max(1, len(rates) // 10), len(rates) - max(1, len(rates) // 20)
        if end - start < 2:
            start, end = 0, len(rates)
        slopes = np.gradient(losses[start:end], np.log10(rates[start:end]))
        return float(rates[start + int(np.argmin(slopes))])

    @property
    def minimum_over_10(self) -> float:
        """A tenth of the rate at the lowest smoothed loss (fastai's classic rule)."""
        return float(self.learning_rates[int(np.argmin(self.losses))] / 10)

    @property
    def valley(self) -> float:
        """Fastai's ``valley``: two thirds down the longest stretch of decreasing loss."""
        losses, count = self.losses, len(self.losses)
        longest = [1] * count
        best_start, best_end = 0, 0
        for i in range(1, count):
            for j in range(i):
                if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                    longest[i] = longest[j] + 1
            if longest[best_end] < longest[i]:
                best_end, best_start = i, i - longest[i]
        sections = (best_end - best_start) / 3
        index = best_start + int(sections) + int(sections / 2)
        return float(self.learning_rates[min(index, count - 1)])

    def plot(self, *, mark: str = "valley") -> Any:
        """Plot loss against rate (log axis) with every suggestion; return a matplotlib Figure.

        Every suggestion is a vertical line named in the legend; ``mark`` is drawn last and
        boldest. The loss axis is bounded by the data: from just below the lowest loss
        (never below zero for a loss that is never negative) to just above the smoothed
        curve's (or four times its lowest value, when the test diverged far above that).

        Example:
            >>> result = LRFinderResult(np.logspace(-4, 0, 20), np.linspace(2, 1, 20),
            ...                         np.zeros(20), "completed")
            >>> figure = result.plot()
            >>> figure.axes[0].get_xscale(), bool(figure.axes[0].get_ylim()[0] >= 0)
            ('log', True)
            >>> [label.split(":")[0] for label in figure.axes[0].get_legend_handles_labels()[1]]
            ['smoothed loss', 'batch loss', 'steepest', 'minimum_over_10', 'valley']
        """
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        axes.plot(self.learning_rates, self.losses, label="smoothed loss")
        axes.plot(self.learning_rates, self.raw_losses, alpha=0.3, label="batch loss")
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        suggestions = self.suggestions
        if mark not in suggestions:
            raise ValueError(
                f"Argument mark must be one of {sorted(suggestions)}. Received: mark={mark!r}"
            )
        styles = iter([("tab:green", ":"), ("tab:purple", "-."), ("tab:orange", ":")])
        for name in [*(n for n in suggestions if n != mark), mark]:
            color, style = ("tab:red", "--") if name == mark else next(styles)
            value = suggestions[name]
            width = 2.0 if name == mark else 1.2
            axes.axvline(value, color=color, ls=style, lw=width, label=f"{name}: {value:.2g}")
        axes.set_ylim(*self._loss_limits())
        axes.legend()
        figure.tight_layout()
        return figure

    def _loss_limits(self) -> tuple[float, float]:
        """The loss axis: the data's range, the divergence cut off, a 5 % margin."""
        smoothed = self.losses[np.isfinite(self.losses)]
        raw = self.raw_losses[np.isfinite(self.raw_losses)]
        values = np.concatenate([smoothed, raw])
        if not values.size:
            return 0.0, 1.0
        low = float(values.min())
        high = float(smoothed.max()) if smoothed.size else float(values.max())
        if smoothed.size:
            high = min(high, 4 * float(smoothed.min()) + 1e-12)
        high = max(high, low + 1e-12)
        margin = 0.05 * (high - low)
        bottom = low - margin
        if low >= 0:
            bottom = max(bottom, 0.0)  # a loss that is never negative: no negative axis
        return bottom, high + margin


def _batches(x: Any, y: Any, batch_size: int, steps: int, seed: int) -> Iterator[Any]:
    """Yield ``steps`` batches ``(x, y, None)``, reshuffling the data at each pass.

    ``x`` and ``y`` may be arrays or lists/dicts of arrays (several inputs or outputs).
    """
    count = row_count(("x", x), ("y", y))
    rng = np.random.default_rng(seed)
    order = rng.permutation(count)
    position = 0
    for _ in range(steps):
        if position + batch_size > count:
            order, position = rng.permutation(count), 0
        index = order[position : position + batch_size]
        position += batch_size
        yield take_rows(x, index), take_rows(y, index), None


def _dataset_batches(dataset: Any, steps: int) -> Iterator[Any]:
    """Yield ``steps`` batches ``(x, y, sample_weight)`` of ``dataset``, repeated as needed."""
    for element in dataset.repeat().take(steps):
        yield unpack_batch(element)


def _first_x(x: Any, y: Any) -> Any:
    """Check the data up front; return the inputs of one example (to build the model)."""
    if is_dataset(x):
        if y is not None:
            raise ValueError(
                "Argument y must be None when x is a tf.data.Dataset: the dataset yields "
                f"(x, y) batches. Received: y of type {type(y).__name__}"
            )
        first = next(iter(x.take(1)), None)
        if first is None:
            raise ValueError("x must hold at least one batch. Received: an empty tf.data.Dataset")
        return unpack_batch(first)[0]
    if x is None:
        raise ValueError(
            "Argument x must be an array, a list or dict of arrays, or a tf.data.Dataset. "
            "Received: x=None"
        )
    row_count(("x", x), ("y", y))
    return take_rows(x, slice(0, 1))


def find_learning_rate(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    divergence_factor: float = 4.0,
    seed: int = 0,
) -> LRFinderResult:
    """Run an exponential learning-rate range test on a compiled model; leave it unchanged.

    For ``steps`` batches the rate grows from ``min_lr`` to ``max_lr`` geometrically; each
    batch's own loss (not Keras' running mean) goes into a debiased exponential moving
    average. The test stops when that average exceeds ``divergence_factor`` times its best,
    or the loss is not finite. Afterwards the model's weights, the optimizer's variables
    (its state and step counter) and its learning rate (float or schedule) are restored.

    Args:
        model: a compiled Keras model (one or several inputs and outputs).
        x: inputs: an array, a list or dict of arrays (several inputs), or a
            ``tf.data.Dataset`` of batches ``(x, y)`` or ``(x, y, sample_weight)``, repeated as
            needed to give ``steps`` batches (``batch_size`` is then the dataset's own).
        y: targets like ``x`` (a list or dict for several outputs), or ``None``; must be
            ``None`` for a dataset.
        min_lr: the first rate, > 0.
        max_lr: the last rate, > ``min_lr``.
        steps: number of batches, >= 2.
        batch_size: examples per batch, > 0.
        smoothing: the moving average's factor, in (0, 1).
        divergence_factor: stop when the smoothed loss exceeds this times its best, > 1.
        seed: seed of the batch order.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(), "mse")
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> result = find_learning_rate(model, x, x.sum(1), steps=20, batch_size=16)
        >>> len(result.learning_rates) <= 20, int(model.optimizer.iterations.numpy())
        (True, 0)
    """
    check_positive("min_lr", min_lr)
    if not max_lr > min_lr:
        raise ValueError(
            f"Argument max_lr must be > min_lr ({min_lr!r}). Received: max_lr={max_lr!r}"
        )
    if not (isinstance(steps, int) and steps >= 2):
        raise ValueError(f"Argument steps must be an integer >= 2. Received: steps={steps!r}")
    check_positive("batch_size", batch_size)
    check_open_interval("smoothing", smoothing, 0.0, 1.0)
    if not divergence_factor > 1:
        raise ValueError(
            "Argument divergence_factor must be > 1. "
            f"Received: divergence_factor={divergence_factor!r}"
        )
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError("find_learning_rate() needs a compiled model: call model.compile() first.")
    example = _first_x(x, y)
    if is_dataset(x):
        batches = _dataset_batches(x, steps)
    else:
        batch_size = min(int(batch_size), row_count(("x", x), ("y", y)))
        batches = _batches(x, y, batch_size, steps, seed)
    if not model.built:
        model(example)
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)

    weights = model.get_weights()
    optimizer_state = [np.array(v.numpy()) for v in model.optimizer.variables]
    original_rate = _compat.learning_rate_object(optimizer)
    rate = keras.Variable(min_lr, dtype="float32", trainable=False, name="lr_finder_rate")
    _compat.replace_learning_rate_object(optimizer, rate)  # untracked: not an optimizer variable
    model.train_function = None  # the cached step read the original rate
    rates, smoothed, raw = [], [], []
    average, best, stop_reason = 0.0, math.inf, "completed"
    ratio = max_lr / min_lr
    try:
        for step, (x_batch, y_batch, sample_weight) in enumerate(batches):
            learning_rate = min_lr * ratio ** (step / (steps - 1))
            rate.assign(learning_rate)
            logs = model.train_on_batch(
                x_batch, y_batch, sample_weight=sample_weight, return_dict=True
            )
            loss = float(logs["loss"])
            if not math.isfinite(loss):  # not recorded: the curve stays finite
                stop_reason = "nan"
                break
            rates.append(learning_rate)
            raw.append(loss)
            average = smoothing * average + (1 - smoothing) * loss
            value = average / (1 - smoothing ** (step + 1))
            smoothed.append(value)
            best = min(best, value)
            if value > divergence_factor * best:
                stop_reason = "diverged"
                break
    finally:
        _compat.replace_learning_rate_object(optimizer, original_rate)
        model.train_function = None
        model.set_weights(weights)
        for variable, saved in zip(model.optimizer.variables, optimizer_state, strict=True):
            variable.assign(saved)
        model.reset_metrics()
    return LRFinderResult(np.array(rates), np.array(smoothed), np.array(raw), stop_reason)
