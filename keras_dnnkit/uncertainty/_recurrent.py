"""Recurrent layers' ``dropout`` and ``recurrent_dropout``, sampled the way Keras trains them.

Keras' ``LSTM``, ``GRU``, ``SimpleRNN`` and ``ConvLSTM1D/2D/3D`` cells (``DropoutRNNCell``)
draw one dropout mask per sequence before the time loop and apply it at every step: the
variational RNN dropout of Gal & Ghahramani (2016). ``LSTM`` with ``recurrent_dropout`` draws
four masks, one per gate. ``mc_predict`` runs such a layer with ``training=True`` (which, for
these layers, changes nothing but the dropout) and has its cells draw the masks from the
sampling seed instead of their own seed generator, which is never advanced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import tensorflow as tf

from keras_dnnkit import _compat


def dropout_cells(layer: Any) -> list[Any]:
    """Return the cells of a recurrent ``layer`` whose ``dropout`` or ``recurrent_dropout`` > 0.

    Example:
        >>> len(dropout_cells(keras.layers.LSTM(2, recurrent_dropout=0.2)))
        1
        >>> dropout_cells(keras.layers.GRU(2)), dropout_cells(keras.layers.Dense(2))
        ([], [])
    """
    if not isinstance(layer, keras.layers.RNN):
        return []
    cell = layer.cell
    cells = list(cell.cells) if isinstance(cell, keras.layers.StackedRNNCells) else [cell]
    return [
        c
        for c in cells
        if _compat.is_dropout_rnn_cell(c) and (c.dropout > 0 or c.recurrent_dropout > 0)
    ]


def recurrent_rates(layer: Any) -> tuple[tuple[float, float], ...]:
    """Return ``(dropout, recurrent_dropout)`` of each sampled cell (part of the cache key)."""
    return tuple((float(c.dropout), float(c.recurrent_dropout)) for c in dropout_cells(layer))


@contextmanager
def recurrent_sampling(layer: Any, new_mask: Callable[[Any, float], Any]) -> Iterator[None]:
    """Within the block, ``layer`` runs with ``training=True`` and masks from ``new_mask``.

    ``new_mask(step_input, rate)`` returns one scaled keep-mask shaped like ``step_input``.
    Only instance attributes are set (``call`` on the layer, ``_create_dropout_mask`` on its
    cells) and removed again on exit.
    """
    cells = dropout_cells(layer)
    layer_class = type(layer)

    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs["training"] = True  # for these layers, training only switches dropout on
        return layer_class.call(layer, *args, **kwargs)

    def masks(cell: Any) -> Callable[[Any, float], Any]:
        def create(step_input: Any, rate: float) -> Any:
            count = getattr(cell, "dropout_mask_count", None)
            if count is None:
                return new_mask(step_input, rate)
            return [new_mask(step_input, rate) for _ in range(count)]

        return create

    object.__setattr__(layer, "call", call)
    for cell in cells:
        _compat.override_dropout_mask(cell, masks(cell))
    try:
        yield
    finally:
        object.__delattr__(layer, "call")
        for cell in cells:
            _compat.remove_dropout_mask_override(cell)
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()


def scaled_keep_mask(keep: Any, keep_probability: float, like: Any) -> Any:
    """Turn a boolean keep-mask into Keras' ``dropout(ones)``: ``1 / keep_probability`` or 0."""
    return tf.cast(keep, like.dtype) * tf.cast(1.0 / keep_probability, like.dtype)
