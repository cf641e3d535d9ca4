"""Run a model on a probe batch and capture every layer's inputs and outputs, nested models too.

A feature-extractor :class:`keras.Model` over the layers' symbolic inputs and outputs is built
once per (sub-)model and called in inference mode, so dropout is off and nothing is drawn
from a seed. Batch normalization, though, normalizes with the probe batch's own statistics,
as training does: early in training its moving statistics are still near their initial
values (mean 0, variance 1), and units judged through them look dead or saturated when,
in training, they are not (MobileNetV2 at 32x32: 57 % "dead" through moving statistics,
0 % through batch statistics). The moving statistics are only read, never updated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_dnnkit import _compat
from keras_dnnkit._numbers import to_array
from keras_dnnkit.diagnostics._activation_statistics import (
    ActivationFamily,
    activation_family,
    activation_floor,
)


@dataclass(frozen=True)
class ProbedLayer:
    """One layer the probe measures: its position, its path (``encoder/dense_2``), and more.

    ``is_output`` says its output is an output of the whole model: a classifier's last layer
    is confidently saturated by design, so findings skip it.

    Example:
        >>> ProbedLayer(0, "dense", None, "relu", None, False).path
        'dense'
    """

    index: int
    path: str
    layer: Any
    family: ActivationFamily | None
    floor: float | None
    is_output: bool


@dataclass(frozen=True)
class LayerValues:
    """A probed layer's input and output arrays on the probe batch."""

    layer: ProbedLayer
    inputs: tuple[np.ndarray, ...]
    output: np.ndarray


def _is_graph_model(layer: Any) -> bool:
    return isinstance(layer, keras.Model) and bool(getattr(layer, "outputs", None))


def _graph_nodes(outputs: Sequence[Any]) -> dict[int, Any]:
    """The call nodes that produce ``outputs``, found by walking back through the graph."""
    nodes: dict[int, Any] = {}
    stack = list(outputs)
    while stack:
        node = _compat.producing_node(stack.pop())
        if node is None:
            continue
        if id(node) not in nodes:
            nodes[id(node)] = node
            stack.extend(keras.tree.flatten(node.input_tensors))
    return nodes


def _node_tensors(layer: Any, graph: dict[int, Any]) -> tuple[list[Any], list[Any]]:
    """The layer's input and output tensors in the model's graph.

    A layer can have several call nodes: ``Sequential.add`` re-calls every layer each time
    it rebuilds the graph. Tapping the current graph's node (not the first one) makes the
    extractor one pass over the network instead of one pass per rebuilt chain.
    """
    nodes = _compat.inbound_nodes(layer)
    node = next((n for n in nodes if id(n) in graph), nodes[0])
    inputs = list(keras.tree.flatten(node.input_tensors))
    return inputs, list(keras.tree.flatten(node.output_tensors))


@dataclass(frozen=True)
class _Tap:
    """A layer of this graph: read its inputs and output from the extractor's values."""

    layer: ProbedLayer
    input_ids: list[int]
    output_id: int


@dataclass(frozen=True)
class _Nested:
    """A nested model: feed its inputs (from this graph) to its own probe."""

    probe: _GraphProbe
    input_ids: list[int]


