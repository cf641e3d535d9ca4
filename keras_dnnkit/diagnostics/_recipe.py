"""Checks of the model itself: its recipe (once, at train begin) and symmetric units (weights).

The recipe is held against chapter 11's guidelines:

- a self-normalizing (SELU) network needs LeCun normal initialization, ``AlphaDropout``
  rather than plain ``Dropout``, and a plain sequential stack (no skip connections, no
  recurrent layers); its inputs must be standardized (see ``unnormalized_inputs``);
- a deep stack of sigmoid/tanh layers (:data:`DEEP_SATURATING` or more) needs
  normalization between them, or its gradients vanish.

Symmetric units: a layer whose units all have the same incoming weights and bias (zero or
constant initialization) gets the same gradient for each of them, so its units stay
identical and the layer works as a single unit. The model's output layers are not judged
(distinct targets break their symmetry at the first step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_dnnkit import _compat
from keras_dnnkit.diagnostics._model_facts import ModelFacts, walk_layers
from keras_dnnkit.diagnostics.findings import Observation, layer_list

DEEP_SATURATING = 5
"""This many hidden sigmoid/tanh layers without normalization break the recipe."""
SYMMETRY_TOLERANCE = 1e-6
"""Units whose weights differ by at most this share of the largest weight are identical."""

_MERGE = ("Add", "Concatenate", "Multiply", "Average", "Subtract", "Maximum", "Minimum", "Dot")


def output_layers(model: Any) -> set[str]:
    """The names of the layers whose outputs are the model's outputs.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="out")])
        >>> output_layers(model)
        {'out'}
    """
    names = set()
    for tensor in getattr(model, "outputs", None) or []:
        node = _compat.producing_node(tensor)
        if node is not None:
            names.add(str(node.operation.name))
    layers = getattr(model, "layers", None) or []
    if not names and layers:
        names.add(str(layers[-1].name))
    return names


def _is_lecun_normal(initializer: Any) -> bool:
    import keras

    if isinstance(initializer, keras.initializers.LecunNormal):
        return True
    if isinstance(initializer, keras.initializers.VarianceScaling):
        return (
            float(initializer.scale) == 1.0
            and initializer.mode == "fan_in"
            and "normal" in str(initializer.distribution)
        )
    return False


def recipe(model: Any, facts: ModelFacts) -> Observation | None:
    """Return a ``recipe`` observation listing every guideline the model breaks, or ``None``.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(8, activation="selu", name="h"),
        ...     keras.layers.Dropout(0.2, name="dropout"),
        ...     keras.layers.Dense(1, name="out")])
        >>> from keras_dnnkit.diagnostics._model_facts import model_facts
        >>> print(recipe(model, model_facts(model)).message)
        recipe: h is a SELU layer without LeCun normal initialization; dropout is a plain Dropout in a SELU network.
    """  # noqa: E501 -- a doctest's expected output is one line
    outputs = output_layers(model)
    layers = dict(walk_layers(model))
    issues: list[str] = []
    advice: list[str] = []
    concerned: list[str] = []
    selu = [p for p, f in facts.families.items() if f == "selu"]
    if selu:
        init = [
            p
            for p in selu
            if hasattr(layers[p], "kernel_initializer")
            and not _is_lecun_normal(layers[p].kernel_initializer)
        ]
        if init:
            issues.append(
                f"{layer_list(init)} {'is a' if len(init) == 1 else 'are'} SELU "
                f"layer{'s' if len(init) > 1 else ''} without LeCun normal initialization"
            )
            advice.append("kernel_initializer='lecun_normal' on SELU layers")
            concerned += init
        dropout = [p for p, kind in facts.kinds.items() if kind == "Dropout"]
        if dropout:
            issues.append(
                f"{layer_list(dropout)} {'is a' if len(dropout) == 1 else 'are'} "
                "plain Dropout in a SELU network"
            )
            advice.append("AlphaDropout instead of Dropout (it keeps the mean and variance)")
            concerned += dropout
        other = [p for p, kind in facts.kinds.items() if kind in _MERGE] + (
            [p for p, kind in facts.kinds.items() if "RNN" in kind or kind in ("LSTM", "GRU")]
        )
        if other:
            issues.append(f"the SELU network is not a plain sequential stack ({layer_list(other)})")
            advice.append(
                "a sequential stack of dense layers for self-normalization (or ELU "
                "with batch normalization for other architectures)"
            )
            concerned += other
    saturating = [
        p
        for p, f in facts.families.items()
        if f in ("sigmoid", "tanh")
        and p.split(".")[-1] not in outputs
        and facts.kinds.get(p) not in ("LSTM", "GRU", "SimpleRNN", "Activation")
    ]
    if len(saturating) >= DEEP_SATURATING and not (facts.batch_norm or facts.layer_norm):
        issues.append(
            f"{len(saturating)} stacked sigmoid/tanh layers without batch normalization: "
            f"{layer_list(saturating)}"
        )
        advice.append(
            "ReLU-family activations with He initialization, or batch "
            "normalization between the sigmoid/tanh layers"
        )
        concerned += saturating
    if not issues:
        return None
    return Observation(
        "recipe",
        tuple(dict.fromkeys(concerned)),
        "recipe: " + "; ".join(issues) + ".",
        "Use " + "; ".join(advice) + ".",
    )


def _array(variable: Any) -> np.ndarray:
    from keras_dnnkit._numbers import to_array

    return to_array(variable)


def _identical(values: np.ndarray) -> bool:
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    spread = float(np.max(np.abs(values - values[:, :1]))) if values.size else 0.0
    return spread <= SYMMETRY_TOLERANCE * scale or scale == 0.0


def symmetric_units(model: Any) -> Observation | None:
    """Return a ``symmetric_units`` observation naming the layers whose units are identical.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(8, kernel_initializer="zeros", name="h"),
        ...     keras.layers.Dense(1, name="out")])
        >>> symmetric_units(model).layers
        ('h',)
    """
    outputs = output_layers(model)
    symmetric = []
    for path, layer in walk_layers(model):
        if path.split(".")[-1] in outputs or getattr(layer, "layers", None):
            continue
        try:
            kernel = getattr(layer, "kernel", None)
        except (AttributeError, ValueError):  # not built, or a kernel made at call time
            kernel = None
        if kernel is None or not layer.trainable or len(kernel.shape) < 2:
            continue
        units = int(kernel.shape[-1])
        if units < 2:
            continue
        weights = _array(kernel).reshape(-1, units)
        bias = getattr(layer, "bias", None)
        if bias is not None:
            values = _array(bias).reshape(1, -1)
            if values.shape[1] == units:
                weights = np.concatenate([weights, values])
        if _identical(weights):
            symmetric.append(path)
    if not symmetric:
        return None
    return Observation(
        "symmetric_units",
        tuple(symmetric),
        f"symmetric units: every unit of {layer_list(symmetric)} has the same weights and "
        "bias, so all get the same gradient and stay identical: each such layer works as "
        "one unit.",
        "Initialize the weights randomly (he_normal for ReLU/ELU, glorot_uniform for "
        "sigmoid/tanh, lecun_normal for SELU), not with zeros or a constant.",
    )
