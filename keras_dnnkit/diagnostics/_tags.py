"""TensorBoard tag names shared by the diagnostics callbacks and ``dnnkit report``.

Layer tags carry the layer's position (input to output) so that TensorBoard and the report
list layers in network order: ``gradients/norm/03_dense_2``.
"""

from __future__ import annotations

import re

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

_LAYER_TAG = re.compile(r"^(?P<prefix>.+)/(?P<index>\d+)_(?P<layer>[^/]+)$")


def layer_tag(prefix: str, index: int, layer_path: str) -> str:
    """Return the tag of one layer's statistic; nested paths use dots (``encoder.dense``).

    Example:
        >>> layer_tag(GRADIENT_NORM, 3, "encoder/dense_2")
        'gradients/norm/03_encoder.dense_2'
    """
    return f"{prefix}/{index:02d}_{layer_path.replace('/', '.')}"


def parse_layer_tag(tag: str) -> tuple[str, int, str] | None:
    """Return ``(prefix, index, layer)`` of a layer tag, or ``None`` for other tags.

    Example:
        >>> parse_layer_tag("gradients/norm/03_encoder.dense_2")
        ('gradients/norm', 3, 'encoder.dense_2')
        >>> parse_layer_tag("gradients/global_norm") is None
        True
    """
    match = _LAYER_TAG.match(tag)
    if match is None:
        return None
    return match["prefix"], int(match["index"]), match["layer"]
