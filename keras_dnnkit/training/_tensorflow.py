"""The TensorFlow side of the step owner: state, conditionals, replicas, graph reads.

Everything here runs while Keras' TensorFlow train step is traced (or creates what such a step
reads). A JAX counterpart would offer the same functions over ``stateless_apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit import _compat


def state(value: Any, dtype: Any) -> tf.Variable:
    """A non-trainable variable each replica writes locally; reads give the first replica's."""
    with tf.init_scope():
        return tf.Variable(
            tf.constant(value, dtype=dtype),
            trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )


def finite_per_tensor(tensors: Sequence[Any]) -> tuple[Any, Any]:
    """``(finite per tensor, all finite)``: one sum per tensor, no conditional.

    A NaN or Inf anywhere makes a tensor's sum non-finite. The sum can also overflow when
    every value is finite but the total exceeds float32's range (~3e38): such gradients count
    as non-finite, which they effectively are. Sparse gradients are tested on their values.

    Example:
        >>> finite, every = finite_per_tensor([tf.constant([1.0]), tf.constant([np.inf, 0.0])])
        >>> finite.numpy().tolist(), bool(every)
        ([True, False], False)
    """
    if not tensors:
        return tf.zeros((0,), tf.bool), tf.constant(True)
    values = [t.values if isinstance(t, tf.IndexedSlices) else t for t in tensors]
    finite = tf.math.is_finite(tf.stack([tf.reduce_sum(tf.cast(t, tf.float32)) for t in values]))
    return finite, tf.reduce_all(finite)


def all_finite(tensors: Sequence[Any]) -> Any:
    """Whether every value of every tensor is finite: one scalar, from as few ops as it takes.

    Tensors of one shape and dtype are first added elementwise (one ``AddN`` for, say, the
    twenty 100 x 100 kernels of an MLP), then each such sum is reduced: a NaN or Inf anywhere
    makes the total non-finite. Per-tensor sums (:func:`finite_per_tensor`) cost one
    reduction per tensor, every step; this is what the lean step runs, and the per-tensor
    test runs only where this one fails. As with :func:`finite_per_tensor`, a total beyond
    float32's range (~3e38) counts as non-finite.

    Example:
        >>> bool(all_finite([tf.ones((2, 2)), tf.ones((2, 2)), tf.constant([1.0])]))
        True
        >>> bool(all_finite([tf.ones((2, 2)), tf.constant([[1.0, np.nan], [0.0, 0.0]])]))
        False
    """
    if not tensors:
        return tf.constant(True)
    groups: dict[Any, list[Any]] = {}
    for index, tensor in enumerate(tensors):
        values = tensor.values if isinstance(tensor, tf.IndexedSlices) else tensor
        values = tf.cast(values, tf.float32)  # no op for float32
        shape = values.shape
        key = tuple(shape) if shape.is_fully_defined() else index
        groups.setdefault(key, []).append(values)
    sums = [
        tf.reduce_sum(group[0] if len(group) == 1 else tf.add_n(group)) for group in groups.values()
    ]
    return tf.math.is_finite(sums[0] if len(sums) == 1 else tf.add_n(sums))


def rare(predicate: Any, true_fn: Callable[[], None]) -> None:
    """Run ``true_fn`` where ``predicate`` holds, at (almost) no cost on the other steps.

    Inside a ``tf.function`` TensorFlow lowers ``tf.cond`` to ``Switch``/``Merge``: every
    tensor the branch captures then passes a ``Switch`` and every node of the branch not
    taken is still scheduled (as dead) each step, about 0.1-0.4 ms per step on a CPU for
    branches that capture every gradient and variable. Kept as an ``If`` op (as under XLA),
    the op runs only the branch taken.
    """
    with _compat.conditionals_kept_unlowered():
        tf.cond(predicate, true_fn, lambda: None)


