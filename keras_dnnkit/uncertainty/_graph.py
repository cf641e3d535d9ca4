"""Split a functional model into the deterministic part (run once) and the stochastic rest.

A tensor is *stochastic* when a dropout-family layer feeds it, directly or through other layers.
Everything else gives the same value in every Monte-Carlo sample, so it is computed once per
input; only the stochastic nodes run on the tiled rows. The *frontier* is the set of
deterministic tensors the stochastic part (or the model output) reads.

Models that are not functional (subclassed models, or ``Sequential`` models that were never
built on an ``Input``) have no graph to split: the whole model is stochastic (full tiling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras

from keras_dnnkit import _compat


@dataclass(frozen=True)
class Plan:
    """How to run a model for Monte-Carlo sampling.

    Attributes:
        graph: the functional graph (``keras.Model`` with ``_nodes_by_depth``), or ``None``
            when the model cannot be split and runs whole on the tiled rows.
        deterministic_nodes: nodes run once per input, in execution order.
        stochastic_nodes: nodes run on the tiled rows, in execution order.
        frontier: the deterministic tensors (``KerasTensor``) the stochastic part reads.
    """

    graph: Any
    deterministic_nodes: tuple[Any, ...]
    stochastic_nodes: tuple[Any, ...]
    frontier: tuple[Any, ...]

    @property
    def is_split(self) -> bool:
        """Whether some layers run once per input instead of once per sample."""
        return self.graph is not None and bool(self.deterministic_nodes)


def functional_graph(model: Any) -> Any:
    """Return the functional graph of ``model``, or ``None`` when it has none.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> functional_graph(model) is not None
        True
    """
    return _compat.functional_graph(model)


def _ordered_nodes(graph: Any) -> list[Any]:
    nodes = []
    for depth in sorted(_compat.nodes_by_depth(graph), reverse=True):
        for node in _compat.nodes_by_depth(graph)[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes


def make_plan(model: Any, stochastic_layers: Sequence[Any]) -> Plan:
    """Split ``model`` at its first stochastic layers.

    Example:
        >>> model = keras.Sequential(
        ...     [keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dropout(0.5),
        ...      keras.layers.Dense(1)])
        >>> plan = make_plan(model, [model.layers[1]])
        >>> len(plan.deterministic_nodes), len(plan.stochastic_nodes)
        (1, 2)
    """
    graph = functional_graph(model)
    if graph is None:
        return Plan(None, (), (), ())
    stochastic_ids = {id(layer) for layer in stochastic_layers}
    stochastic_tensors: set[int] = set()
    deterministic: list[Any] = []
    stochastic: list[Any] = []
    for node in _ordered_nodes(graph):
        operation = node.operation
        contains_noise = id(operation) in stochastic_ids or any(
            id(sub) in stochastic_ids for sub in _compat.flatten_layers(operation)
        )
        if contains_noise or any(id(t) in stochastic_tensors for t in node.input_tensors):
            stochastic.append(node)
            stochastic_tensors.update(id(t) for t in node.outputs)
        else:
            deterministic.append(node)
    frontier: dict[int, Any] = {}
    for node in stochastic:
        for tensor in node.input_tensors:
            if id(tensor) not in stochastic_tensors:
                frontier.setdefault(id(tensor), tensor)
    for tensor in graph.outputs:
        if id(tensor) not in stochastic_tensors:
            frontier.setdefault(id(tensor), tensor)
    return Plan(graph, tuple(deterministic), tuple(stochastic), tuple(frontier.values()))


def run_nodes(nodes: Sequence[Any], values: dict[int, Any]) -> None:
    """Run ``nodes`` in inference mode, reading and writing tensors in ``values`` (by id)."""
    for node in nodes:
        args, kwargs = node.arguments.fill_in(values)
        operation = node.operation
        if _compat.call_has_training_argument(operation):
            kwargs = {**kwargs, "training": False}
        outputs = operation(*args, **kwargs)
        for symbolic, value in zip(node.outputs, keras.tree.flatten(outputs), strict=True):
            values[id(symbolic)] = value
