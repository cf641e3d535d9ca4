"""Tests of the installed example plugin, run against its installed distribution."""

import importlib.metadata
import os
import tempfile

import keras
import numpy as np

import keras_dnnkit


def test_entry_point_is_installed():
    names = [ep.name for ep in importlib.metadata.entry_points(group="keras_dnnkit")]
    assert "example" in names


def test_components_are_found_by_name():
    registry = keras_dnnkit.Registry()
    assert "squareplus" in registry.names("activation")
    constraint = registry.get("constraint", "clip_weights", limit=0.25)
    clipped = constraint(keras.ops.convert_to_tensor([3.0, -3.0, 0.1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clipped), [0.25, -0.25, 0.1])
    plugin = next(p for p in registry.list_plugins() if p.name == "example")
    assert plugin.distribution == "dnnkit-example-plugin"
    assert plugin.registered == {"activation": ("squareplus",), "constraint": ("clip_weights",)}


def test_model_with_plugin_components_round_trips():
    registry = keras_dnnkit.Registry()
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(
                4,
                activation=registry.get("activation", "squareplus"),
                kernel_constraint=registry.get("constraint", "clip_weights", limit=0.3),
            ),
        ]
    )
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    path = os.path.join(tempfile.mkdtemp(), "plugin.keras")
    model.save(path)
    restored = registry.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))
    assert restored.layers[0].kernel_constraint.limit == 0.3
