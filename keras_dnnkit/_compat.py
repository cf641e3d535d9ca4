"""Every touch of Keras or TensorFlow internals, in one place.

keras-dnnkit reaches into a few private attributes of Keras and TensorFlow where no public
API does the job (hooking the optimizer's update, walking a functional graph, keeping a
conditional as an ``If`` op). Each such touch is one small function or constant here, with
the versions it was checked on; the rest of the package calls these and never spells an
underscore attribute of a Keras or TensorFlow object. ``tests/test_compat.py`` checks every
one of them against the installed versions, so an upgrade that breaks one fails there, by
name, instead of somewhere in a training run.

"Checked on" ranges are the declared range of ``pyproject.toml``: the lowest versions
(Keras 3.5.0 with TensorFlow 2.16.1, run by CI's floor lane) and the newest (Keras 3.15.1
with TensorFlow 2.21.0). Where an internal is missing, the function raises
:class:`~keras_dnnkit.errors.KerasVersionError` naming the installed versions and what to
upgrade to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
import tensorflow as tf

from keras_dnnkit.errors import KerasVersionError

#: The lowest Keras whose ``BaseOptimizer.apply`` calls ``_backend_apply_gradients`` with the
#: unscaled, *pre-clip* gradients (3.0.2-3.4.x clip before calling it).
MINIMUM_KERAS = (3, 5, 0)
#: What to tell a user to install; keep it equal to the lower bound in pyproject.toml.
REQUIRED = "keras>=3.5.0,<4 and tensorflow>=2.16.1,<3"


def version_tuple(version: str) -> tuple[int, ...]:
    """Return the leading numeric parts of a version string.

    Example:
        >>> version_tuple("3.15.1"), version_tuple("2.16.0rc1"), version_tuple("3.5.0.dev2024")
        ((3, 15, 1), (2, 16, 0), (3, 5, 0))
    """
    parts = []
    for part in version.split(".")[:3]:
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def installed_versions() -> str:
    """Return the installed Keras and TensorFlow versions, as error messages name them.

    Example:
        >>> installed_versions().startswith("Keras 3.")
        True
    """
    return f"Keras {keras.version()}, TensorFlow {tf.__version__}"


def _missing(what: str, needed_for: str) -> KerasVersionError:
    return KerasVersionError(
        f"keras-dnnkit needs {what} for {needed_for}, and the installed "
        f"{installed_versions()} does not have it. keras-dnnkit is tested with {REQUIRED}: "
        f"upgrade with `pip install --upgrade 'keras>=3.5.0,<4' 'tensorflow>=2.16.1,<3'`.",
        installed=installed_versions(),
        required=REQUIRED,
    )


def _attribute(owner: Any, name: str, needed_for: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        raise _missing(f"{type(owner).__name__}.{name}", needed_for) from None


# ---------------------------------------------------------------- optimizer (Keras)
#: The optimizer method that applies one step's gradients. From Keras 3.5.0 (checked on
#: 3.5.0-3.15.1) ``BaseOptimizer.apply`` calls it after unscaling (``loss_scale_factor``;
#: ``LossScaleOptimizer`` calls its inner optimizer's ``apply``) and *before*
#: ``_clip_gradients`` and weight decay, which moved inside it; in 3.0.2-3.4.x ``apply``
#: clipped first. ``stateless_apply`` (JAX) goes through ``apply`` as well.
APPLY_GRADIENTS = "_backend_apply_gradients"


def require_preclip_apply_gradients(needed_for: str = "observing pre-clip gradients") -> None:
    """Raise :class:`KerasVersionError` unless Keras passes pre-clip gradients to the hook.

    Example:
        >>> require_preclip_apply_gradients() is None  # Keras >= 3.5: nothing to say
        True
    """
    if version_tuple(keras.version()) < MINIMUM_KERAS:
        raise _missing(
            "Keras >= 3.5.0 (its optimizer applies gradients before clipping them)", needed_for
        )


def override_apply_gradients(optimizer: Any, function: Callable[[Any, Any], Any]) -> Any:
    """Override ``_backend_apply_gradients`` on this optimizer *instance*; return the original.

    The class, configuration and variables stay the user's, so the model saves and loads as
    plain Keras. ``function(grads, trainable_variables)`` receives the unscaled, pre-clip
    gradients of every step and must call the returned original to apply them.

    Example:
        >>> optimizer = keras.optimizers.SGD(0.1)
        >>> seen = []
        >>> def observe(grads, variables):
        ...     seen.append(len(grads))
        ...     return original(grads, variables)
        >>> original = override_apply_gradients(optimizer, observe)
        >>> weight = keras.Variable([1.0])
        >>> optimizer.apply([keras.ops.convert_to_tensor([2.0])], [weight])
        >>> seen, weight.numpy().round(3).tolist()
        ([1], [0.8])
        >>> remove_apply_gradients_override(optimizer); apply_gradients_override(optimizer)
    """
    require_preclip_apply_gradients()
    original = _attribute(optimizer, APPLY_GRADIENTS, "observing the optimizer's gradients")
    object.__setattr__(optimizer, APPLY_GRADIENTS, function)  # untracked by Keras' tracker
    return original


def apply_gradients_override(optimizer: Any) -> Any:
    """Return the override installed on this optimizer instance, or ``None``.

    Example:
        >>> apply_gradients_override(keras.optimizers.SGD()) is None
        True
    """
    return vars(optimizer).get(APPLY_GRADIENTS)


def remove_apply_gradients_override(optimizer: Any) -> None:
    """Give the optimizer its class's ``_backend_apply_gradients`` back (safe to call twice).

    Example:
        >>> optimizer = keras.optimizers.SGD()
        >>> _ = override_apply_gradients(optimizer, lambda grads, variables: None)
        >>> remove_apply_gradients_override(optimizer); remove_apply_gradients_override(optimizer)
        >>> apply_gradients_override(optimizer) is None
        True
    """
    if APPLY_GRADIENTS in vars(optimizer):
        object.__delattr__(optimizer, APPLY_GRADIENTS)


def learning_rate_object(optimizer: Any) -> Any:
    """Return what the optimizer holds as its rate: a variable, a schedule or a callable.

    ``optimizer.learning_rate`` evaluates a schedule at the current step; this is the schedule
    itself (``BaseOptimizer._learning_rate``, checked on Keras 3.5.0-3.15.1).

    Example:
        >>> schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5)
        >>> learning_rate_object(keras.optimizers.SGD(schedule)) is schedule
        True
    """
    return _attribute(optimizer, "_learning_rate", "reading the optimizer's learning rate")


def replace_learning_rate_object(optimizer: Any, rate: Any) -> None:
    """Make ``rate`` the optimizer's rate without Keras tracking it as an optimizer variable.

    Unlike ``optimizer.learning_rate = rate``, this neither assigns into the existing rate
    variable nor adds ``rate`` to the optimizer's saved variables (checked on Keras
    3.5.0-3.15.1). The caller restores the original (:func:`learning_rate_object`) after.

    Example:
        >>> optimizer = keras.optimizers.SGD(0.1)
        >>> rate = keras.Variable(0.5, trainable=False)
        >>> replace_learning_rate_object(optimizer, rate)
        >>> float(optimizer.learning_rate), rate in optimizer.variables
        (0.5, False)
    """
    learning_rate_object(optimizer)  # fails clearly where Keras has no such attribute
    object.__setattr__(optimizer, "_learning_rate", rate)


def variable_index(optimizer: Any, variable: Any) -> int:
    """Return the index of ``variable`` in the optimizer's per-variable slots (``momentums``…).

    ``BaseOptimizer._get_variable_index``, checked on Keras 3.5.0-3.15.1.

    Example:
        >>> optimizer = keras.optimizers.SGD(momentum=0.9)
        >>> weights = [keras.Variable([1.0]), keras.Variable([2.0])]
        >>> optimizer.build(weights)
        >>> variable_index(optimizer, weights[1])
        1
    """
    method = _attribute(optimizer, "_get_variable_index", "finding a variable's momentum slot")
    return int(method(variable))


def variable_key(optimizer: Any) -> Callable[[Any], Any]:
    """Return the optimizer's function from a variable to its identity key.

    ``_var_key`` (checked on Keras 3.5.0-3.15.1) sees through the per-replica wrappers of a
    ``tf.distribute`` strategy, where ``id`` would not: use it to match the variables
    ``apply`` receives with the model's.

    Example:
        >>> optimizer = keras.optimizers.SGD()
        >>> weight = keras.Variable([1.0])
        >>> key = variable_key(optimizer)
        >>> key(weight) == key(weight)
        True
    """
    function: Callable[[Any], Any] = _attribute(
        optimizer, "_var_key", "matching the optimizer's variables with the model's"
    )
    return function


# ---------------------------------------------------------------- layers and graphs (Keras)
def flatten_layers(layer: Any) -> list[Any]:
    """Return ``layer`` and every layer nested in it; ``[]`` for an operation that is no layer.

    ``Layer._flatten_layers(include_self=True, recursive=True)``, checked on Keras
    3.5.0-3.15.1.

    Example:
        >>> noise = keras.layers.Dropout(0.5, name="noise")
        >>> inner = keras.Sequential([keras.Input((2,)), noise], name="inner")
        >>> model = keras.Sequential([keras.Input((2,)), inner, keras.layers.Dense(1, name="out")])
        >>> [x.name for x in flatten_layers(model) if not isinstance(x, keras.layers.InputLayer)]
        ['sequential...', 'inner', 'noise', 'out']
        >>> flatten_layers(keras.ops.add)
        []
    """
    if not isinstance(layer, keras.layers.Layer):
        return []
    method = _attribute(layer, "_flatten_layers", "finding the layers nested in a model")
    return list(method(include_self=True, recursive=True))


_SPATIAL_DROPOUT = (
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
)


def spatial_noise_shape(layer: Any, inputs: Any) -> Any:
    """Return the noise shape a ``SpatialDropout1D/2D/3D`` layer draws for ``inputs``.

    ``None`` for any other layer. ``SpatialDropout*._get_noise_shape``, checked on Keras
    3.5.0-3.15.1.

    Example:
        >>> layer = keras.layers.SpatialDropout1D(0.5)
        >>> [int(d) for d in spatial_noise_shape(layer, keras.ops.ones((4, 3, 2)))]
        [4, 1, 2]
        >>> spatial_noise_shape(keras.layers.Dropout(0.5), keras.ops.ones((4, 3))) is None
        True
    """
    if not isinstance(layer, _SPATIAL_DROPOUT):
        return None
    method = _attribute(layer, "_get_noise_shape", "sampling spatial dropout")
    return method(inputs)


def call_has_training_argument(operation: Any) -> bool:
    """Whether the operation's ``call`` takes ``training`` (``Layer._call_has_training_arg``).

    Checked on Keras 3.5.0-3.15.1; ``False`` for operations that are not layers.

    Example:
        >>> call_has_training_argument(keras.layers.Dropout(0.5))
        True
        >>> call_has_training_argument(keras.layers.Flatten())
        False
    """
    if not isinstance(operation, keras.layers.Layer):
        return False
    return bool(_attribute(operation, "_call_has_training_arg", "running layers in inference"))


def functional_graph(model: Any) -> Any:
    """Return the functional graph that runs ``model``, or ``None`` when it has none.

    A functional model is its own graph; a ``Sequential`` model built on a ``keras.Input``
    holds one (``Sequential._functional``); subclassed models and ``Sequential`` models never
    built have none. Checked on Keras 3.5.0-3.15.1.

    Example:
        >>> functional_graph(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
        <Functional ...>
        >>> functional_graph(keras.Sequential([keras.layers.Dense(1)])) is None
        True
    """
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_run_through_graph"):
        return model
    return None


def nodes_by_depth(graph: Any) -> dict[int, list[Any]]:
    """Return a functional graph's call nodes by depth (0: the outputs).

    ``Function._nodes_by_depth``, checked on Keras 3.5.0-3.15.1.

    Example:
        >>> graph = functional_graph(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
        >>> sorted(nodes_by_depth(graph))
        [0, 1]
    """
    nodes: dict[int, list[Any]] = _attribute(graph, "_nodes_by_depth", "walking a model's graph")
    return nodes


def producing_node(tensor: Any) -> Any:
    """Return the call node that produced a symbolic tensor, or ``None`` for other tensors.

    ``KerasTensor._keras_history`` and ``Operation._inbound_nodes``, checked on Keras
    3.5.0-3.15.1.

    Example:
        >>> inputs = keras.Input((2,))
        >>> outputs = keras.layers.Dense(1, name="out")(inputs)
        >>> producing_node(outputs).operation.name, producing_node(inputs).is_input
        ('out', True)
        >>> producing_node(keras.ops.ones((1,))) is None
        True
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return inbound_nodes(history.operation)[history.node_index]


def inbound_nodes(operation: Any) -> list[Any]:
    """Return every call node of ``operation`` (one per call on symbolic tensors).

    ``Operation._inbound_nodes``, checked on Keras 3.5.0-3.15.1.

    Example:
        >>> layer = keras.layers.Dense(1)
        >>> _ = layer(keras.Input((2,))), layer(keras.Input((2,)))
        >>> len(inbound_nodes(layer))
        2
    """
    nodes: list[Any] = _attribute(operation, "_inbound_nodes", "walking a model's graph")
    return nodes


# ---------------------------------------------------------------- TensorFlow
def strategy_supports_no_merge_call() -> bool:
    """Whether the current ``tf.distribute`` strategy runs without ``merge_call``.

    ``tf.__internal__.distribute.strategy_supports_no_merge_call``, checked on TensorFlow
    2.16.1-2.21.0.

    Example:
        >>> strategy_supports_no_merge_call()  # the default strategy
        True
    """
    internal = getattr(getattr(tf, "__internal__", None), "distribute", None)
    function = getattr(internal, "strategy_supports_no_merge_call", None)
    if function is None:
        raise _missing(
            "tf.__internal__.distribute.strategy_supports_no_merge_call",
            "applying gradients conditionally under a tf.distribute strategy",
        )
    return bool(function())


def _control_flow_util_v2() -> Any:
    try:
        from tensorflow.python.ops import control_flow_util_v2
    except ImportError:  # pragma: no cover - not this TensorFlow's layout
        return None
    return control_flow_util_v2


_LOWERING_FLAG = "_DISABLE_LOWER_USING_SWITCH_MERGE"


def can_keep_conditionals_unlowered() -> bool:
    """Whether :func:`conditionals_kept_unlowered` has an effect on this TensorFlow.

    Example:
        >>> can_keep_conditionals_unlowered()
        True
    """
    module = _control_flow_util_v2()
    return isinstance(getattr(module, _LOWERING_FLAG, None), bool)


@contextlib.contextmanager
def conditionals_kept_unlowered() -> Iterator[bool]:
    """Within the block, ``tf.cond`` traced into a ``tf.function`` stays an ``If`` op.

    TensorFlow otherwise lowers it to ``Switch``/``Merge``, which schedules the branch not
    taken (as dead) every step; an ``If`` op runs only the branch taken. Uses
    ``control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE`` (checked on TensorFlow
    2.16.1-2.21.0). This only changes speed, never results: where the flag is missing the
    block runs with lowered conditionals and yields ``False``.

    Example:
        >>> @tf.function
        ... def step(x):
        ...     with conditionals_kept_unlowered():
        ...         return tf.cond(x > 0, lambda: x, lambda: -x)
        >>> graph = step.get_concrete_function(tf.TensorSpec([], tf.float32)).graph
        >>> [(op.type, "_lower_using_switch_merge" in op.node_def.attr)  # no mark: not lowered
        ...  for op in graph.get_operations() if op.type.endswith("If")]
        [('StatelessIf', False)]
    """
    module = _control_flow_util_v2()
    previous = getattr(module, _LOWERING_FLAG, None)
    if not isinstance(previous, bool):
        yield False
        return
    setattr(module, _LOWERING_FLAG, True)
    try:
        yield True
    finally:
        setattr(module, _LOWERING_FLAG, previous)


def quiet_retracing_warning(function: Any) -> Any:
    """Turn off TensorFlow's "retracing" warning for one ``tf.function``; return it.

    Sets ``Function._omit_frequent_tracing_warning`` (checked on TensorFlow 2.16.1-2.21.0);
    where TensorFlow no longer reads it, the warning merely comes back.

    Example:
        >>> function = quiet_retracing_warning(tf.function(lambda x: x + 1))
        >>> function._omit_frequent_tracing_warning, int(function(tf.constant(1)))
        (True, 2)
    """
    function._omit_frequent_tracing_warning = True
    return function


def is_eager_tensor(tensor: Any) -> bool:
    """Whether ``tensor`` is a concrete (eager) tensor, not one of a graph being traced.

    ``tf.__internal__.EagerTensor``, checked on TensorFlow 2.16.1-2.21.0.

    Example:
        >>> is_eager_tensor(tf.constant(1.0))
        True
    """
    return isinstance(tensor, tf.__internal__.EagerTensor)


# ---------------------------------------------------------------- metrics and masks (Keras)
def metric_objects(model: Any) -> list[Any]:
    """The model's metrics, the compiled ones unwrapped from Keras' ``CompileMetrics``.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse", metrics=["mae"])
        >>> metric_objects(model)[0].name
        'loss'
    """
    found: list[Any] = []
    for metric in getattr(model, "metrics", None) or []:
        inner = getattr(metric, "metrics", None)
        found.extend(inner if isinstance(inner, (list, tuple)) else [metric])
    return found


def metric_direction(metric: Any) -> str | None:
    """``"up"``/``"down"`` where a Keras metric says which way is better, else ``None``.

    ``Metric._direction``, checked on Keras 3.5.0-3.15.1 (absent on some metrics).

    Example:
        >>> metric_direction(keras.metrics.Accuracy()), metric_direction(keras.metrics.Mean())
        ('up', None)
    """
    direction = getattr(metric, "_direction", None)
    return direction if direction in ("up", "down") else None


def keras_mask(tensor: Any) -> Any:
    """The Keras mask a tensor carries between layers (``_keras_mask``), or ``None``.

    ``keras.src.backend.get_keras_mask``, checked on Keras 3.5.0-3.15.1.

    Example:
        >>> x = keras.layers.Embedding(5, 2, mask_zero=True)(keras.ops.convert_to_tensor([[1, 0]]))
        >>> keras_mask(x).numpy().tolist()
        [[True, False]]
    """
    from keras.src import backend as keras_backend

    getter = getattr(keras_backend, "get_keras_mask", None)
    if getter is None:
        return getattr(tensor, "_keras_mask", None)
    return getter(tensor)


def set_keras_mask(tensor: Any, mask: Any) -> None:
    """Attach a Keras mask to a tensor (``keras.src.backend.set_keras_mask``).

    Example:
        >>> x = tf.ones((1, 2))
        >>> set_keras_mask(x, tf.constant([[True, False]])); keras_mask(x).numpy().tolist()
        [[True, False]]
    """
    from keras.src import backend as keras_backend

    setter = getattr(keras_backend, "set_keras_mask", None)
    if setter is None:
        tensor._keras_mask = mask
        return
    setter(tensor, mask)


# ---------------------------------------------------------------- recurrent dropout (Keras)
def is_dropout_rnn_cell(cell: Any) -> bool:
    """Whether ``cell`` implements Keras' RNN dropout (``keras.src...DropoutRNNCell`` mixin).

    Keras' own RNN layer makes this isinstance check; checked on Keras 3.5.0-3.15.1.

    Example:
        >>> cell, dense = keras.layers.LSTMCell(2), keras.layers.Dense(2)
        >>> is_dropout_rnn_cell(cell), is_dropout_rnn_cell(dense)
        (True, False)
    """
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    return isinstance(cell, DropoutRNNCell)


DROPOUT_MASK_METHOD = "_create_dropout_mask"
"""The cell method that draws a dropout mask (``DropoutRNNCell``, Keras 3.5.0-3.15.1)."""


def override_dropout_mask(cell: Any, create: Callable[[Any, float], Any]) -> None:
    """Make a recurrent cell draw its dropout masks with ``create(step_input, rate)``.

    Example:
        >>> cell = keras.layers.SimpleRNNCell(2, dropout=0.5)
        >>> override_dropout_mask(cell, lambda x, rate: "mask")
        >>> cell._create_dropout_mask(None, 0.5); remove_dropout_mask_override(cell)
        'mask'
    """
    _attribute(cell, DROPOUT_MASK_METHOD, "sampling recurrent dropout")
    object.__setattr__(cell, DROPOUT_MASK_METHOD, create)


def remove_dropout_mask_override(cell: Any) -> None:
    """Give the cell its class's mask method back (safe to call twice)."""
    if DROPOUT_MASK_METHOD in vars(cell):
        object.__delattr__(cell, DROPOUT_MASK_METHOD)


def tensor_layer(tensor: Any) -> Any:
    """The layer (operation) that produced a symbolic Keras tensor (``_keras_history[0]``).

    Checked on Keras 3.5.0-3.15.1.

    Example:
        >>> tensor_layer(keras.layers.Dense(1, name="out")(keras.Input((2,)))).name
        'out'
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        raise _missing("KerasTensor._keras_history", "naming a model's inputs and outputs")
    return history[0]


def structure(graph: Any, which: str) -> Any:
    """The nesting of a functional graph's ``"inputs"`` or ``"outputs"`` (a dict, list...).

    ``Function._inputs_struct`` / ``_outputs_struct``, checked on Keras 3.5.0-3.15.1; ``None``
    where the graph does not record it.

    Example:
        >>> inputs = keras.Input((2,), name="x")
        >>> model = keras.Model({"x": inputs}, {"y": keras.layers.Dense(1)(inputs)})
        >>> sorted(structure(model, "outputs"))
        ['y']
    """
    return getattr(graph, f"_{which}_struct", None)


def apply_gradients_counts_the_step(optimizer: Any) -> bool:
    """Whether ``_backend_apply_gradients`` itself adds 1 to ``optimizer.iterations``.

    Keras 3.5.0 counts the step at the end of that method (so skipping it skips the count);
    later versions (3.15.1 checked) count it in ``apply``, after it. Read from the method's
    source, which says so in either version.

    Example:
        >>> apply_gradients_counts_the_step(keras.optimizers.SGD()) in (True, False)
        True
    """
    import inspect

    method = getattr(type(optimizer), APPLY_GRADIENTS, None)
    try:
        source = inspect.getsource(method) if method is not None else ""
    except (OSError, TypeError):  # pragma: no cover - no source shipped
        return False
    return "_iterations.assign_add" in source or "iterations.assign_add" in source


def batch_norm_moments(layer: Any) -> Any:
    """A ``BatchNormalization`` layer's own moments function (masks, synchronized), or None.

    ``BatchNormalization._moments(inputs, mask)``, checked on Keras 3.5.0-3.15.1; ``None``
    where it is missing (the caller then computes plain moments).

    Example:
        >>> moments = batch_norm_moments(keras.layers.BatchNormalization())
        >>> callable(moments)
        True
    """
    return getattr(layer, "_moments", None)


def flatten_with_path(structure: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """``[(path, leaf)]`` of a nested structure, in ``keras.tree.flatten``'s order.

    ``keras.tree.flatten_with_path`` where it exists (Keras >= 3.6 or so; not in 3.5.0), else
    the same walk here: dict keys sorted, lists and tuples by position.

    Example:
        >>> flatten_with_path({"b": [1, 2], "a": (3,)})
        [(('a', 0), 3), (('b', 0), 1), (('b', 1), 2)]
    """
    native = getattr(keras.tree, "flatten_with_path", None)
    if native is not None:
        return [(tuple(path), leaf) for path, leaf in native(structure)]

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        if isinstance(node, dict):
            for key in sorted(node):
                yield from walk(node[key], (*path, key))
        elif isinstance(node, (list, tuple)):
            for index, item in enumerate(node):
                yield from walk(item, (*path, index))
        else:
            yield path, node

    return list(walk(structure, ()))
