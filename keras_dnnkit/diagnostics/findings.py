"""Findings: what is wrong with training, in plain words, and what to try."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

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
