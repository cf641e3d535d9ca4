"""Rules that turn activation statistics into observations: dead, saturated, unnormalized inputs.

Pure functions of a few numbers per layer (medians over the last probes, so one odd probe
does not make or resolve a finding). Each rule returns at most one observation naming every
layer concerned, input to output.

Input-scale thresholds, as measured on the diagnosis benchmark: the standardized digits have
a root mean square of 0.98 (single rare-pixel features reach 35); the same digits as 0-255
pixels 1.2e2 (an 8 x 100 ReLU net on them reached 0.77 validation accuracy in 6 epochs);
images scaled to [0, 1] stay below 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keras_dnnkit.diagnostics._activation_statistics import ActivationFamily
from keras_dnnkit.diagnostics._model_facts import ModelFacts
from keras_dnnkit.diagnostics.findings import Observation, format_number, layer_list

DEAD_THRESHOLD = 0.5
"""Default: report dead units when at least this fraction of a layer's units are dead."""
SATURATED_THRESHOLD = 0.5
"""Default: report saturation when at least this fraction of a layer's units saturate."""
INPUT_SCALE_HIGH = 5.0
"""Inputs whose root mean square exceeds this are not standardized (0-255 pixels: ~100)."""
INPUT_SCALE_LOW = 0.01
"""Inputs whose root mean square is below this are scaled far too small."""
INPUT_SPREAD = 100.0
"""Features whose standard deviations differ by more than this factor need standardizing."""
SELU_MEAN = 0.5
"""SELU networks: a median feature mean beyond this (in either direction) is not centred."""
SELU_STD = (0.5, 2.0)
"""SELU networks: the median feature standard deviation must lie in this range."""


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
    family: ActivationFamily | None = None
    floor: float | None = None


