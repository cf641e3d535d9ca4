"""Which layers the gradient flow is measured against: the layers nearest the loss.

A layer's gradient flow is its gradient norm over a *reference* norm. The reference is not
simply the last layer in the list: a model's own scalar weight, a normalization layer or the
head of the last of several outputs would all mislead. The candidates are the layers nearest
the loss that own a weight matrix (rank >= 2): for a functional model, the nearest such layer
before each output; otherwise the last such layer the step calls. ``GradientDiagnostics``
uses the candidate with the largest norm at each logged step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keras_dnnkit import _compat
from keras_dnnkit.diagnostics._grouping import Grouping


def _producers(tensor: Any) -> Iterator[Any]:
    """The layers behind a Keras tensor of a functional graph, nearest first (breadth first)."""
    node = _compat.producing_node(tensor)
    frontier, seen = ([] if node is None else [node.operation]), set()
    while frontier:
        layer = frontier.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        for inbound in _compat.inbound_nodes(layer):
            for parent in getattr(inbound, "parent_nodes", []) or []:
                operation = getattr(parent, "operation", None)
                if operation is not None:
                    frontier.append(operation)


def reference_layers(model: Any, grouping: Grouping) -> list[int]:
    """Indices (in ``grouping.layers``) of the layers the gradient flow is relative to.

    Example:
        >>> import keras
        >>> from keras_dnnkit.diagnostics._grouping import group_variables
        >>> x = keras.Input((3,))
        >>> h = keras.layers.Dense(4, name="shared")(x)
        >>> a = keras.layers.Dense(1, name="head_a")(h)
        >>> b = keras.layers.Dense(2, name="head_b")(keras.layers.Activation("relu")(h))
        >>> model = keras.Model(x, [a, b])
        >>> grouping = group_variables(model)
        >>> [grouping.layers[i].path for i in reference_layers(model, grouping)]
        ['head_a', 'head_b']
    """
    layers = grouping.layers
    if not layers:
        return []
    by_name = {g.path.split("/")[-1]: g for g in layers if g.has_matrix}
    found: list[int] = []
    for output in getattr(model, "outputs", None) or []:
        for layer in _producers(output):
            group = by_name.get(str(getattr(layer, "name", "")))
            if group is not None:
                if group.index not in found:
                    found.append(group.index)
                break
    if found:
        return found
    with_matrix = [g.index for g in layers if g.has_matrix]
    return [with_matrix[-1] if with_matrix else layers[-1].index]
