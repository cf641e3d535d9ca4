"""Rules that turn activation statistics into findings: dead units and saturated units.

Pure functions of a few numbers per layer, shared by :class:`ActivationDiagnostics` (on the
statistics it just measured) and ``dnnkit report`` (on the medians it reads back from the
event files), so both say the same thing. Each rule returns at most one finding: the worst
layer, naming how many other layers have the same problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keras_dnnkit.diagnostics.findings import Finding

DEAD_THRESHOLD = 0.5
"""Default: report dead units when at least this fraction of a layer's units are dead."""
SATURATED_THRESHOLD = 0.5
"""Default: report saturation when at least this fraction of a layer's units saturate."""


@dataclass(frozen=True)
class LayerActivation:
    """The numbers the activation rules look at for one layer (``None``: not measured).

    Example:
        >>> LayerActivation("dense_3", dead_fraction=0.64, saturated_fraction=None).name
        'dense_3'
    """

    name: str
    dead_fraction: float | None
    saturated_fraction: float | None


def check_threshold(name: str, value: float) -> None:
    """Raise ``ValueError`` unless ``0 < value <= 1``.

    Example:
        >>> check_threshold("dead_threshold", 1.5)
        Traceback (most recent call last):
        ...
        ValueError: Argument dead_threshold must be a fraction in (0, 1]. Received: dead_threshold=1.5
    """  # noqa: E501 -- a doctest's expected output is one line
    if not 0 < value <= 1:
        raise ValueError(
            f"Argument {name} must be a fraction in (0, 1]. Received: {name}={value!r}"
        )


def _worst(
    layers: Sequence[LayerActivation], fractions: Sequence[float | None], threshold: float
) -> tuple[str, float, list[str]] | None:
    hits = [
        (layer.name, fraction)
        for layer, fraction in zip(layers, fractions, strict=True)
        if fraction is not None and fraction >= threshold
    ]
    if not hits:
        return None
    name, fraction = max(hits, key=lambda hit: hit[1])
    return name, fraction, [other for other, _ in hits if other != name]


def _also(others: list[str]) -> str:
    if not others:
        return ""
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    layers = "layer" if len(others) == 1 else "layers"
    return f" ({len(others)} other {layers} too: {shown})"


def dead_units_finding(
    layers: Sequence[LayerActivation], step: int, threshold: float = DEAD_THRESHOLD
) -> Finding | None:
    """Return a ``dead_units`` finding if some layer has ``>= threshold`` dead units.

    Example:
        >>> layers = [LayerActivation("dense_3", 0.64, None), LayerActivation("dense_4", 0.1, None)]
        >>> print(dead_units_finding(layers, step=200).message)
        dead units: 64% of dense_3's units output nothing (<= 0) for every probe example, so they get no gradient and stop learning. Try leaky ReLU/ELU, He initialization, or a lower learning rate.
    """  # noqa: E501 -- a doctest's expected output is one line
    worst = _worst(layers, [layer.dead_fraction for layer in layers], threshold)
    if worst is None:
        return None
    name, fraction, others = worst
    return Finding(
        "dead_units",
        name,
        step,
        f"dead units: {fraction:.0%} of {name}'s units output nothing (<= 0) for every probe "
        f"example, so they get no gradient and stop learning{_also(others)}. Try leaky "
        "ReLU/ELU, He initialization, or a lower learning rate.",
    )


def saturated_units_finding(
    layers: Sequence[LayerActivation], step: int, threshold: float = SATURATED_THRESHOLD
) -> Finding | None:
    """Return a ``saturated_units`` finding if some layer has ``>= threshold`` saturated units.

    Example:
        >>> layers = [LayerActivation("dense_1", None, 0.9), LayerActivation("dense_2", None, 0.8)]
        >>> print(saturated_units_finding(layers, step=100).message)
        saturated units: 90% of dense_1's sigmoid/tanh units sit within 1% of their bounds for most probe examples, so their gradients nearly vanish (1 other layer too: dense_2). Try ReLU-family activations with He initialization, Glorot initialization for sigmoid/tanh, or batch normalization.
    """  # noqa: E501 -- a doctest's expected output is one line
    worst = _worst(layers, [layer.saturated_fraction for layer in layers], threshold)
    if worst is None:
        return None
    name, fraction, others = worst
    return Finding(
        "saturated_units",
        name,
        step,
        f"saturated units: {fraction:.0%} of {name}'s sigmoid/tanh units sit within 1% of "
        f"their bounds for most probe examples, so their gradients nearly vanish"
        f"{_also(others)}. Try ReLU-family activations with He initialization, Glorot "
        "initialization for sigmoid/tanh, or batch normalization.",
    )


def activation_findings(
    layers: Sequence[LayerActivation],
    step: int,
    *,
    dead_threshold: float = DEAD_THRESHOLD,
    saturated_threshold: float = SATURATED_THRESHOLD,
) -> list[Finding]:
    """Return the dead-unit and saturation findings (at most one each) for these layers.

    Example:
        >>> [f.problem for f in activation_findings([LayerActivation("d", 1.0, None)], step=0)]
        ['dead_units']
    """
    findings = [
        dead_units_finding(layers, step, dead_threshold),
        saturated_units_finding(layers, step, saturated_threshold),
    ]
    return [finding for finding in findings if finding is not None]