class _GraphProbe:
    """The probe of one Functional/Sequential (sub-)model."""

    def __init__(self, model: Any, prefix: str, output_ids: set[int], start: int) -> None:
        self.steps: list[_Tap | _Nested] = []
        self.end: int = start
        wanted: dict[int, Any] = {}
        index = start
        graph = _graph_nodes(model.outputs)
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            inputs, outputs = _node_tensors(layer, graph)
            for tensor in inputs + outputs:
                wanted.setdefault(id(tensor), tensor)
            path = f"{prefix}{layer.name}"
            is_output = any(id(t) in output_ids for t in outputs)
            if _is_graph_model(layer):
                inner_outputs = {id(t) for t in layer.outputs} if is_output else set()
                inner = _GraphProbe(layer, f"{path}/", inner_outputs, index)
                self.steps.append(_Nested(inner, [id(t) for t in inputs]))
                index = inner.end
                continue
            probed = ProbedLayer(
                index, path, layer, activation_family(layer), activation_floor(layer), is_output
            )
            self.steps.append(_Tap(probed, [id(t) for t in inputs], id(outputs[0])))
            index += 1
        self.end = index
        self._ids = list(wanted)
        # The model's own input structure (one tensor, a list or a dict), so calls match it.
        inputs_struct = model.inputs[0] if len(model.inputs) == 1 else model.input
        self.extractor = keras.Model(inputs=inputs_struct, outputs=[wanted[i] for i in self._ids])

    @property
    def layers(self) -> list[ProbedLayer]:
        layers: list[ProbedLayer] = []
        for step in self.steps:
            layers.extend(step.probe.layers if isinstance(step, _Nested) else [step.layer])
        return layers

    def run(self, x: Any) -> list[LayerValues]:
        values = self.extractor(x, training=False)
        by_id = {i: _to_numpy(v) for i, v in zip(self._ids, values, strict=True)}
        results: list[LayerValues] = []
        for step in self.steps:
            inputs = [by_id[i] for i in step.input_ids]
            if isinstance(step, _Nested):
                results.extend(step.probe.run(inputs[0] if len(inputs) == 1 else inputs))
            else:
                results.append(LayerValues(step.layer, tuple(inputs), by_id[step.output_id]))
        return results


def _to_numpy(value: Any) -> np.ndarray:
    return to_array(value).astype(np.float32)


def _batch_statistics_call(layer: Any) -> Any:
    """A BatchNormalization ``call`` that normalizes with the batch's moments, updating nothing."""

    def call(inputs: Any, training: Any = None, mask: Any = None) -> Any:
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        inputs = keras.ops.cast(inputs, compute_dtype)
        moments = _compat.batch_norm_moments(layer)  # Keras' own (masks, synchronized)
        if moments is not None:
            mean, variance = moments(inputs, mask)
        else:
            axis = layer.axis % len(inputs.shape)
            axes = [i for i in range(len(inputs.shape)) if i != axis]
            mean, variance = keras.ops.moments(inputs, axes=axes)
        gamma = keras.ops.cast(layer.gamma, compute_dtype) if layer.scale else None
        beta = keras.ops.cast(layer.beta, compute_dtype) if layer.center else None
        outputs = keras.ops.batch_normalization(
            inputs,
            mean,
            variance,
            axis=layer.axis,
            offset=beta,
            scale=gamma,
            epsilon=layer.epsilon,
        )
        return keras.ops.cast(outputs, layer.compute_dtype)

    return call


@contextlib.contextmanager
def batch_statistics(model: Any) -> Iterator[None]:
    """Within this block, ``model``'s batch-norm layers normalize with batch statistics.

    Nothing is assigned: weights and moving statistics stay as they are.

    Example:
        >>> import keras, numpy as np
        >>> norm = keras.layers.BatchNormalization()
        >>> model = keras.Sequential([keras.Input((2,)), norm])
        >>> x = np.array([[10.0, 1.0], [30.0, 3.0]], "float32")
        >>> with batch_statistics(model):
        ...     print(np.round(keras.ops.convert_to_numpy(model(x, training=False)), 2))
        [[-1. -1.]
         [ 1.  1.]]
        >>> keras.ops.convert_to_numpy(norm.moving_mean).tolist()
        [0.0, 0.0]
    """
    patched = [
        layer
        for layer in _compat.flatten_layers(model)
        if layer is not model and isinstance(layer, keras.layers.BatchNormalization)
    ]
    for layer in patched:
        layer.call = _batch_statistics_call(layer)
    try:
        yield
    finally:
        for layer in patched:
            del layer.call  # back to the class's call