def conditional_update(
    predicate: Any,
    true_fn: Callable[..., None],
    args: tuple[Any, ...],
    counter: Any = None,
) -> None:
    """Run ``true_fn(*args)`` where ``predicate`` holds, also where it calls ``merge_call``.

    Unlike :func:`rare`, the conditional is lowered to ``Switch``/``Merge`` (which costs every
    step): as an ``If`` op it cannot be placed under a multi-device ``MirroredStrategy``, whose
    update inside reads variables on every device. Kept as an ``If`` op it was no faster on a
    CPU either (0.86-0.88 of plain ``fit`` against 0.84-0.86 lowered, 20 x 100 MLP): no
    update can start before every gradient of the step is known to be finite, whichever way.

    Where it does not, ``counter`` (if given) is incremented instead, as ``true_fn`` would have.

    MirroredStrategy allows no ``merge_call`` (which applying gradients makes) inside a
    conditional in a replica context; as ``LossScaleOptimizer`` does, the choice is then made
    in the cross-replica context and ``true_fn`` runs on every replica with its own ``args``.
    """

    def skipped() -> None:
        if counter is not None:
            counter.assign_add(1)

    context = tf.distribute.get_replica_context()
    if (
        not tf.distribute.has_strategy()
        or context is None
        or _compat.strategy_supports_no_merge_call()
    ):
        tf.cond(predicate, lambda: true_fn(*args), skipped)
        return

    def choose(distribution: Any, predicate: Any, *args: Any) -> None:
        first = distribution.experimental_local_results(predicate)[0]

        def on_every_replica() -> None:
            distribution.extended.call_for_each_replica(true_fn, args=args)

        tf.cond(first, on_every_replica, skipped)

    context.merge_call(choose, args=(predicate, *args))


def all_reduced(grads: list[Any]) -> list[Any]:
    """The gradients summed over replicas (as applied), or as they are on one replica."""
    context = tf.distribute.get_replica_context()
    if tf.distribute.has_strategy() and context is not None:
        if context.num_replicas_in_sync > 1:
            return list(context.all_reduce(tf.distribute.ReduceOp.SUM, grads))
    return grads


def value(variable: Any) -> Any:
    """The tensor value of a Keras or TF variable."""
    return variable.value if hasattr(variable, "value") else variable


def _handles(variable: Any) -> list[Any]:
    """The resource handles behind a Keras variable (one per replica when distributed)."""
    tf_variable = value(variable) if not isinstance(variable, tf.Variable) else variable
    components = getattr(tf_variable, "values", None)
    found = []
    for component in components if isinstance(components, tuple) else (tf_variable,):
        handle = getattr(component, "handle", None)
        if handle is not None:
            found.append(handle)
    return found


_READS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd"})


def first_reads(variables: Sequence[Any]) -> list[float] | None:
    """For each variable, the position in the step being traced of the first op that reads it.

    The forward pass reads each layer's weights when the layer is called, so these positions
    give the order in which layers were called (subclassed models list layers in attribute
    order, not call order). ``inf`` for a variable the graph never reads; ``None`` when no
    graph is being traced (``run_eagerly=True``).
    """
    graph = tf.compat.v1.get_default_graph()
    if tf.executing_eagerly() or not hasattr(graph, "captures"):
        return None
    outer: dict[int, Any] = {}

    def external(tensor: Any) -> Any:
        seen = 0
        while not _compat.is_eager_tensor(tensor) and seen < 16:
            if not hasattr(tensor.graph, "captures"):
                return tensor
            graph_id = id(tensor.graph)
            if graph_id not in outer:
                outer[graph_id] = {id(inside): ext for ext, inside in tensor.graph.captures}
            found = outer[graph_id].get(id(tensor))
            if found is None:
                return tensor
            tensor, seen = found, seen + 1
        return tensor

    position: dict[int, int] = {}
    for index, op in enumerate(graph.get_operations()):
        if op.type not in _READS:  # not the initializers of variables created in the step
            continue
        for tensor in op.inputs:
            if tensor.dtype == tf.resource:
                position.setdefault(id(external(tensor)), index)
    reads = []
    for variable in variables:
        found = [position[id(h)] for h in _handles(variable) if id(h) in position]
        reads.append(float(min(found)) if found else float(np.inf))
    return reads
