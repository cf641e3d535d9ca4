"""Every touch of Keras or TensorFlow internals, in one place (lead's part; merged with #17)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

# Keras >= 3.5: ``BaseOptimizer.apply`` unscales, then calls this method, which clips
# (``_clip_gradients``) and updates; an override on the instance sees unscaled, pre-clip
# gradients on every backend (checked on 3.5-3.15).
APPLY_GRADIENTS_METHOD = "_backend_apply_gradients"


@contextlib.contextmanager
def unlowered_conditionals() -> Iterator[None]:
    """Keep the ``tf.cond``s built inside as ``If`` ops (TF 2.16-2.21's private switch).

    Where the switch does not exist, conditionals are built as TensorFlow chooses.
    """
    from tensorflow.python.ops import control_flow_util_v2

    previous = getattr(control_flow_util_v2, "_DISABLE_LOWER_USING_SWITCH_MERGE", None)
    if previous is None:
        yield
        return
    control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = True
    try:
        yield
    finally:
        control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = previous


def strategy_supports_no_merge_call() -> bool:
    """Whether the current strategy allows conditionals around ``merge_call`` (TF 2.16-2.21)."""
    import tensorflow as tf

    return bool(tf.__internal__.distribute.strategy_supports_no_merge_call())


def learning_rate_object(optimizer: Any) -> Any:
    """The optimizer's learning rate as given: a schedule, a callable or a variable."""
    return optimizer._learning_rate


def metric_objects(model: Any) -> list[Any]:
    """The model's metrics, compiled ones unwrapped (``CompileMetrics``' inner list)."""
    found: list[Any] = []
    for metric in getattr(model, "metrics", None) or []:
        inner = getattr(metric, "metrics", None)
        found.extend(inner if isinstance(inner, (list, tuple)) else [metric])
    return found


def metric_direction(metric: Any) -> str | None:
    """``"up"``/``"down"`` where a Keras metric says which way is better (Keras >= 3.4)."""
    direction = getattr(metric, "_direction", None)
    return direction if direction in ("up", "down") else None