class LayerProbe:
    """Captures every layer's inputs and outputs of a model on a batch, in inference mode.

    Layers are numbered input to output; the layers of nested models are listed in place of
    the nested model, with paths such as ``encoder/dense_2``.

    Args:
        model: a built Sequential or Functional model (subclassed models have no graph of
            layers to tap).

    Example:
        >>> import keras, numpy as np
        >>> hidden = keras.layers.Dense(2, activation="relu", name="hidden")
        >>> model = keras.Sequential([keras.Input((3,)), hidden])
        >>> probe = LayerProbe(model)
        >>> [(p.path, p.family) for p in probe.layers]
        [('hidden', 'relu')]
        >>> probe(np.ones((4, 3), "float32"))[0].output.shape
        (4, 2)
    """

    def __init__(self, model: Any) -> None:
        if not _is_graph_model(model):
            raise ValueError(
                "Activation diagnostics need a Sequential or Functional model, whose graph of "
                f"layers can be tapped. Received: a {type(model).__name__} without symbolic "
                "outputs (a subclassed or unbuilt model). Build it with keras.Input first."
            )
        self._model = model
        self._root = _GraphProbe(model, "", {id(t) for t in model.outputs}, 0)
        self.layers: list[ProbedLayer] = self._root.layers

    def __call__(self, x: Any) -> list[LayerValues]:
        """Return every probed layer's input and output arrays on ``x``.

        Batch-norm layers normalize with ``x``'s statistics (see :func:`batch_statistics`).
        """
        with batch_statistics(self._model):
            return self._root.run(x)


def probe_batch(data: Any, max_examples: int, keep_tuples: bool = False) -> Any:
    """Return at most ``max_examples`` examples of ``data`` as NumPy arrays.

    ``data`` is an array, a list or dict of arrays (a multi-input model), an ``(x, y)`` or
    ``(x, y, sample_weight)`` tuple, or a ``tf.data.Dataset`` (its first batch). A tuple
    is read as ``(x, y...)`` and only ``x`` kept, unless ``keep_tuples``: then it is kept
    whole, for :func:`model_inputs` to read once the model's inputs are known.

    Example:
        >>> import numpy as np
        >>> probe_batch((np.zeros((10, 3)), np.zeros(10)), 4).shape
        (4, 3)
    """
    if hasattr(data, "element_spec"):  # a tf.data.Dataset: take its first batch
        data = next(iter(data))
    if isinstance(data, tuple) and not (keep_tuples and _arrays_of_one_batch(data)):
        data = data[0]
    leaves = keras.tree.flatten(data)
    if not leaves or any(len(np.shape(leaf)) == 0 or np.shape(leaf)[0] == 0 for leaf in leaves):
        raise ValueError(
            "Argument probe must hold at least one example (an array with a batch axis, or a "
            f"list/dict of them). Received: probe={_describe(data)}"
        )
    return keras.tree.map_structure(lambda leaf: np.asarray(leaf)[:max_examples], data)


def _arrays_of_one_batch(parts: tuple[Any, ...]) -> bool:
    """Whether every part is an array with the same (non-zero) number of examples."""
    lengths = {np.shape(p)[0] if len(np.shape(p)) else 0 for p in parts if hasattr(p, "shape")}
    return len(lengths) == 1 and 0 not in lengths and all(hasattr(p, "shape") for p in parts)


def model_inputs(probe: Any, model: Any) -> Any:
    """Return the part of a probe that is the model's inputs.

    A tuple is the model's inputs when the model has as many inputs as the tuple has
    arrays (``(xa, xb)`` for a two-input model); otherwise it is ``(x, y...)``.

    Example:
        >>> import keras, numpy as np
        >>> a, b = keras.Input((2,)), keras.Input((3,))
        >>> two = keras.Model([a, b], keras.layers.Concatenate()([a, b]))
        >>> len(model_inputs((np.ones((4, 2)), np.ones((4, 3))), two))
        2
        >>> one = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model_inputs((np.ones((4, 2)), np.ones(4)), one).shape
        (4, 2)
    """
    if not isinstance(probe, tuple):
        return probe
    inputs = getattr(model, "inputs", None) or []
    if (
        len(inputs) > 1
        and len(probe) == len(inputs)
        and all(isinstance(part, np.ndarray) for part in probe)
    ):
        return list(probe)
    return probe[0]


def _describe(data: Any) -> str:
    shapes: Sequence[Any] = [np.shape(leaf) for leaf in keras.tree.flatten(data)]
    return f"{type(data).__name__} with shapes {list(shapes)}"