def check_threshold(name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a number with ``0 < value <= 1``.

    Example:
        >>> check_threshold("dead_threshold", 1.5)
        Traceback (most recent call last):
        ...
        ValueError: Argument dead_threshold must be a fraction in (0, 1]. Received: dead_threshold=1.5
    """  # noqa: E501 -- a doctest's expected output is one line
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(
            f"Argument {name} must be a fraction in (0, 1]. Received: {name}={value!r}"
        )


def _floor_words(layer: LayerActivation) -> str:
    if layer.family == "leaky_relu":
        return "below 0, where only the leak's small slope passes gradient"
    if layer.family in ("elu", "selu"):
        floor = layer.floor if layer.floor is not None else -1.0
        return f"at their floor of {floor:.3g} (within 5 % of it), where the gradient is ~0"
    return "at 0 (ReLU's floor)"


def dead_units(
    layers: Sequence[LayerActivation], threshold: float = DEAD_THRESHOLD
) -> Observation | None:
    """Return a ``dead_units`` observation if some layers have ``>= threshold`` dead units.

    Example:
        >>> layers = [LayerActivation("d3", 0.64, None, "relu"), LayerActivation("d4", 0.1, None)]
        >>> print(dead_units(layers).message)
        dead units: 64% of d3's units sit at 0 (ReLU's floor) for every probe example, so they get no gradient and stop learning.
    """  # noqa: E501 -- a doctest's expected output is one line
    hits = [
        layer
        for layer in layers
        if layer.dead_fraction is not None and layer.dead_fraction >= threshold
    ]
    if not hits:
        return None
    worst = max(hits, key=lambda layer: layer.dead_fraction or 0.0)
    others = (
        "" if len(hits) == 1 else f" ({len(hits)} layers: {layer_list([h.name for h in hits])})"
    )
    return Observation(
        "dead_units",
        tuple(h.name for h in hits),
        f"dead units: {worst.dead_fraction:.0%} of {worst.name}'s units sit "
        f"{_floor_words(worst)} for every probe example, so they get no gradient and stop "
        f"learning{others}.",
        "",
    )


def dead_advice(facts: ModelFacts, negative_bias: float | None) -> str:
    """What to try against dead units (a negative bias is named when there is one).

    Example:
        >>> dead_advice(ModelFacts(), negative_bias=-3.0)
        'The biases are negative (mean -3): initialize them at 0. Try leaky ReLU or ELU (their units never die), He initialization, or a lower learning rate.'
    """  # noqa: E501 -- a doctest's expected output is one line
    advice = (
        "Try leaky ReLU or ELU (their units never die), He initialization, or a lower "
        "learning rate."
    )
    if negative_bias is not None:
        return (
            f"The biases are negative (mean {format_number(negative_bias)}): initialize them "
            f"at 0. {advice}"
        )
    return advice


def saturated_units(
    layers: Sequence[LayerActivation], facts: ModelFacts, threshold: float = SATURATED_THRESHOLD
) -> Observation | None:
    """Return a ``saturated_units`` observation if some layers have ``>= threshold`` saturated.

    Example:
        >>> layers = [LayerActivation("d1", None, 0.9), LayerActivation("d2", None, 0.8)]
        >>> found = saturated_units(layers, ModelFacts())
        >>> found.layers, "Glorot" in found.advice
        (('d1', 'd2'), False)
    """
    hits = [
        layer
        for layer in layers
        if layer.saturated_fraction is not None and layer.saturated_fraction >= threshold
    ]
    if not hits:
        return None
    worst = max(hits, key=lambda layer: layer.saturated_fraction or 0.0)
    others = (
        "" if len(hits) == 1 else f" ({len(hits)} layers: {layer_list([h.name for h in hits])})"
    )
    norm = "" if facts.batch_norm else ", batch normalization before the activations"
    return Observation(
        "saturated_units",
        tuple(h.name for h in hits),
        f"saturated units: {worst.saturated_fraction:.0%} of {worst.name}'s sigmoid/tanh "
        "units sit within 1% of their bounds for most probe examples, so their gradients "
        f"nearly vanish{others}.",
        "Try ReLU-family activations (ELU, leaky ReLU) with He initialization, smaller "
        f"initial weights (large ones push sigmoid/tanh into their flat tails){norm}.",
    )


def input_scale(inputs: np.ndarray) -> tuple[float, float, float, float]:
    """Return the inputs' root mean square, median |feature mean|, median feature std, spread.

    Features are the last axis; constant features are left out of the std and the spread
    (max over median of the feature standard deviations).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(500, 4))
        >>> [round(v, 1) for v in input_scale(x * [1, 1, 1, 1000])][:1]
        [509.3]
    """
    x = np.asarray(inputs, dtype=np.float64)
    features = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
    means, stds = features.mean(axis=0), features.std(axis=0)
    varying = stds[stds > 1e-8 * max(1.0, float(np.max(np.abs(features))))]
    spread = float(varying.max() / np.median(varying)) if len(varying) else 1.0
    median_std = float(np.median(varying)) if len(varying) else 0.0
    rms = float(np.sqrt(np.mean(features**2)))
    return rms, float(np.median(np.abs(means))), median_std, spread


def unnormalized_inputs(layer: str, inputs: np.ndarray, facts: ModelFacts) -> Observation | None:
    """Return an ``unnormalized_inputs`` observation when the first layer's inputs need scaling.

    Any network: a root mean square above :data:`INPUT_SCALE_HIGH` or below
    :data:`INPUT_SCALE_LOW`, or feature scales :data:`INPUT_SPREAD` times apart. A SELU
    network (self-normalization assumes standardized inputs): also a median feature mean
    beyond :data:`SELU_MEAN` or a median feature std outside :data:`SELU_STD`.

    Example:
        >>> pixels = np.random.default_rng(0).integers(0, 256, size=(100, 64))
        >>> unnormalized_inputs("dense", pixels, ModelFacts()).problem
        'unnormalized_inputs'
    """
    if not np.issubdtype(np.asarray(inputs).dtype, np.floating) and not np.issubdtype(
        np.asarray(inputs).dtype, np.integer
    ):
        return None
    rms, mean, std, spread = input_scale(inputs)
    selu = "selu" in facts.families.values()
    problems = []
    if rms > INPUT_SCALE_HIGH or rms < INPUT_SCALE_LOW:
        problems.append(f"their root mean square is {format_number(rms)}")
    if spread > INPUT_SPREAD:
        problems.append(f"feature scales differ {format_number(spread)}-fold")
    if selu and not problems and (mean > SELU_MEAN or not SELU_STD[0] <= std <= SELU_STD[1]):
        problems.append(
            f"a typical feature has mean {format_number(mean)} and standard deviation "
            f"{format_number(std)}, and a SELU network self-normalizes only from "
            "standardized inputs"
        )
    if not problems:
        return None
    return Observation(
        "unnormalized_inputs",
        (layer,),
        f"unnormalized inputs: {layer}'s inputs are far from zero mean and unit variance: "
        + "; ".join(problems)
        + ".",
        "Standardize them: put a keras.layers.Normalization layer first and adapt it on the "
        "training data (normalization.adapt(x_train)), or scale images to [0, 1]"
        + (" (a SELU network needs mean 0, variance 1)" if selu else "")
        + ".",
    )
