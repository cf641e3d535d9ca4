"""``MCPrediction``: what ``mc_predict`` returns, also buildable from any stack of samples."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from keras_dnnkit._validation import check_choice, check_open_interval
from keras_dnnkit.uncertainty import _statistics

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("auto", "classification", "regression")


def looks_like_probabilities(samples: np.ndarray) -> bool:
    """Whether the last axis holds probability vectors (softmax outputs): ``task="auto"``.

    Example:
        >>> looks_like_probabilities(np.array([[[0.2, 0.8]]]))
        True
    """
    stack = np.asarray(samples)
    if stack.ndim < 2 or stack.shape[-1] < 2:
        return False
    sums = np.sum(stack, axis=-1)
    return bool(np.all(stack >= 0) and np.all(stack <= 1) and np.allclose(sums, 1.0, atol=1e-3))


def as_class_probabilities(samples: np.ndarray) -> np.ndarray:
    """Turn one sigmoid output ``p`` into the two classes ``[1 - p, p]``; pass others through.

    Example:
        >>> as_class_probabilities(np.array([[[0.25]]])).tolist()
        [[[0.75, 0.25]]]
    """
    stack = np.asarray(samples)
    if stack.shape[-1] == 1:
        return np.concatenate([1.0 - stack, stack], axis=-1)
    return stack


@dataclass(frozen=True)
class MCPrediction:
    """Summary of Monte-Carlo samples for a batch of inputs.

    Arrays have the inputs on axis 0. For classification (probability outputs) ``mean`` and
    ``std`` are ``(inputs, classes)`` and the entropy-type attributes ``(inputs,)`` (nats); for
    regression they are ``None`` and ``mean``/``std`` have the output's shape.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        mean: mean prediction over the samples (the MC-dropout prediction).
        std: standard deviation over the samples.
        entropy: predictive entropy, the entropy of ``mean`` (total uncertainty).
        expected_entropy: mean entropy of the individual samples (aleatoric part).
        mutual_information: ``entropy - expected_entropy`` (BALD, the epistemic part).
        variation_ratio: share of samples that disagree with the modal class.
        predicted_class: argmax of ``mean``.
        confidence: max of ``mean``.
        samples: the raw samples ``(samples, inputs, ...)`` when requested, else ``None``.

    Example:
        >>> stack = np.array([[[0.9, 0.1]], [[0.7, 0.3]]])
        >>> result = MCPrediction.from_samples(stack)
        >>> result.task, result.predicted_class.tolist(), result.mean.round(2).tolist()
        ('classification', [0], [[0.8, 0.2]])
    """

    task: Task
    mean: np.ndarray
    std: np.ndarray
    entropy: np.ndarray | None = None
    expected_entropy: np.ndarray | None = None
    mutual_information: np.ndarray | None = None
    variation_ratio: np.ndarray | None = None
    predicted_class: np.ndarray | None = None
    confidence: np.ndarray | None = None
    samples: np.ndarray | None = None

    @classmethod
    def from_samples(
        cls, samples: np.ndarray, task: str = "auto", *, keep_samples: bool = True
    ) -> MCPrediction:
        """Summarize a stack of samples shaped ``(samples, inputs, ...)``.

        Args:
            samples: the stack, e.g. ``np.stack([model(x, training=True) for _ in range(S)])``.
            task: ``"classification"`` (probabilities on the last axis; one sigmoid output
                counts as two classes), ``"regression"``, or ``"auto"`` (classification when
                the last axis holds probability vectors).
            keep_samples: keep the stack in ``samples``.

        Example:
            >>> MCPrediction.from_samples(np.array([[[1.0]], [[3.0]]])).std.tolist()
            [[1.0]]
        """
        check_choice("task", task, TASKS)
        stack = np.asarray(samples)
        if stack.ndim < 2 or stack.shape[0] < 1:
            raise ValueError(
                "samples must be shaped (samples, inputs, ...) with at least one sample. "
                f"Received: shape {stack.shape}"
            )
        if task == "auto":
            task = "classification" if looks_like_probabilities(stack) else "regression"
        kept = stack if keep_samples else None
        if task == "regression":
            return cls("regression", stack.mean(axis=0), stack.std(axis=0), samples=kept)
        probabilities = as_class_probabilities(stack)
        mean = probabilities.mean(axis=0)
        return cls(
            "classification",
            mean,
            probabilities.std(axis=0),
            entropy=_statistics.predictive_entropy(probabilities),
            expected_entropy=_statistics.expected_entropy(probabilities),
            mutual_information=_statistics.mutual_information(probabilities),
            variation_ratio=_statistics.variation_ratio(probabilities),
            predicted_class=np.argmax(mean, axis=-1),
            confidence=np.max(mean, axis=-1),
            samples=kept,
        )

    def interval(
        self, level: float = 0.95, method: str = "normal"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(lower, upper)`` bounds of a central prediction interval.

        Args:
            level: coverage, in ``(0, 1)``.
            method: ``"normal"`` (``mean +- z * std``) or ``"empirical"`` (quantiles of the
                samples; needs ``return_samples=True``).

        Example:
            >>> result = MCPrediction.from_samples(np.array([[[1.0]], [[3.0]]]))
            >>> [bound.round(2).tolist() for bound in result.interval(0.95)]
            [[[0.04]], [[3.96]]]
        """
        check_open_interval("level", level, 0.0, 1.0)
        check_choice("method", method, ("normal", "empirical"))
        if method == "empirical":
            if self.samples is None:
                raise ValueError(
                    "interval(method='empirical') needs the raw samples. Call mc_predict(..., "
                    "return_samples=True) or use method='normal'."
                )
            tail = (1.0 - level) / 2.0
            lower, upper = np.quantile(self.samples, [tail, 1.0 - tail], axis=0)
            return lower, upper
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        return self.mean - z * self.std, self.mean + z * self.std

    @classmethod
    def concatenate(cls, parts: list[MCPrediction]) -> MCPrediction:
        """Join results for consecutive blocks of inputs (same task) along the inputs axis.

        Example:
            >>> part = MCPrediction.from_samples(np.array([[[1.0]], [[3.0]]]))
            >>> MCPrediction.concatenate([part, part]).mean.tolist()
            [[2.0], [2.0]]
        """
        first = parts[0]

        def join(name: str, axis: int = 0) -> np.ndarray | None:
            arrays = [getattr(part, name) for part in parts]
            if any(array is None for array in arrays):
                return None
            return np.concatenate(arrays, axis=axis)

        mean, std = join("mean"), join("std")
        assert mean is not None and std is not None  # mean and std are always set
        return cls(
            first.task,
            mean,
            std,
            entropy=join("entropy"),
            expected_entropy=join("expected_entropy"),
            mutual_information=join("mutual_information"),
            variation_ratio=join("variation_ratio"),
            predicted_class=join("predicted_class"),
            confidence=join("confidence"),
            samples=join("samples", axis=1),
        )
