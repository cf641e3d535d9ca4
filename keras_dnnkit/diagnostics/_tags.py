"""TensorBoard tag names shared by the diagnostics callbacks, ``dnnkit report`` and the dashboard.

A layer's tag is its statistic and its name, nothing else: ``gradients/norm/hidden_04``.
The same architecture gives the same tags in every run, so TensorBoard pairs them across
runs. The layers' order (input to output) is kept apart, in the run's layer-order file
(see :mod:`keras_dnnkit.diagnostics._layer_order`), not in the tag.
"""

from __future__ import annotations

GRADIENT_NORM = "gradients/norm"
GRADIENT_MEAN_ABS = "gradients/mean_abs"
GRADIENT_MAX_ABS = "gradients/max_abs"
GRADIENT_FLOW = "gradients/flow"  # a layer's gradient norm / the last layer's
GRADIENT_GLOBAL_NORM = "gradients/global_norm"
GRADIENT_HISTOGRAM = "gradients/histogram"
NONFINITE_STEP = "gradients/nonfinite_step"  # logged once, at the step it happened
UPDATE_RATIO = "updates/ratio"  # ||delta w|| / ||w||
ACTIVATION_MEAN = "activations/mean"
ACTIVATION_VARIANCE = "activations/variance"
ACTIVATION_VARIANCE_RATIO = "activations/variance_ratio"  # output variance / input variance
DEAD_FRACTION = "activations/dead_fraction"
SATURATED_FRACTION = "activations/saturated_fraction"
LEARNING_RATE = "optimizer/learning_rate"
MOMENTUM = "optimizer/momentum"
FINDINGS = "findings"
PER_VARIABLE = "/per_variable"  # suffix of a prefix for per-variable tags

LAYER_PREFIXES: tuple[str, ...] = (
    GRADIENT_NORM,
    GRADIENT_MEAN_ABS,
    GRADIENT_MAX_ABS,
    GRADIENT_FLOW,
    GRADIENT_HISTOGRAM,
    UPDATE_RATIO,
    ACTIVATION_MEAN,
    ACTIVATION_VARIANCE,
    ACTIVATION_VARIANCE_RATIO,
    DEAD_FRACTION,
    SATURATED_FRACTION,
)
"""The prefixes followed by a layer's name."""


def layer_tag(prefix: str, index: int, layer_path: str) -> str:
    """Return the tag of one layer's statistic; nested paths use dots (``encoder.dense``).

    ``index`` (the layer's position) is not part of the tag: the same layer name gives
    the same tag whatever layers come before it. The position is kept in the run's
    layer-order file.

    Example:
        >>> layer_tag(GRADIENT_NORM, 3, "encoder/dense_2")
        'gradients/norm/encoder.dense_2'
    """
    del index  # the order lives in the layer-order metadata, not in the tag
    return f"{prefix}/{layer_name(layer_path)}"


def layer_name(layer_path: str) -> str:
    """Return a layer's name as its tags spell it (nested paths joined with dots).

    Example:
        >>> layer_name("encoder/dense_2")
        'encoder.dense_2'
    """
    return layer_path.replace("/", ".")


def parse_layer_tag(tag: str) -> tuple[str, str] | None:
    """Return ``(prefix, layer)`` of a layer tag, or ``None`` for other tags.

    Per-variable tags have the prefix ``<statistic>/per_variable``.

    Example:
        >>> parse_layer_tag("gradients/norm/encoder.dense_2")
        ('gradients/norm', 'encoder.dense_2')
        >>> parse_layer_tag("gradients/norm/per_variable/dense.kernel")
        ('gradients/norm/per_variable', 'dense.kernel')
        >>> parse_layer_tag("gradients/global_norm") is None
        True
    """
    prefix, slash, layer = tag.rpartition("/")
    if not slash or not layer:
        return None
    statistic = prefix[: -len(PER_VARIABLE)] if prefix.endswith(PER_VARIABLE) else prefix
    if statistic not in LAYER_PREFIXES:
        return None
    return prefix, layer
