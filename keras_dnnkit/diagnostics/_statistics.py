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


def flatten(tensors: Sequence[Any]) -> Any:
    """Concatenate tensors (gradients or variable values) into one float32 vector.

    Sparse gradients are made dense first, so each tensor contributes as many values as
    its variable has elements.

    Example:
        >>> import tensorflow as tf
        >>> flatten([tf.constant([[1.0, 2.0]]), tf.constant([3.0])]).numpy().tolist()
        [1.0, 2.0, 3.0]
    """
    parts = []
    for tensor in tensors:
        if isinstance(tensor, tf.IndexedSlices):
            tensor = tf.convert_to_tensor(tensor)
        parts.append(tf.reshape(tf.cast(tensor, tf.float32), [-1]))
    return tf.concat(parts, axis=0)


def segment_ids(sizes: Sequence[int]) -> Any:
    """For a vector made of pieces of ``sizes`` elements, the piece each element belongs to.

    Built on the device from ``len(sizes)`` numbers (static shapes, so XLA compiles it):
    no constant as large as the vector is stored in the graph.

    Example:
        >>> segment_ids([2, 0, 3]).numpy().tolist()
        [0, 0, 2, 2, 2]
    """
    total = int(sum(sizes))
    starts = np.cumsum(np.asarray(sizes[:-1], dtype=np.int64)).reshape(-1, 1)
    if not len(starts):
        return tf.zeros([total], tf.int32)
    # a 1 where each piece after the first starts (summed where empty pieces share a start);
    # one extra slot takes the starts of empty pieces at the very end
    marks = tf.scatter_nd(
        tf.constant(starts, tf.int32), tf.ones([len(starts)], tf.int32), [total + 1]
    )
    return tf.cumsum(marks[:total])


def segment_rows(flat_grads: Any, ids: Any, sizes: Sequence[int]) -> Any:
    """Return a ``[pieces, 3]`` tensor: gradient norm, mean and max absolute value per piece.

    ``flat_grads`` is :func:`flatten`'s vector and ``ids`` :func:`segment_ids`'s; the mean
    is over the piece's elements (at least 1).

    Example:
        >>> import tensorflow as tf
        >>> flat = tf.constant([3.0, -4.0, 2.0])
        >>> segment_rows(flat, segment_ids([2, 1]), [2, 1]).numpy().tolist()
        [[5.0, 3.5, 4.0], [2.0, 2.0, 2.0]]
    """
    n = len(sizes)
    magnitude = tf.abs(flat_grads)
    norm = tf.sqrt(tf.math.unsorted_segment_sum(tf.square(flat_grads), ids, n))
    counts = tf.constant([max(1, int(s)) for s in sizes], tf.float32)
    mean_abs = tf.math.unsorted_segment_sum(magnitude, ids, n) / counts
    max_abs = tf.maximum(tf.math.unsorted_segment_max(magnitude, ids, n), 0.0)
    return tf.stack([norm, mean_abs, max_abs], axis=1)


def segment_norms(flat: Any, ids: Any, n: int) -> Any:
    """The L2 norm of each of the ``n`` pieces of a flat vector.

    Example:
        >>> import tensorflow as tf
        >>> segment_norms(tf.constant([3.0, 4.0, 1.0]), segment_ids([2, 1]), 2).numpy().tolist()
        [5.0, 1.0]
    """
    return tf.sqrt(tf.math.unsorted_segment_sum(tf.square(flat), ids, n))


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


def flow_ratios(norms: Sequence[float], reference: int = -1) -> list[float]:
    """Each layer's gradient norm divided by the reference layer's (``inf``/``nan`` kept as is).

    Example:
        >>> flow_ratios([1e-6, 1e-3, 1.0])
        [1e-06, 0.001, 1.0]
        >>> flow_ratios([1e-3, 2.0, 1.0], reference=1)
        [0.0005, 1.0, 0.5]
    """
    base = float(norms[reference])
    with np.errstate(divide="ignore", invalid="ignore"):
        return [float(np.float64(n) / np.float64(base)) for n in norms]


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
