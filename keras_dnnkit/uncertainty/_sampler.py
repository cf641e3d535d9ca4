"""The compiled forward passes behind ``mc_predict``: deterministic part once, the rest tiled.

A :class:`Sampler` is built once per model (and per set of dropout rates) and cached, so
repeated ``mc_predict`` calls reuse the traced ``tf.function``s: every input has a ``None``
batch dimension and the number of samples and the seed are tensors, so nothing retraces when
the request size changes.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_dnnkit import _compat
from keras_dnnkit.uncertainty._graph import (
    Plan,
    has_named_outputs,
    leaf_names,
    make_plan,
    output_names,
    run_nodes,
)
from keras_dnnkit.uncertainty._noise import SeedStream, sampling
from keras_dnnkit.uncertainty._recurrent import recurrent_rates

#: Activations of one chunk of tiled rows are kept under about this many bytes by default
#: (larger chunks gain nothing on CPU: they only lose cache locality).
DEFAULT_CHUNK_BYTES = 64 * 2**20
#: Rows per chunk when the model cannot be analysed (subclassed models).
DEFAULT_FALLBACK_ROWS = 8192
_MAX_DEFAULT_ROWS = 65_536


def _compile(function: Any, input_signature: list[Any]) -> Any:
    compiled = tf.function(function, input_signature=input_signature, autograph=False)
    # Each Sampler traces its functions once (fixed signatures). TensorFlow counts traces per
    # Python function across instances and would warn about "retracing" when several models
    # are sampled in turn; there is nothing to fix, so that warning is turned off.
    return _compat.quiet_retracing_warning(compiled)


def _spec(tensor: Any) -> tf.TensorSpec:
    return tf.TensorSpec(shape=(None, *tensor.shape[1:]), dtype=tensor.dtype)


class Sampler:
    """Runs one model for Monte-Carlo sampling; see ``mc_predict`` for the semantics.

    Args:
        model: the Keras model.
        stochastic_layers: the layers that draw noise (all others run in inference mode).
    """

    def __init__(self, model: Any, stochastic_layers: Sequence[Any]) -> None:
        self.model = model
        self.layers = tuple(stochastic_layers)
        self.plan: Plan = make_plan(model, self.layers)
        self._seeds = SeedStream()
        self._fallback_functions: dict[tuple[Any, ...], Any] = {}
        self._fallback_structure: Any = None
        graph = self.plan.graph
        if graph is None:
            self.default_rows = DEFAULT_FALLBACK_ROWS
            return
        self._deterministic = _compile(self._run_deterministic, [_spec(t) for t in graph.inputs])
        # Which frontier tensors carry a Keras mask: seen once, when the deterministic part is
        # traced; those masks are returned with the tensors and attached again after tiling.
        self._masked: tuple[int, ...] = ()
        mask_specs: list[tf.TensorSpec] = []
        if self.plan.deterministic_nodes:
            _, masks = self._deterministic.get_concrete_function().structured_outputs
            self._masked = tuple(i for i, mask in enumerate(masks) if mask is not None)
            mask_specs = [_spec(masks[i]) for i in self._masked]
        self._stochastic = _compile(
            self._run_stochastic,
            [
                [_spec(t) for t in self.plan.frontier],
                mask_specs,
                tf.TensorSpec((), tf.int32),
                tf.TensorSpec((2,), tf.int64),
            ],
        )
        row_bytes = sum(
            math.prod(int(d or 1) for d in t.shape[1:]) * np.dtype(t.dtype).itemsize
            for node in self.plan.stochastic_nodes
            for t in node.outputs
        )
        self.default_rows = int(
            min(_MAX_DEFAULT_ROWS, max(1, DEFAULT_CHUNK_BYTES // max(1, row_bytes)))
        )

    # ------------------------------------------------------------------ graph path
    def _run_deterministic(self, *inputs: Any) -> tuple[list[Any], list[Any]]:
        graph = self.plan.graph
        values = {id(t): x for t, x in zip(graph.inputs, inputs, strict=True)}
        run_nodes(self.plan.deterministic_nodes, values)
        frontier = [values[id(t)] for t in self.plan.frontier]
        return frontier, [_compat.keras_mask(x) for x in frontier]

    def _run_stochastic(
        self, frontier: list[Any], masks: list[Any], repeats: Any, seed: Any
    ) -> list[Any]:
        tiled = [tf.repeat(x, repeats, axis=0) for x in frontier]
        for index, mask in zip(self._masked, masks, strict=True):
            _compat.set_keras_mask(tiled[index], tf.repeat(mask, repeats, axis=0))
        values = {id(t): x for t, x in zip(self.plan.frontier, tiled, strict=True)}
        self._seeds.reset(seed)
        with sampling(self.layers, self._seeds):
            run_nodes(self.plan.stochastic_nodes, values)
        return [values[id(t)] for t in self.plan.graph.outputs]

    # ------------------------------------------------------------------ fallback path
    def _fallback(self, inputs: Sequence[np.ndarray], structure: Any) -> Any:
        template = keras.tree.map_structure(lambda _: None, structure)
        key = (repr(template), *((x.shape[1:], x.dtype.str) for x in inputs))
        function = self._fallback_functions.get(key)
        if function is None:
            model = self.model
            seeds = self._seeds
            layers = self.layers

            def run(tiled: list[Any], masks: list[Any], repeats: Any, seed: Any) -> Any:
                rows = [tf.repeat(x, repeats, axis=0) for x in tiled]
                seeds.reset(seed)
                with sampling(layers, seeds):
                    packed = keras.tree.pack_sequence_as(template, rows)
                    outputs = model(packed, training=False)
                self._fallback_structure = outputs
                return keras.tree.flatten(outputs)

            specs = [tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)) for x in inputs]
            function = _compile(
                run, [specs, [], tf.TensorSpec((), tf.int32), tf.TensorSpec((2,), tf.int64)]
            )
            self._fallback_functions[key] = function
        return function

    # ------------------------------------------------------------------ public
    def output_names(self) -> list[str] | None:
        """Names of the outputs, or ``None`` for one unnamed output (the result is not a dict).

        Known for functional models from the start; for subclassed models after a first call.
        """
        graph = self.plan.graph
        if graph is not None:
            return output_names(graph) if has_named_outputs(graph) else None
        structure = self._fallback_structure
        if not isinstance(structure, (dict, list, tuple)):
            return None
        count = len(keras.tree.flatten(structure))
        return leaf_names(structure, [f"output_{i}" for i in range(count)])

    def frontier(self, inputs: Sequence[np.ndarray]) -> Frontier:
        """Return the deterministic tensors (and their masks) for a block of inputs."""
        if self.plan.graph is None:
            return Frontier([tf.convert_to_tensor(x) for x in inputs], [])
        if not self.plan.deterministic_nodes:
            by_id = {id(t): x for t, x in zip(self.plan.graph.inputs, inputs, strict=True)}
            return Frontier([tf.convert_to_tensor(by_id[id(t)]) for t in self.plan.frontier], [])
        values, masks = self._deterministic(*inputs)
        return Frontier(list(values), [masks[i] for i in self._masked])

    def sample(
        self,
        frontier: Frontier,
        repeats: int,
        seed: tuple[int, int],
        inputs: Sequence[np.ndarray],
        structure: Any = None,
    ) -> list[np.ndarray]:
        """Return ``repeats`` samples of each input: per output, ``(inputs, repeats, ...)``.

        ``inputs`` and their ``structure`` (as the user passed them) serve subclassed models,
        which are called whole.
        """
        arguments = (
            frontier.values,
            frontier.masks,
            tf.constant(repeats, tf.int32),
            tf.constant(seed, tf.int64),
        )
        if self.plan.graph is None:
            outputs = self._fallback(inputs, structure)(*arguments)
        else:
            outputs = self._stochastic(*arguments)
        arrays = [np.asarray(output) for output in outputs]
        return [array.reshape(-1, repeats, *array.shape[1:]) for array in arrays]


@dataclass(frozen=True)
class Frontier:
    """The deterministic tensors of a block of inputs, and the Keras masks some of them carry."""

    values: list[Any]
    masks: list[Any]

    def rows(self, start: int, stop: int) -> Frontier:
        """Return the rows ``start:stop`` of every tensor and mask."""
        return Frontier(
            [x[start:stop] for x in self.values], [mask[start:stop] for mask in self.masks]
        )


_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Sampler]] = weakref.WeakKeyDictionary()


def _noise_key(layer: Any) -> tuple[Any, ...]:
    return (
        id(layer),
        getattr(layer, "rate", None),
        getattr(layer, "stddev", None),
        recurrent_rates(layer),
    )


def get_sampler(model: Any, stochastic_layers: Sequence[Any]) -> Sampler:
    """Return the cached :class:`Sampler` of ``model`` for these layers and their rates."""
    key = tuple(_noise_key(layer) for layer in stochastic_layers)
    per_model = _CACHE.setdefault(model, {})
    sampler = per_model.get(key)
    if sampler is None:
        sampler = per_model[key] = Sampler(model, stochastic_layers)
    return sampler
