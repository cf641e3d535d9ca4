"""Activation statistics of one layer on a probe batch: mean, variance, dead and saturated units.

A *unit* is one entry of the last axis (a dense unit, a convolution channel); a unit's values
are all its entries across the probe examples (and positions, for convolutions).

- **Dead** (ReLU family): the unit's output is at its floor for every probe example, so no
  gradient flows through it: ``<= 0`` for ReLU; ``< 0`` for leaky ReLU / PReLU / RReLU (the
  unit learns only through the small leak slope); within 5 % of the lower bound for ELU / SELU
  (their gradient there is below 5 % of the linear regime).
- **Saturated** (sigmoid / tanh family): the unit's output is within 1 % of a bound (sigmoid
  ``< 0.01`` or ``> 0.99``, ``|tanh| > 0.99``) for at least half of its values
  (most probe examples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ActivationFamily = Literal["relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh"]
"""Activations whose units can die (the ReLU family) or saturate (sigmoid, tanh)."""

DEAD_FAMILIES: tuple[ActivationFamily, ...] = ("relu", "leaky_relu", "elu", "selu")
SATURATING_FAMILIES: tuple[ActivationFamily, ...] = ("sigmoid", "tanh")

SATURATION_MARGIN = 0.01
"""A sigmoid output within this distance of 0 or 1 (a tanh output of -1 or 1) is saturated."""
SATURATED_SHARE = 0.5
"""A unit is saturated when at least this share of its values (most examples) are."""
FLOOR_SHARE = 0.95
"""An ELU/SELU output below this share of the lower bound counts as at the floor."""
_SELU_FLOOR = -1.0507009873554805 * 1.6732632423543772

_FAMILY_BY_NAME: dict[str, ActivationFamily] = {
    "relu": "relu",
    "relu6": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "selu": "selu",
    "sigmoid": "sigmoid",
    "hard_sigmoid": "sigmoid",
    "tanh": "tanh",
    "hard_tanh": "tanh",
}


@dataclass(frozen=True)
class ActivationStatistics:
    """What one layer's outputs looked like on the probe batch.

    ``variance_ratio`` is the output variance over the input variance (Glorot & Bengio: about
    1 keeps signals from vanishing or exploding); ``None`` when the input is constant.
    ``dead_fraction`` / ``saturated_fraction`` are ``None`` for activations that cannot die /
    saturate.

    Example:
        >>> ActivationStatistics(0.5, 0.25, 1.0, 0.0, None).dead_fraction
        0.0
    """

    mean: float
    variance: float
    variance_ratio: float | None
    dead_fraction: float | None
    saturated_fraction: float | None


def activation_family(layer: Any) -> ActivationFamily | None:
    """Return the family of the activation a layer applies last, or ``None`` (e.g. linear).

    Looks at activation layers (``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, randomized leaky
    ReLU, ``Activation``) and at the ``activation`` argument of layers such as ``Dense``.

    Example:
        >>> import keras
        >>> activation_family(keras.layers.Dense(3, activation="tanh"))
        'tanh'
        >>> activation_family(keras.layers.LeakyReLU()), activation_family(keras.layers.Dense(3))
        ('leaky_relu', None)
    """
    import keras

    from keras_dnnkit.layers import RandomizedLeakyReLU

    if isinstance(layer, keras.layers.ReLU):
        return "leaky_relu" if float(layer.negative_slope) > 0 else "relu"
    if isinstance(layer, (keras.layers.LeakyReLU, keras.layers.PReLU, RandomizedLeakyReLU)):
        return "leaky_relu"
    if isinstance(layer, keras.layers.ELU):
        return "elu"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    # A ConfiguredActivation carries its registry name; functions carry __name__.
    name = getattr(activation, "activation", None)
    if not isinstance(name, str):
        name = getattr(activation, "__name__", "")
    return _FAMILY_BY_NAME.get(str(name))


def activation_floor(layer: Any) -> float | None:
    """Return the lower bound of an ELU / SELU layer's output (``-alpha``), else ``None``.

    Example:
        >>> import keras
        >>> activation_floor(keras.layers.ELU(alpha=0.5)), activation_floor(keras.layers.Dense(2))
        (-0.5, None)
    """
    family = activation_family(layer)
    if family == "selu":
        return _SELU_FLOOR
    if family != "elu":
        return None
    alpha = getattr(layer, "alpha", None)
    if alpha is None:  # Dense(activation=...): a configured activation may set alpha
        alpha = getattr(getattr(layer, "activation", None), "config", {}).get("alpha", 1.0)
    return -abs(float(alpha))


def activation_statistics(
    inputs: Sequence[np.ndarray],
    output: np.ndarray,
    family: ActivationFamily | None,
    floor: float | None = None,
) -> ActivationStatistics:
    """Return the statistics of a layer whose inputs and output on the probe batch are given.

    Args:
        inputs: the layer's input arrays (several for layers such as ``Add``).
        output: the layer's output array, examples first, units last.
        family: the layer's activation family (see :func:`activation_family`).
        floor: the lower bound of an ELU / SELU output (see :func:`activation_floor`);
            default ``-1`` for ELU, SELU's own for SELU.

    Example:
        >>> import numpy as np
        >>> x = np.array([[-1.0, 2.0], [1.0, -2.0]])
        >>> out = np.maximum(x, 0) * np.array([0.0, 1.0])  # unit 0 is always 0
        >>> activation_statistics([x], out, "relu").dead_fraction
        0.5
    """
    values = np.asarray(output, dtype=np.float64)
    variance = float(np.var(values))
    flat_inputs = [np.asarray(x, dtype=np.float64).ravel() for x in inputs]
    input_variance = float(np.var(np.concatenate(flat_inputs))) if flat_inputs else 0.0
    ratio = variance / input_variance if input_variance > 0 else None
    units = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
    dead = saturated = None
    if family in DEAD_FAMILIES:
        dead = float(np.mean(np.all(_at_floor(units, family, floor), axis=0)))
    if family in SATURATING_FAMILIES:
        share = np.mean(_saturated(units, family), axis=0)
        saturated = float(np.mean(share >= SATURATED_SHARE))
    return ActivationStatistics(float(np.mean(values)), variance, ratio, dead, saturated)


def _at_floor(units: np.ndarray, family: ActivationFamily, floor: float | None) -> np.ndarray:
    if family == "relu":
        return units <= 0
    if family == "leaky_relu":
        return units < 0
    if floor is None:
        floor = _SELU_FLOOR if family == "selu" else -1.0
    return units <= FLOOR_SHARE * floor


def _saturated(units: np.ndarray, family: ActivationFamily) -> np.ndarray:
    if family == "sigmoid":
        return (units < SATURATION_MARGIN) | (units > 1 - SATURATION_MARGIN)
    saturated: np.ndarray = np.abs(units) > 1 - SATURATION_MARGIN
    return saturated
