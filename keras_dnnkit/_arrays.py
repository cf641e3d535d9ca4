"""Inputs as Keras takes them: arrays, lists or dicts of arrays, and ``tf.data.Dataset`` batches.

Shared by :func:`keras_dnnkit.mc_predict` and :func:`keras_dnnkit.find_learning_rate`, so both
accept the same kinds of data and word their errors alike.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_dnnkit import _compat


def is_dataset(data: Any) -> bool:
    """Whether ``data`` is a ``tf.data.Dataset`` (of batches).

    Example:
        >>> is_dataset(tf.data.Dataset.range(3)), is_dataset(np.ones(3))
        (True, False)
    """
    return isinstance(data, tf.data.Dataset)


def unpack_batch(element: Any) -> tuple[Any, Any, Any]:
    """Split a dataset element into ``(x, y, sample_weight)`` as ``fit`` does.

    A tuple is ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``; anything else is ``x``.

    Example:
        >>> unpack_batch((np.ones(2), np.zeros(2)))[1].tolist()
        [0.0, 0.0]
        >>> unpack_batch(np.ones(2))[1:]
        (None, None)
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element)
    return x, y, sample_weight


def leaves(name: str, structure: Any) -> list[tuple[str, np.ndarray]]:
    """Return ``(label, array)`` for each array of a structure, labelled like ``x['a']``.

    Example:
        >>> [label for label, _ in leaves("x", {"b": np.ones(2), "a": [np.ones(2)]})]
        ["x['a'][0]", "x['b']"]
    """
    found = []
    for path, value in _compat.flatten_with_path(structure):
        label = name + "".join(f"[{part!r}]" for part in path)
        found.append((label, np.asarray(value)))
    return found


def row_count(*structures: tuple[str, Any]) -> int:
    """Return the number of rows shared by every array of the ``(name, structure)`` pairs.

    Raises ``ValueError`` naming the arrays when they disagree or hold no row.

    Example:
        >>> row_count(("x", [np.ones((4, 2)), np.ones((4,))]), ("y", np.ones(4)))
        4
        >>> row_count(("x", np.ones((4, 2))), ("y", np.ones(3)))
        Traceback (most recent call last):
        ...
        ValueError: x and y must have the same number of rows (axis 0). Received: x: 4 rows, y: 3 rows
    """  # noqa: E501 -- a doctest's expected output is one line
    counts = []
    for name, structure in structures:
        if structure is None:
            continue
        for label, array in leaves(name, structure):
            if array.ndim == 0:
                raise ValueError(
                    f"{label} must have the examples on axis 0. Received: a scalar "
                    f"({label}.shape=()). Pass {label}[None] for a single example."
                )
            counts.append((label, len(array)))
    if not counts:
        raise ValueError("No data: x holds no array. Received: x=None or an empty structure")
    if len({count for _, count in counts}) > 1:
        labels = [label for label, _ in counts]
        names = ", ".join(labels[:-1]) + " and " + labels[-1]
        received = ", ".join(f"{label}: {count} rows" for label, count in counts)
        raise ValueError(
            f"{names} must have the same number of rows (axis 0). Received: {received}"
        )
    if counts[0][1] == 0:
        raise ValueError(
            "x must hold at least one example. Received: "
            + ", ".join(f"{label}.shape[0]=0" for label, _ in counts)
        )
    return counts[0][1]


def take_rows(structure: Any, index: Any) -> Any:
    """Index axis 0 of every array of ``structure`` (``None`` stays ``None``).

    Example:
        >>> take_rows({"a": np.arange(4)}, np.array([3, 1]))["a"].tolist()
        [3, 1]
    """
    if structure is None:
        return None
    return keras.tree.map_structure(lambda array: np.asarray(array)[index], structure)
