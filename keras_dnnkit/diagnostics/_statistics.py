"""Reduce gradients to a few numbers per layer on the device, and derive the rest on the host.

On the device (inside the train step) each layer becomes one row of
:data:`FIELDS`; on the host the rows give the gradient flow (each layer's norm over the
last layer's), the global norm and the update-to-weight ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

FIELDS = ("norm", "mean_abs", "max_abs", "update_norm", "weight_norm")
"""The columns of one layer's row of statistics."""

NORM, MEAN_ABS, MAX_ABS, UPDATE_NORM, WEIGHT_NORM = range(len(FIELDS))


def _values(gradient: Any) -> Any:
    """A gradient as a float32 dense tensor (the values of sparse gradients)."""
    if isinstance(gradient, tf.IndexedSlices):
        gradient = gradient.values
    return tf.cast(gradient, tf.float32)


def variable_size(variable: Any) -> int:
    """The number of elements of a variable (at least 1)."""
    return max(1, math.prod(int(d) for d in variable.shape))


def finite_flags(grads_by_group: Sequence[Sequence[Any]]) -> Any:
    """Return a boolean vector: True where every gradient of the group is finite.

    Example:
        >>> import tensorflow as tf
        >>> finite_flags([[tf.constant([1.0])], [tf.constant([float("nan")])]]).numpy()
        array([ True, False])
    """
    flags = []
    for grads in grads_by_group:
        # x * 0 is 0 for finite x and NaN for NaN or Inf: one sum per variable finds both.
        total = tf.add_n([tf.reduce_sum(_values(g) * 0.0) for g in grads])
        flags.append(tf.math.is_finite(total))
    return tf.stack(flags)


def all_finite(grads: Sequence[Any]) -> Any:
    """True when no gradient holds NaN or Inf; one reduction per gradient.

    A NaN or Inf anywhere makes the total non-finite. The total can also overflow when
    every value is finite but the sum exceeds float32's range (~3e38): such gradients are
    counted as non-finite, which they effectively are.

    Example:
        >>> import tensorflow as tf
        >>> bool(all_finite([tf.constant([1.0]), tf.constant([float("inf"), 0.0])]))
        False
    """
    return tf.math.is_finite(tf.add_n([tf.reduce_sum(_values(g)) for g in grads]))


def gradient_rows(
    grads_by_group: Sequence[Sequence[Any]], variables_by_group: Sequence[Sequence[Any]]
) -> Any:
    """Return a ``[groups, 3]`` tensor: gradient norm, mean and max absolute value per group.

    Example:
        >>> import tensorflow as tf
        >>> v = tf.Variable([0.0, 0.0])
        >>> gradient_rows([[tf.constant([3.0, -4.0])]], [[v]]).numpy().tolist()
        [[5.0, 3.5, 4.0]]
    """
    rows = []
    for grads, variables in zip(grads_by_group, variables_by_group, strict=False):
        values = [_values(g) for g in grads]
        sum_squares = tf.add_n([tf.reduce_sum(tf.square(v)) for v in values])
        sum_abs = tf.add_n([tf.reduce_sum(tf.abs(v)) for v in values])
        max_abs = tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(v)) for v in values]))
        count = float(sum(variable_size(v) for v in variables))
        rows.append(tf.stack([tf.sqrt(sum_squares), sum_abs / count, max_abs]))
    return tf.stack(rows)


def update_rows(before: Sequence[Sequence[Any]], after: Sequence[Sequence[Any]]) -> Any:
    """Return a ``[groups, 2]`` tensor: ||w_after - w_before|| and ||w_before|| per group.

    Example:
        >>> import tensorflow as tf
        >>> update_rows([[tf.constant([3.0, 4.0])]], [[tf.constant([3.0, 5.0])]]).numpy().tolist()
        [[1.0, 5.0]]
    """
    rows = []
    for old, new in zip(before, after, strict=False):
        delta = tf.add_n(
            [
                tf.reduce_sum(tf.square(tf.cast(n, tf.float32) - tf.cast(o, tf.float32)))
                for o, n in zip(old, new, strict=False)
            ]
        )
        weight = tf.add_n([tf.reduce_sum(tf.square(tf.cast(o, tf.float32))) for o in old])
        rows.append(tf.stack([tf.sqrt(delta), tf.sqrt(weight)]))
    return tf.stack(rows)


