"""Split a functional model into the deterministic part (run once) and the stochastic rest.

A tensor is *stochastic* when a dropout-family layer feeds it, directly or through other layers.
Everything else gives the same value in every Monte-Carlo sample, so it is computed once per
input; only the stochastic nodes run on the tiled rows. The *frontier* is the set of
deterministic tensors the stochastic part (or the model output) reads. What travels with a
tensor between layers travels across the split too: its Keras mask (``Embedding(mask_zero=True)``,
``Masking``) is returned by the deterministic part and attached again, tiled, in the stochastic
part; other call arguments (``attention_mask=``, ``mask=``, ``initial_state=``, constants) are
filled in from the node's recorded arguments, as Keras does.

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


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}_{count}")
    return unique


def leaf_names(struct: Any, fallback: Sequence[str]) -> list[str]:
    """Names of the flattened leaves of ``struct``: dict keys (joined by '/'), else ``fallback``.

    Example:
        >>> leaf_names({"b": 1, "a": {"x": 2}}, []), leaf_names([1, 2], ["dense", "dense"])
        (['a/x', 'b'], ['dense', 'dense_1'])
    """
    if isinstance(struct, dict):
        paths = [path for path, _ in _compat.flatten_with_path(struct)]
        return ["/".join(str(part) for part in path) for path in paths]
    return _unique(fallback)


def input_names(graph: Any) -> list[str]:
    """Return the user-visible name of each input of ``graph`` (dict key or ``Input`` name).

    Example:
        >>> inputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((3,), name="b")}
        >>> input_names(keras.Model(inputs, keras.layers.Concatenate()(list(inputs.values()))))
        ['a', 'b']
    """
    layers = [_compat.tensor_layer(t).name for t in graph.inputs]
    return leaf_names(_compat.structure(graph, "inputs"), layers)


def output_names(graph: Any) -> list[str]:
    """Return the user-visible name of each output of ``graph`` (dict key or layer name).

    Example:
        >>> inputs = keras.Input((2,))
        >>> heads = [keras.layers.Dense(1, name="price")(inputs),
        ...          keras.layers.Dense(3, name="kind")(inputs)]
        >>> output_names(keras.Model(inputs, heads))
        ['price', 'kind']
    """
    layers = [_compat.tensor_layer(t).name for t in graph.outputs]
    return leaf_names(_compat.structure(graph, "outputs"), layers)


def has_named_outputs(graph: Any) -> bool:
    """Whether ``graph`` returns several outputs or a dict (then results are keyed by name)."""
    return len(graph.outputs) > 1 or isinstance(_compat.structure(graph, "outputs"), dict)


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
