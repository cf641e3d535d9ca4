"""Findings: what is wrong with training, in plain words, and what to try.

A :class:`Finding` is one problem at one place (a range of layers, or the whole model) over
the steps it held: ``first_step`` to ``last_step``, ``"current"`` while it holds, then
``"resolved"`` (at ``resolved_step``) when the statistics over the recent window no longer
show it. The rules that detect problems live beside the statistics they read
(``_gradient_rules``, ``_activation_findings``, ``_training_findings``, ``_recipe``); the
lifecycle (``_lifecycle``) merges what they see step after step into findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

Problem = Literal[
    "vanishing_gradients",
    "exploding_gradients",
    "nonfinite_gradients",
    "updates_too_small",
    "updates_too_large",
    "dead_units",
    "saturated_units",
    "symmetric_units",
    "unnormalized_inputs",
    "overfitting",
    "recipe",
]
"""The problems diagnostics can report (stable names: the findings file and CI use them)."""

PROBLEMS: tuple[Problem, ...] = (
    "vanishing_gradients",
    "exploding_gradients",
    "nonfinite_gradients",
    "updates_too_small",
    "updates_too_large",
    "dead_units",
    "saturated_units",
    "symmetric_units",
    "unnormalized_inputs",
    "overfitting",
    "recipe",
)

GRADIENT_PROBLEMS: tuple[Problem, ...] = (
    "vanishing_gradients",
    "exploding_gradients",
    "updates_too_small",
    "updates_too_large",
)
"""Problems judged from gradient and update norms (meaningless once they hold NaN/Inf)."""

Status = Literal["current", "resolved"]


@dataclass(frozen=True)
class Finding:
    """One problem at one place, over the steps it held, with what to try.

    Args:
        problem: one of :data:`PROBLEMS`.
        layers: the layers concerned, input to output (empty: the model as a whole).
        first_step: the optimizer step it was first seen at.
        last_step: the last step it was seen at.
        message: what was measured, in plain words.
        advice: what to try, fitted to the model (it names no fix the model already has).
        status: ``"current"`` or ``"resolved"``.
        resolved_step: the step it stopped holding at (``None`` while current).

    Example:
        >>> finding = Finding("dead_units", ("dense_3",), 200, 400, "dead units: ...", "Try ...")
        >>> finding.layer, finding.step, finding.to_dict()["status"]
        ('dense_3', 200, 'current')
        >>> Finding.from_dict(finding.to_dict()) == finding
        True
    """

    problem: Problem
    layers: tuple[str, ...]
    first_step: int
    last_step: int
    message: str
    advice: str = ""
    status: Status = "current"
    resolved_step: int | None = None

    @property
    def layer(self) -> str | None:
        """The first layer concerned (``None``: the model as a whole)."""
        return self.layers[0] if self.layers else None

    @property
    def step(self) -> int:
        """The step the finding was first seen at."""
        return self.first_step

    @property
    def current(self) -> bool:
        """Whether the problem still held at the last check."""
        return self.status == "current"

    @property
    def text(self) -> str:
        """The message followed by the advice."""
        return f"{self.message} {self.advice}".strip()

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as the findings file writes it (see ``_findings_file``)."""
        return {
            "problem": self.problem,
            "layers": list(self.layers),
            "first_step": self.first_step,
            "last_step": self.last_step,
            "status": self.status,
            "resolved_step": self.resolved_step,
            "message": self.message,
            "advice": self.advice,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_dict`'s output."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["layers"] = tuple(values.get("layers") or ())
        return cls(**values)

    def resolved_at(self, step: int) -> Finding:
        """Return this finding marked resolved at ``step``."""
        return replace(self, status="resolved", resolved_step=step)


@dataclass(frozen=True)
class Observation:
    """What one rule sees at one check: a problem, where, and what to say about it.

    Example:
        >>> Observation("overfitting", (), "overfitting: ...", "Try early stopping.").layers
        ()
    """

    problem: Problem
    layers: tuple[str, ...]
    message: str
    advice: str


# ---------------------------------------------------------------- thresholds
_POSITIVE = (
    "vanishing_ratio",
    "exploding_ratio",
    "exploding_norm",
    "exploding_growth",
    "update_ratio_low",
    "update_ratio_high",
)


@dataclass(frozen=True)
class Thresholds:
    """When gradient and update statistics count as a problem.

    The defaults are calibrated on real training (``benchmarks/diagnosis.py``; the
    README's table): the typical (median) layer's update/weight ratio, median over the
    window, was 1.2e-3 to 2.7e-3 in every healthy case (Nadam, Adam, SGD with momentum;
    single layers up to 2e-2 in the first steps of a CNN under Adam 3e-3), 1.4e-5 for 20
    sigmoid layers with N(0, 1) weights under SGD 0.01 and 1e-7 under SGD 1e-7; 0.07 to
    0.33 for a SimpleRNN under SGD 2.0. Hence ``update_ratio_low=1e-4`` and
    ``update_ratio_high=0.05``. The first layer's gradient norm relative to the last's was
    4.5e-13 for sigmoid + Glorot (vanishing) and 0.05 to 4.5 in every other case.

    Args:
        vanishing_ratio: the first layer's gradient norm below this fraction of the last
            layer's (median over the window) is reported as vanishing gradients.
        exploding_ratio: a layer's gradient norm above this multiple of the last layer's is
            reported as exploding gradients.
        exploding_norm: a global gradient norm above this (median over the window) is
            reported as exploding gradients.
        exploding_growth: so is a global norm that grew by more than this factor from the
            first to the last logged step of the window.
        update_ratio_low: a median layer's update/weight ratio (||delta w|| / ||w||, median
            over the window) below this is reported as updates too small (the rule of thumb
            is about 1e-3).
        update_ratio_high: above this, updates too large.
        window: how many logged steps the medians are taken over; a finding is resolved
            when the median over the window no longer shows it.
        overfitting_patience: epochs without a new best validation loss, while the
            training loss keeps falling, before overfitting is reported.

    Example:
        >>> Thresholds(vanishing_ratio=1e-4).vanishing_ratio
        0.0001
        >>> Thresholds(window=0)
        Traceback (most recent call last):
        ...
        ValueError: Argument window must be an int >= 1. Received: window=0
    """

    vanishing_ratio: float = 1e-3
    exploding_ratio: float = 1e3
    exploding_norm: float = 1e4
    exploding_growth: float = 1e3
    update_ratio_low: float = 1e-4
    update_ratio_high: float = 0.05
    window: int = 5
    overfitting_patience: int = 5

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(
                    f"Argument {name} must be a number > 0. Received: {name}={value!r}"
                )
        for name in ("window", "overfitting_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Argument {name} must be an int >= 1. Received: {name}={value!r}")
        if self.update_ratio_low >= self.update_ratio_high:
            raise ValueError(
                "Argument update_ratio_low must be below update_ratio_high. Received: "
                f"update_ratio_low={self.update_ratio_low}, "
                f"update_ratio_high={self.update_ratio_high}"
            )


def format_number(value: float) -> str:
    """Two significant digits, as findings print numbers.

    Example:
        >>> format_number(3.14159e-12), format_number(float("nan"))
        ('3.1e-12', 'nan')
    """
    return f"{value:.2g}" if math.isfinite(value) else str(value)


def layer_list(layers: tuple[str, ...] | list[str], limit: int = 4) -> str:
    """Name layers in a sentence: all of a few, else the first and last of a range.

    Example:
        >>> layer_list(["a", "b"]), layer_list([f"d{i}" for i in range(7)])
        ('a, b', 'd0 ... d6 (7 layers)')
    """
    if len(layers) <= limit:
        return ", ".join(layers)
    return f"{layers[0]} ... {layers[-1]} ({len(layers)} layers)"
