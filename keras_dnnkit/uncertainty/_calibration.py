"""Calibration metrics: do the predicted probabilities mean what they say?

All functions take ``probabilities`` shaped ``(inputs, classes)`` (one column, or a 1-D array,
is read as the probability of class 1 of a binary problem) and integer ``labels`` shaped
``(inputs,)``. Confidence is the largest probability; bins split ``[0, 1]`` into equal widths,
each bin ``(low, high]`` (the first also holds 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_dnnkit.uncertainty._result import as_class_probabilities

_TINY = 1e-12


def _check(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValueError(
            f"probabilities must be shaped (inputs, classes). Received: shape {p.shape}"
        )
    p = as_class_probabilities(p)
    y = np.asarray(labels)
    if y.shape != (len(p),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class indices shaped ({len(p)},) to match probabilities. "
            f"Received: labels with shape {y.shape} and dtype {y.dtype}"
        )
    if len(y) == 0 or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(
            f"labels must be in [0, {p.shape[1] - 1}] and not empty. "
            f"Received: {len(y)} labels in [{y.min() if len(y) else None}, "
            f"{y.max() if len(y) else None}]"
        )
    return p, y


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"Argument bins must be an integer >= 1. Received: bins={bins!r}")


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics behind the expected calibration error and the reliability diagram.

    Attributes:
        edges: bin edges, ``bins + 1`` values from 0 to 1.
        counts: inputs per bin.
        confidence: mean confidence per bin (``nan`` for an empty bin).
        accuracy: share of correct predictions per bin (``nan`` for an empty bin).

    Example:
        >>> table = reliability_bins(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([0, 0]), 2)
        >>> table.counts.tolist(), table.accuracy.tolist()
        ([0, 2], [nan, 0.5])
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def reliability_bins(probabilities: Any, labels: Any, bins: int = 15) -> ReliabilityBins:
    """Group predictions into equal-width confidence bins.

    Example:
        >>> reliability_bins(np.array([[0.2, 0.8]]), np.array([1]), bins=4).counts.tolist()
        [0, 0, 0, 1]
    """
    _check_bins(bins)
    p, y = _check(probabilities, labels)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype("float64")
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, minlength=bins) / counts
        accuracy = np.bincount(index, correct, minlength=bins) / counts
    return ReliabilityBins(np.linspace(0.0, 1.0, bins + 1), counts, mean_confidence, accuracy)


def expected_calibration_error(probabilities: Any, labels: Any, bins: int = 15) -> float:
    """Return the ECE: the count-weighted mean of ``|accuracy - confidence|`` over bins.

    Args:
        probabilities: predicted class probabilities, ``(inputs, classes)``.
        labels: true classes, ``(inputs,)``.
        bins: number of equal-width confidence bins (15 as in Guo et al., 2017).

    Example:
        >>> p = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7]])
        >>> round(expected_calibration_error(p, np.array([0, 1, 1, 1]), bins=10), 3)
        0.3
    """
    table = reliability_bins(probabilities, labels, bins)
    used = table.counts > 0
    weights = table.counts[used] / table.counts.sum()
    gaps = np.abs(table.accuracy[used] - table.confidence[used])
    return float(np.sum(weights * gaps))


def negative_log_likelihood(probabilities: Any, labels: Any) -> float:
    """Return the mean of ``-log p[true class]`` (nats; probabilities clipped at 1e-12).

    Example:
        >>> round(negative_log_likelihood(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
        0.3993
    """
    p, y = _check(probabilities, labels)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], _TINY, None))))


def brier_score(probabilities: Any, labels: Any) -> float:
    """Return the multi-class Brier score: mean over inputs of ``sum_c (p_c - onehot_c)**2``.

    Ranges from 0 (perfect) to 2; a binary problem given as one column counts as two classes.

    Example:
        >>> brier_score(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([0, 0]))
        0.25
    """
    p, y = _check(probabilities, labels)
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def reliability_diagram(
    probabilities: Any, labels: Any, bins: int = 10, *, title: str | None = None
) -> Any:
    """Plot accuracy against confidence per bin; return a matplotlib ``Figure`` (Agg canvas).

    Bars show each bin's accuracy, the diagonal perfect calibration; the title gives the ECE.
    Save it with ``figure.savefig(path)``; no display or pyplot state is involved.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.3, 0.7]])
        >>> figure = reliability_diagram(p, np.array([0, 0]), bins=5)
        >>> figure.axes[0].get_xlabel()
        'confidence'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = reliability_bins(probabilities, labels, bins)
    ece = expected_calibration_error(probabilities, labels, bins)
    figure = Figure(figsize=(4.5, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 1.0 / bins
    centers = table.edges[:-1] + width / 2
    axes.bar(
        centers,
        np.nan_to_num(table.accuracy),
        width=width,
        edgecolor="black",
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title + ': ' if title else ''}ECE = {ece:.3f}")
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure
