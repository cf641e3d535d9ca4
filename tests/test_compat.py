"""Every Keras/TensorFlow internal keras-dnnkit relies on, checked against the installed versions.

Each test names one function of ``keras_dnnkit._compat`` and asserts the behaviour the package
relies on, so an upgrade that moves an internal fails here by name. The module runs in CI's
newest lane and in its floor lane (the lowest versions pyproject.toml allows).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dnnkit import _compat
from keras_dnnkit.errors import KerasVersionError

ROOT = Path(__file__).resolve().parents[1]


def _lower_bound(requirement: str) -> str:
    match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    assert match, f"no lower bound in {requirement!r}"
    return match.group(1)


def _declared() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    requirements = re.findall(r'"([^"]+)"', block)
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0]: r for r in requirements}


def test_installed_versions_are_inside_the_declared_range() -> None:
    declared = _declared()
    for name, installed in (("keras", keras.version()), ("tensorflow", tf.__version__)):
        requirement = declared[name]
        assert "<" in requirement, (
            f"{name} needs an upper bound below the next major: {requirement}"
        )
        low = _compat.version_tuple(_lower_bound(requirement))
        high = _compat.version_tuple(re.search(r"<\s*([0-9][0-9.]*)", requirement).group(1))
        assert low <= _compat.version_tuple(installed) < high, (name, installed, requirement)


def test_the_advertised_minimum_is_the_declared_floor() -> None:
    declared = _declared()
    assert _compat.version_tuple(_lower_bound(declared["keras"])) == _compat.MINIMUM_KERAS
    for name in ("keras", "tensorflow"):
        assert f"{name}>={_lower_bound(declared[name])}" in _compat.REQUIRED


def test_ci_floor_lane_installs_exactly_the_declared_lower_bounds() -> None:
    floors = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "floor_requirements.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    expected = {f"{name}=={_lower_bound(r)}" for name, r in _declared().items()}
    assert expected <= set(floors), sorted(expected - set(floors))


def _internal_touches(path: Path) -> list[str]:
    """Private attributes of objects other than ``self``/``cls``, and internal modules."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr == "__internal__":
            found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and re.match(r"_[a-zA-Z]", node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            found.append(f"{where}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) > 1
            and ast.unparse(node.args[0]) not in ("self", "cls")
            and isinstance(node.args[1], ast.Constant)
            and re.match(r"_[a-zA-Z]", str(node.args[1].value))
        ):
            found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names]
            if any(m.startswith(("tensorflow.python", "keras.src")) for m in modules):
                found.append(f"{where}: {ast.unparse(node)}")
    return found


def test_no_keras_or_tensorflow_internal_is_touched_outside_compat() -> None:
    paths = sorted((ROOT / "keras_dnnkit").rglob("*.py"))
    touches = [t for p in paths if p.name != "_compat.py" for t in _internal_touches(p)]
    assert touches == [], "use keras_dnnkit._compat instead:\n" + "\n".join(touches)


def test_version_tuple_orders_versions_numerically() -> None:
    assert _compat.version_tuple("3.10.0") > _compat.version_tuple("3.9.2")
    assert _compat.version_tuple("3.5.0rc1") == (3, 5, 0)


# ---------------------------------------------------------------- optimizer
def _weights_and_gradients() -> tuple[list[keras.Variable], list[tf.Tensor]]:
    weights = [keras.Variable(np.ones(3, "float32")), keras.Variable(np.ones(2, "float32"))]
    return weights, [tf.constant([3.0, 0.0, 4.0]), tf.constant([0.0, 0.0])]


def test_apply_gradients_override_sees_unscaled_preclip_gradients() -> None:
    # The claim GradientDiagnostics documents: the hook sees gradients after the loss scale is
    # divided out and before clipnorm. Here the global norm is 5, clipped to 1.
    inner = keras.optimizers.SGD(learning_rate=1.0, clipnorm=1.0)
    optimizer = keras.optimizers.LossScaleOptimizer(inner, initial_scale=8.0)
    weights, gradients = _weights_and_gradients()
    seen: list[list[float]] = []

    def observe(grads, variables):  # type: ignore[no-untyped-def]
        seen.append([float(tf.norm(g)) for g in grads])
        return original(grads, variables)

    original = _compat.override_apply_gradients(inner, observe)
    assert _compat.apply_gradients_override(inner) is observe
    optimizer.apply([g * 8.0 for g in gradients], weights)
    assert seen == [pytest.approx([5.0, 0.0])]  # unscaled, not clipped
    np.testing.assert_allclose(weights[0].numpy(), [1 - 0.6, 1.0, 1 - 0.8], rtol=1e-6)  # clipped
    _compat.remove_apply_gradients_override(inner)
    _compat.remove_apply_gradients_override(inner)  # safe twice
    assert _compat.apply_gradients_override(inner) is None
    assert _compat.APPLY_GRADIENTS not in vars(inner)


def test_override_refuses_a_keras_that_clips_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras, "version", lambda: "3.4.1")
    with pytest.raises(KerasVersionError, match=r"Keras 3\.4\.1.*keras>=3\.5") as caught:
        _compat.override_apply_gradients(keras.optimizers.SGD(), lambda g, v: None)
    assert caught.value.installed.startswith("Keras 3.4.1")


