"""Findings: what is wrong with training, in plain words, and what to try."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Problem = Literal[
    "vanishing_gradients",
    "exploding_gradients",
    "nonfinite_gradients",
    "dead_units",
    "saturated_units",
]
"""The problems diagnostics can report."""

PROBLEMS: tuple[Problem, ...] = (
    "vanishing_gradients",
    "exploding_gradients",
    "nonfinite_gradients",
    "dead_units",
    "saturated_units",
)


@dataclass(frozen=True)
class Finding:
    """One problem found at one step, with a message a person can act on.

    Example:
        >>> Finding("dead_units", "dense_3", 200, "dead units: ...").to_dict()["problem"]
        'dead_units'
    """

    problem: Problem
    layer: str | None
    step: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary with keys problem, layer, step, message."""
        return asdict(self)


# ---------------------------------------------------------------- gradient rules


@dataclass(frozen=True)
class Thresholds:
    """When gradient statistics count as a problem.

    Args:
        vanishing_ratio: a layer whose gradient norm is below this fraction of the last
            layer's (median over the window) barely learns; the first layer being below it
            is reported as vanishing gradients.
        exploding_ratio: a layer whose gradient norm is above this multiple of the last
            layer's is reported as exploding gradients.
        exploding_norm: a global gradient norm above this (median over the window) is
            reported as exploding gradients.
        exploding_growth: so is a global norm that grew by more than this factor from the
            first to the last logged step of the window.
        window: how many logged steps the medians are taken over.

    Example:
        >>> Thresholds(vanishing_ratio=1e-4).vanishing_ratio
        0.0001
        >>> Thresholds(window=0)
        Traceback (most recent call last):
        ...
        ValueError: Argument window must be >= 1. Received: window=0
    """

    vanishing_ratio: float = 1e-3
    exploding_ratio: float = 1e3
    exploding_norm: float = 1e4
    exploding_growth: float = 1e3
    window: int = 5

    def __post_init__(self) -> None:
        for name in ("vanishing_ratio", "exploding_ratio", "exploding_norm", "exploding_growth"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"Argument {name} must be > 0. Received: {name}={value!r}")
        if not (isinstance(self.window, int) and self.window >= 1):
            raise ValueError(f"Argument window must be >= 1. Received: window={self.window!r}")


LayerNorms = Sequence[tuple[str, "float | Sequence[float]"]]
"""Per layer (input to output): its name and its gradient norm, or norms over logged steps."""


def _series(value: float | Sequence[float]) -> list[float]:
    return [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _format(value: float) -> str:
    return f"{value:.2g}"


def gradient_findings(
    layer_norms: LayerNorms, step: int, thresholds: Thresholds | None = None
) -> list[Finding]:
    """Find vanishing and exploding gradients from per-layer gradient norms.

    Each layer's value is one norm or a sequence of norms over logged steps (oldest first);
    the last ``thresholds.window`` of them are summarized by their median, because single
    steps are noisy. Layers come input to output; the last one is the reference.

    Example:
        >>> findings = gradient_findings([("dense", 3e-7), ("dense_1", 1e-4), ("out", 1.0)], 100)
        >>> findings[0].problem, findings[0].layer
        ('vanishing_gradients', 'dense')
        >>> gradient_findings([("dense", 0.5), ("out", 1.0)], 100)
        []
    """
    thresholds = thresholds or Thresholds()
    if not layer_norms:
        return []
    names = [name for name, _ in layer_norms]
    series = [_series(values)[-thresholds.window :] for _, values in layer_norms]
    if any(not all(math.isfinite(v) for v in s) for s in series):
        return []  # non-finite gradients are reported by nonfinite_finding
    medians = [_median(s) for s in series]
    findings: list[Finding] = []
    last = medians[-1]
    if last > 0 and len(medians) > 1:
        ratios = [m / last for m in medians[:-1]]
        slow = [n for n, r in zip(names, ratios, strict=False) if r < thresholds.vanishing_ratio]
        if ratios[0] < thresholds.vanishing_ratio:
            findings.append(
                Finding(
                    "vanishing_gradients",
                    names[0],
                    step,
                    f"vanishing gradients: {names[0]}'s gradient norm is "
                    f"{_format(ratios[0])} of the output layer's ({names[-1]}); "
                    f"{len(slow)} of the first {len(ratios)} layers barely learn. "
                    "Try He initialization with ELU/SELU, batch normalization, "
                    "or a lower depth.",
                )
            )
        worst = int(np.argmax(ratios))
        if ratios[worst] > thresholds.exploding_ratio:
            findings.append(
                Finding(
                    "exploding_gradients",
                    names[worst],
                    step,
                    f"exploding gradients: {names[worst]}'s gradient norm is "
                    f"{_format(ratios[worst])} times the output layer's ({names[-1]}). "
                    "Try gradient clipping (clipnorm=1.0), a lower learning rate, "
                    "He or LeCun initialization, or batch normalization.",
                )
            )
    global_norms = [math.sqrt(sum(s[i] ** 2 for s in series)) for i in range(min(map(len, series)))]
    growth = global_norms[-1] / global_norms[0] if global_norms and global_norms[0] > 0 else 1.0
    median_global = _median(global_norms)
    if not any(f.problem == "exploding_gradients" for f in findings) and (
        median_global > thresholds.exploding_norm or growth > thresholds.exploding_growth
    ):
        why = (
            f"the global gradient norm is {_format(median_global)}"
            if median_global > thresholds.exploding_norm
            else f"the global gradient norm grew {_format(growth)}-fold in "
            f"{len(global_norms)} logged steps (to {_format(global_norms[-1])})"
        )
        findings.append(
            Finding(
                "exploding_gradients",
                None,
                step,
                f"exploding gradients: {why}. Try a lower learning rate, gradient clipping "
                "(clipnorm=1.0), or batch normalization.",
            )
        )
    return findings


def nonfinite_finding(layer: str | None, step: int) -> Finding:
    """Describe the first step whose gradients held NaN or Inf, and the layer closest to output.

    Example:
        >>> print(nonfinite_finding("dense_3", 63).message)
        non-finite gradients: NaN or Inf first appeared at step 63, in dense_3 (the layer
        closest to the output with NaN/Inf). Lower the learning rate, add gradient clipping
        (clipnorm=1.0), check the inputs and the loss for NaN/Inf, and under mixed precision
        keep the loss scaling that compile() adds.
    """
    where = f", in {layer} (the layer closest to the output with NaN/Inf)" if layer else ""
    return Finding(
        "nonfinite_gradients",
        layer,
        step,
        f"non-finite gradients: NaN or Inf first appeared at step {step}{where}. "
        "Lower the learning rate, add gradient clipping (clipnorm=1.0), check the inputs "
        "and the loss for NaN/Inf, and under mixed precision keep the loss scaling that "
        "compile() adds.",
    )
