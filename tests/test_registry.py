"""The registry: lookups, configuration, names, and every error path, with real plugins."""

import threading
import types

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit import (
    DuplicateComponentError,
    PluginError,
    Registry,
    UnknownComponentError,
    hookimpl,
)


def plugin(**hooks):
    """A plugin module whose hook implementations are ``hooks``."""
    module = types.ModuleType("test_plugin")
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


def isolated(**plugins):
    return Registry(plugins=plugins, entry_point_group=None)


# The seeds' catalogue (issue 4): every one of these must be registered.
CATALOGUE = {
    "initializer": [
        "glorot_normal", "glorot_uniform", "xavier_normal", "xavier_uniform", "he_normal",
        "he_uniform", "lecun_normal", "lecun_uniform", "he_avg_normal", "he_avg_uniform",
        "standard_normal", "random_normal", "variance_scaling",
    ],
    "activation": [
        "sigmoid", "tanh", "relu", "leaky_relu", "randomized_leaky_relu", "elu", "selu",
        "gelu", "swish", "silu", "mish",
    ],
    "constraint": ["max_norm", "unit_norm", "non_neg", "min_max_norm"],
    "optimizer": [
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw",
    ],
    "schedule": ["power", "exponential", "piecewise_constant"],
    "layer": ["prelu", "maxout", "randomized_leaky_relu", "batch_normalization", "dropout"],
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_catalogue_is_registered(kind):
    missing = set(CATALOGUE[kind]) - set(keras_dnnkit.names(kind))
    assert not missing


def test_get_returns_configured_components():
    assert keras_dnnkit.get("constraint", "max_norm", max_value=2.0).max_value == 2.0
    optimizer = keras_dnnkit.get("optimizer", "nadam", learning_rate=1e-3)
    assert isinstance(optimizer, keras.optimizers.Nadam)
    assert np.isclose(float(optimizer.learning_rate), 1e-3)
    momentum = keras_dnnkit.get("optimizer", "momentum", learning_rate=0.1, momentum=0.8)
    assert type(momentum) is keras.optimizers.SGD and momentum.momentum == 0.8
    assert (
        keras_dnnkit.get("initializer", "xavier_uniform").__class__
        is keras.initializers.GlorotUniform
    )
    assert keras_dnnkit.get("activation", "elu") is keras.activations.elu
    assert keras_dnnkit.get("layer", "maxout", units=3).units == 3
    assert keras_dnnkit.get("callback", "early_stopping", patience=3).patience == 3
    power = keras_dnnkit.get("schedule", "power", initial_learning_rate=0.1, decay_steps=5, power=2)
    assert np.isclose(float(power(5)), 0.1 / 2**2)


def test_configured_activation_applies_and_round_trips():
    leaky = keras_dnnkit.get("activation", "leaky_relu", negative_slope=0.5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(leaky(np.array([-2.0, 3.0]))), [-1.0, 3.0]
    )
    assert "negative_slope=0.5" in repr(leaky)
    rebuilt = keras_dnnkit.activations.ConfiguredActivation.from_config(leaky.get_config())
    assert rebuilt.function is keras.activations.leaky_relu and rebuilt.config == {
        "negative_slope": 0.5
    }


def test_bad_configuration_names_the_component():
    with pytest.raises(TypeError, match="Could not build the constraint 'max_norm'.*bogus"):
        keras_dnnkit.get("constraint", "max_norm", bogus=1)


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownComponentError) as error:
        keras_dnnkit.get("initializer", "he_normall")
    message = str(error.value)
    assert "Unknown initializer 'he_normall'" in message and "'he_normal'" in message
    assert isinstance(error.value, LookupError)


def test_unknown_kind_lists_kinds():
    with pytest.raises(
        UnknownComponentError, match="Unknown kind 'activations'. Did you mean 'activation'"
    ):
        keras_dnnkit.names("activations")


def test_names_default_to_snake_case_and_explicit_names_win():
    class WarmRestart(keras.callbacks.Callback):
        pass

    @hookimpl
    def dnnkit_register_callbacks(register):
        register(WarmRestart)
        register(WarmRestart, name="restart_alias")

    registry = isolated(mine=plugin(dnnkit_register_callbacks=dnnkit_register_callbacks))
    assert {"warm_restart", "restart_alias"} <= set(registry.names("callback"))
    assert registry.component("callback", "warm_restart").plugin == "mine"
    info = next(p for p in registry.list_plugins() if p.name == "mine")
    assert info.registered == {"callback": ("restart_alias", "warm_restart")}
    assert info.builtin is False and info.distribution is None


@pytest.mark.slow
def test_plugin_classes_become_keras_serializable_under_their_registry_name(tmp_path):
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    @hookimpl
    def dnnkit_register_layers(register):
        register(Doubler, name="test_doubler")

    registry = isolated(mine=plugin(dnnkit_register_layers=dnnkit_register_layers))
    model = keras.Sequential([keras.Input((2,)), registry.get("layer", "test_doubler")])
    assert keras.saving.get_registered_name(Doubler) == "keras_dnnkit>test_doubler"
    model.save(tmp_path / "m.keras")
    restored = registry.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(restored.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])


def test_two_plugins_with_one_name_is_an_error_naming_both():
    @hookimpl
    def dnnkit_register_activations(register):
        register(keras.activations.relu)

    registry = isolated(first=plugin(dnnkit_register_activations=dnnkit_register_activations))
    with pytest.raises(DuplicateComponentError, match="'keras_dnnkit.activations' and 'first'"):
        registry.names("activation")


def test_one_plugin_registering_a_name_twice_is_an_error():
    @hookimpl
    def dnnkit_register_constraints(register):
        register(keras.constraints.NonNeg, name="positive")
        register(keras.constraints.UnitNorm, name="positive")

    registry = isolated(twice=plugin(dnnkit_register_constraints=dnnkit_register_constraints))
    with pytest.raises(
        DuplicateComponentError, match="'twice' registers the constraint 'positive' twice"
    ):
        registry.load()


def test_a_raising_hook_names_plugin_hook_cause_and_how_to_disable():
    @hookimpl
    def dnnkit_register_layers(register):
        raise RuntimeError("weights file missing")

    registry = isolated(broken=plugin(dnnkit_register_layers=dnnkit_register_layers))
    with pytest.raises(PluginError) as error:
        registry.names("layer")
    message = str(error.value)
    assert "plugin 'broken'" in message and "dnnkit_register_layers" in message
    assert "RuntimeError: weights file missing" in message
    assert "KERAS_DNNKIT_DISABLE_PLUGINS=broken" in message
    assert error.value.plugin == "broken" and error.value.hook == "dnnkit_register_layers"


def test_a_broken_plugin_leaves_nothing_half_loaded():
    class Halfway(keras.layers.Layer):
        pass

    @hookimpl
    def good_layers(register):
        register(Halfway, name="halfway_layer")

    @hookimpl
    def bad_callbacks(register):
        raise ValueError("boom")

    good = types.ModuleType("good")
    good.dnnkit_register_layers = good_layers
    bad = types.ModuleType("bad")
    bad.dnnkit_register_callbacks = bad_callbacks
    registry = Registry(plugins={"good": good, "bad": bad}, entry_point_group=None)
    for _ in range(2):  # every use fails the same way; nothing was committed in between
        with pytest.raises(PluginError, match="plugin 'bad'"):
            registry.names("layer")
    assert keras.saving.get_registered_object("keras_dnnkit>halfway_layer") is None
    assert keras.saving.get_registered_name(Halfway) == "Halfway"


def test_a_misspelled_hook_is_reported():
    @hookimpl
    def dnnkit_register_layer(register):  # missing "s"
        pass

    registry = isolated(typo=plugin(dnnkit_register_layer=dnnkit_register_layer))
    with pytest.raises(
        PluginError, match="not a keras-dnnkit hook \\(did you mean dnnkit_register_layers\\?\\)"
    ):
        registry.load()


def test_an_unmarked_hook_is_reported():
    def dnnkit_register_layers(register):
        pass

    registry = isolated(unmarked=plugin(dnnkit_register_layers=dnnkit_register_layers))
    with pytest.raises(PluginError, match="without the @keras_dnnkit.hookimpl marker"):
        registry.load()


def test_a_hook_with_a_bad_signature_is_reported():
    @hookimpl
    def dnnkit_register_layers(registr):
        pass

    registry = isolated(signature=plugin(dnnkit_register_layers=dnnkit_register_layers))
    with pytest.raises(
        PluginError, match="(?s)plugin 'signature' has a malformed hook implementation.*'registr'"
    ):
        registry.load()


@pytest.mark.parametrize(
    ("obj", "name", "expected"),
    [
        (42, None, "register\\(\\) takes a class or a function. Received: obj=42"),
        (keras.layers.Dense, "BigDense", "must be snake_case.*Received: name='BigDense'"),
        (type("NoConfig", (), {"__call__": lambda self, x: x}), "no_config", "has no get_config"),
        (keras_dnnkit.layers.Maxout, "max_out", "saved by Keras as 'keras_dnnkit>maxout'"),
    ],
)
def test_bad_registrations_are_reported(obj, name, expected):
    @hookimpl
    def dnnkit_register_layers(register):
        register(obj, name=name)

    registry = isolated(bad=plugin(dnnkit_register_layers=dnnkit_register_layers))
    with pytest.raises(PluginError, match=expected):
        registry.load()


def test_one_name_for_two_objects_across_kinds_is_refused():
    class Spiky(keras.layers.Layer):
        pass

    def spiky(x):
        return x

    @hookimpl
    def dnnkit_register_layers(register):
        register(Spiky)

    @hookimpl
    def dnnkit_register_activations(register):
        register(spiky)

    both = plugin(
        dnnkit_register_layers=dnnkit_register_layers,
        dnnkit_register_activations=dnnkit_register_activations,
    )
    with pytest.raises(DuplicateComponentError, match="saved by Keras as 'keras_dnnkit>spiky'"):
        isolated(both=both).load()


def test_loading_is_lazy_and_happens_once_across_threads():
    calls = []

    @hookimpl
    def dnnkit_register_callbacks(register):
        calls.append(threading.get_ident())

    registry = isolated(counted=plugin(dnnkit_register_callbacks=dnnkit_register_callbacks))
    assert calls == []
    threads = [threading.Thread(target=registry.names, args=("callback",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_tracing_writes_hook_calls_to_stderr(capsys):
    Registry(entry_point_group=None, environ={"KERAS_DNNKIT_TRACE_PLUGINS": "1"}).load()
    assert "dnnkit_register_layers" in capsys.readouterr().err


def test_without_builtins_the_registry_holds_only_given_plugins():
    @hookimpl
    def dnnkit_register_optimizers(register):
        register(keras.optimizers.Lion, name="lion")

    registry = Registry(
        builtins=False,
        plugins={"lion": plugin(dnnkit_register_optimizers=dnnkit_register_optimizers)},
        entry_point_group=None,
    )
    assert registry.names("optimizer") == ["lion"]
    assert [c.name for c in registry.components()] == ["lion"]