def test_learning_rate_object_is_the_schedule_and_replacing_it_is_untracked() -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    optimizer = keras.optimizers.SGD(schedule)
    assert _compat.learning_rate_object(optimizer) is schedule
    weights, gradients = _weights_and_gradients()
    optimizer.build(weights)
    before = len(optimizer.variables)
    rate = keras.Variable(0.25, trainable=False)
    _compat.replace_learning_rate_object(optimizer, rate)
    assert len(optimizer.variables) == before
    optimizer.apply(gradients, weights)
    np.testing.assert_allclose(weights[0].numpy(), [1 - 0.75, 1.0, 1 - 1.0], rtol=1e-6)
    _compat.replace_learning_rate_object(optimizer, schedule)
    assert _compat.learning_rate_object(optimizer) is schedule


def test_variable_index_finds_the_momentum_slot() -> None:
    optimizer = keras.optimizers.SGD(learning_rate=1.0, momentum=0.5)
    weights, gradients = _weights_and_gradients()
    optimizer.build(weights)
    optimizer.apply(gradients, weights)
    first = optimizer.momentums[_compat.variable_index(optimizer, weights[0])]
    np.testing.assert_allclose(first.numpy(), [-3.0, 0.0, -4.0])
    assert _compat.variable_index(optimizer, weights[1]) == 1


@pytest.mark.slow
def test_variable_key_identifies_mirrored_variables_as_the_model_does() -> None:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        optimizer = keras.optimizers.SGD()
    key = _compat.variable_key(optimizer)
    keys = [key(v) for v in model.trainable_variables]
    assert len(set(keys)) == 2
    seen: list[object] = []

    def observe(grads, variables):  # type: ignore[no-untyped-def]
        seen.extend(key(v) for v in variables)
        return original(grads, variables)

    original = _compat.override_apply_gradients(optimizer, observe)
    model.compile(optimizer, "mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    _compat.remove_apply_gradients_override(optimizer)
    assert set(seen) == set(keys)


def test_a_missing_internal_names_it_and_the_installed_versions() -> None:
    with pytest.raises(KerasVersionError, match=r"object\._var_key.*Keras 3\.\d+") as caught:
        _compat.variable_key(object())
    assert "keras>=3.5.0" in caught.value.required


# ---------------------------------------------------------------- layers and graphs
def test_flatten_layers_walks_nested_models_and_skips_plain_operations() -> None:
    noise = keras.layers.Dropout(0.5)
    inner = keras.Sequential([keras.Input((2,)), noise])
    model = keras.Sequential([keras.Input((2,)), inner, keras.layers.Dense(1)])
    layers = _compat.flatten_layers(model)
    assert layers[0] is model and inner in layers and noise in layers
    assert _compat.flatten_layers(keras.ops.add) == []


def test_spatial_noise_shape_drops_whole_channels_only_for_spatial_dropout() -> None:
    inputs = tf.ones((2, 5, 5, 3))
    shape = _compat.spatial_noise_shape(keras.layers.SpatialDropout2D(0.5), inputs)
    assert [int(d) for d in shape] == [2, 1, 1, 3]
    assert _compat.spatial_noise_shape(keras.layers.Dropout(0.5), inputs) is None


def test_call_has_training_argument() -> None:
    assert _compat.call_has_training_argument(keras.layers.BatchNormalization())
    assert not _compat.call_has_training_argument(keras.layers.ReLU())
    assert not _compat.call_has_training_argument(keras.ops.add)


def test_functional_graph_nodes_and_inbound_nodes() -> None:
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    outputs = keras.layers.Dense(1, name="out")(hidden)
    model = keras.Model(inputs, outputs)
    assert _compat.functional_graph(model) is model
    sequential = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert _compat.nodes_by_depth(_compat.functional_graph(sequential))
    assert _compat.functional_graph(keras.Sequential([keras.layers.Dense(1)])) is None
    by_depth = _compat.nodes_by_depth(model)
    names = [[n.operation.name for n in by_depth[d]] for d in sorted(by_depth, reverse=True)]
    assert names[1:] == [["hidden"], ["out"]]
    node = _compat.producing_node(outputs)
    assert node.operation.name == "out" and node in _compat.inbound_nodes(model.layers[-1])
    assert _compat.producing_node(hidden).operation.name == "hidden"
    assert _compat.producing_node(np.ones(2)) is None


# ---------------------------------------------------------------- TensorFlow
def test_strategy_supports_no_merge_call() -> None:
    assert _compat.strategy_supports_no_merge_call() is True
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        assert isinstance(_compat.strategy_supports_no_merge_call(), bool)


def test_conditionals_kept_unlowered_keeps_an_if_op_in_the_runtime_graph() -> None:
    assert _compat.can_keep_conditionals_unlowered()

    def lowering_marks(keep: bool) -> list[bool]:
        @tf.function
        def step(x):  # type: ignore[no-untyped-def]
            if keep:
                with _compat.conditionals_kept_unlowered() as kept:
                    assert kept
                    return tf.cond(x > 0, lambda: x * 2, lambda: x)
            return tf.cond(x > 0, lambda: x * 2, lambda: x)

        concrete = step.get_concrete_function(tf.TensorSpec([], tf.float32))
        assert float(concrete(tf.constant(3.0))) == 6.0
        # TensorFlow marks the op to be lowered to Switch/Merge when the graph runs; an op
        # without the mark stays an If op.
        return [
            "_lower_using_switch_merge" in op.node_def.attr
            for op in concrete.graph.get_operations()
            if op.type in ("If", "StatelessIf")
        ]

    assert lowering_marks(keep=True) == [False]
    assert lowering_marks(keep=False) == [True]


def test_quiet_retracing_warning_sets_the_attribute_tensorflow_reads() -> None:
    function = _compat.quiet_retracing_warning(tf.function(lambda x: x + 1))
    assert function._omit_frequent_tracing_warning is True
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    assert "_omit_frequent_tracing_warning" in Path(polymorphic_function.__file__).read_text()
