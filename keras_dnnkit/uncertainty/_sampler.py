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
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit import _compat
from keras_dnnkit.uncertainty._graph import Plan, make_plan, run_nodes
from keras_dnnkit.uncertainty._noise import SeedStream, sampling

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
        graph = self.plan.graph
        if graph is None:
            self.default_rows = DEFAULT_FALLBACK_ROWS
            return
        if len(graph.outputs) != 1:
            raise ValueError(
                "mc_predict supports models with one output. Received a model with "
                f"{len(graph.outputs)} outputs: {[t.name for t in graph.outputs]}"
            )
        self._deterministic = _compile(self._run_deterministic, [_spec(t) for t in graph.inputs])
        self._stochastic = _compile(
            self._run_stochastic,
            [
                [_spec(t) for t in self.plan.frontier],
                tf.TensorSpec((), tf.int32),
                tf.TensorSpec((2,), tf.int64),
            ],
        )
        row_bytes = sum(
            math.prod(int(d or 1) for d in t.shape[1:]) * np.dtype(t.dtype).itemsize
            for node in self.plan.stochastic_nodes
            for t in node.outputs
        )
        self.default_rows = int(min(_MAX_DEFAULT_ROWS, max(1, DEFAULT_CHUNK_BYTES // row_bytes)))

    # ------------------------------------------------------------------ graph path
    def _run_deterministic(self, *inputs: Any) -> list[Any]:
        graph = self.plan.graph
        values = {id(t): x for t, x in zip(graph.inputs, inputs, strict=True)}
        run_nodes(self.plan.deterministic_nodes, values)
        return [values[id(t)] for t in self.plan.frontier]

    def _run_stochastic(self, frontier: list[Any], repeats: Any, seed: Any) -> Any:
        values = {
            id(t): tf.repeat(x, repeats, axis=0)
            for t, x in zip(self.plan.frontier, frontier, strict=True)
        }
        self._seeds.reset(seed)
        with sampling(self.layers, self._seeds):
            run_nodes(self.plan.stochastic_nodes, values)
        return values[id(self.plan.graph.outputs[0])]

    # ------------------------------------------------------------------ fallback path
    def _fallback(self, inputs: Sequence[np.ndarray]) -> Any:
        key = tuple((x.shape[1:], x.dtype.str) for x in inputs)
        function = self._fallback_functions.get(key)
        if function is None:
            model = self.model
            seeds = self._seeds
            layers = self.layers

            def run(tiled: list[Any], repeats: Any, seed: Any) -> Any:
                rows = [tf.repeat(x, repeats, axis=0) for x in tiled]
                seeds.reset(seed)
                with sampling(layers, seeds):
                    return model(rows[0] if len(rows) == 1 else rows, training=False)

            specs = [tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)) for x in inputs]
            function = _compile(
                run, [specs, tf.TensorSpec((), tf.int32), tf.TensorSpec((2,), tf.int64)]
            )
            self._fallback_functions[key] = function
        return function

    # ------------------------------------------------------------------ public
    def frontier(self, inputs: Sequence[np.ndarray]) -> list[Any]:
        """Return the deterministic tensors for a block of inputs (computed once per input)."""
        if self.plan.graph is None:
            return [tf.convert_to_tensor(x) for x in inputs]
        if not self.plan.deterministic_nodes:
            by_id = {id(t): x for t, x in zip(self.plan.graph.inputs, inputs, strict=True)}
            return [tf.convert_to_tensor(by_id[id(t)]) for t in self.plan.frontier]
        return list(self._deterministic(*inputs))

    def sample(
        self, frontier: list[Any], repeats: int, seed: tuple[int, int], inputs: Sequence[np.ndarray]
    ) -> np.ndarray:
        """Return ``repeats`` samples for each input, shape ``(inputs, repeats, *output)``."""
        arguments = (frontier, tf.constant(repeats, tf.int32), tf.constant(seed, tf.int64))
        if self.plan.graph is None:
            outputs = self._fallback(inputs)(*arguments)
        else:
            outputs = self._stochastic(*arguments)
        array = np.asarray(outputs)
        return array.reshape(-1, repeats, *array.shape[1:])


_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Sampler]] = weakref.WeakKeyDictionary()


def _noise_key(layer: Any) -> tuple[Any, ...]:
    return (id(layer), getattr(layer, "rate", None), getattr(layer, "stddev", None))


def get_sampler(model: Any, stochastic_layers: Sequence[Any]) -> Sampler:
    """Return the cached :class:`Sampler` of ``model`` for these layers and their rates."""
    key = tuple(_noise_key(layer) for layer in stochastic_layers)
    per_model = _CACHE.setdefault(model, {})
    sampler = per_model.get(key)
    if sampler is None:
        sampler = per_model[key] = Sampler(model, stochastic_layers)
    return sampler