def sample_indices(size: int, sample_size: int) -> np.ndarray:
    """Evenly spaced indices of ``sample_size`` elements out of ``size`` (all when fewer).

    Example:
        >>> sample_indices(10, 4).tolist()
        [0, 3, 6, 9]
    """
    if size <= sample_size:
        return np.arange(size, dtype=np.int64)
    indices: np.ndarray = np.linspace(0, size - 1, sample_size).round().astype(np.int64)
    return indices


def gradient_sample(grads: Sequence[Any], indices: np.ndarray) -> Any:
    """Return the flattened gradients of one group at ``indices`` (for histograms)."""
    flat = tf.concat([tf.reshape(_values(g), [-1]) for g in grads], axis=0)
    return tf.gather(flat, indices)


def flow_ratios(norms: Sequence[float]) -> list[float]:
    """Each layer's gradient norm divided by the last layer's (``inf``/``nan`` kept as is).

    Example:
        >>> flow_ratios([1e-6, 1e-3, 1.0])
        [1e-06, 0.001, 1.0]
    """
    last = float(norms[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return [float(np.float64(n) / np.float64(last)) for n in norms]


def global_norm(norms: Sequence[float]) -> float:
    """The norm of all gradients together, from the per-layer norms.

    Example:
        >>> global_norm([3.0, 4.0])
        5.0
    """
    return float(np.sqrt(np.sum(np.square(np.asarray(norms, dtype=np.float64)))))


def update_ratios(update_norms: Sequence[float], weight_norms: Sequence[float]) -> list[float]:
    """||delta w|| / ||w|| per layer (0 where the weights are all zero).

    Example:
        >>> update_ratios([0.01, 0.0], [10.0, 0.0])
        [0.001, 0.0]
    """
    return [
        float(u / w) if w > 0 else 0.0 for u, w in zip(update_norms, weight_norms, strict=False)
    ]


def layer_rows(
    variable_rows: np.ndarray, layer_of_variable: np.ndarray, sizes: Sequence[int]
) -> np.ndarray:
    """Combine per-variable rows of :data:`FIELDS` into per-layer rows.

    Norms combine as the root of the summed squares, mean absolute values weighted by size,
    maximum absolute values by their maximum.

    Example:
        >>> rows = np.array([[3.0, 1.0, 2.0, 0.3, 30.0], [4.0, 3.0, 5.0, 0.4, 40.0]])
        >>> layer_rows(rows, np.array([0, 0]), [1, 3]).tolist()
        [[5.0, 2.5, 5.0, 0.5, 50.0]]
    """
    n_layers = int(layer_of_variable.max()) + 1 if len(layer_of_variable) else 0
    sizes_array = np.asarray(sizes, dtype=np.float64)
    result = np.zeros((n_layers, len(FIELDS)))
    rows = variable_rows.astype(np.float64)
    for layer in range(n_layers):
        mine = layer_of_variable == layer
        squares = np.sum(np.square(rows[mine]), axis=0)
        result[layer, NORM] = np.sqrt(squares[NORM])
        result[layer, UPDATE_NORM] = np.sqrt(squares[UPDATE_NORM])
        result[layer, WEIGHT_NORM] = np.sqrt(squares[WEIGHT_NORM])
        result[layer, MEAN_ABS] = np.sum(rows[mine, MEAN_ABS] * sizes_array[mine]) / np.sum(
            sizes_array[mine]
        )
        result[layer, MAX_ABS] = np.max(rows[mine, MAX_ABS])
    return result
