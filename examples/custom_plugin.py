"""Write a keras-dnnkit plugin in a few lines and use its components by name.

A plugin is any object with ``@keras_dnnkit.hookimpl`` functions named after the hooks. Here
an in-process plugin registers an activation (the bent identity) and an initializer; a
``keras_dnnkit.Registry(plugins={...})`` loads it next to the built-ins, and a model is built
from both by name, trained briefly on the bundled digits, saved and loaded back. (To ship a
plugin in a package, declare it as an entry point in the ``keras_dnnkit`` group instead.)

    python examples/custom_plugin.py [--epochs 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import keras

import keras_dnnkit
from keras_dnnkit.data import load_digits


def bent_identity(x: Any) -> Any:
    """A smooth, non-saturating activation: x + (sqrt(x^2 + 1) - 1) / 2."""
    return x + (keras.ops.sqrt(x * x + 1.0) - 1.0) / 2


def scaled_he_normal(scale: float = 1.0, seed: int | None = None) -> Any:
    """A factory: He-normal weights whose variance is multiplied by ``scale``."""
    return keras.initializers.VarianceScaling(2.0 * scale, "fan_in", "truncated_normal", seed)


class BentIdentityPlugin:
    """The whole plugin: one hook per kind of component it adds."""

    @keras_dnnkit.hookimpl
    def dnnkit_register_activations(self, register: Any) -> None:
        register(bent_identity)

    @keras_dnnkit.hookimpl
    def dnnkit_register_initializers(self, register: Any) -> None:
        register(scaled_he_normal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch")
    args = parser.parse_args()
    epochs = 1 if args.quick else args.epochs

    registry = keras_dnnkit.Registry(plugins={"bent_identity_plugin": BentIdentityPlugin()})
    for info in registry.list_plugins():
        if not info.builtin:
            print(f"plugin {info.name} registered {dict(info.registered)}")

    keras.utils.set_random_seed(args.seed)
    split = load_digits(seed=args.seed)
    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(3):
        model.add(
            keras.layers.Dense(
                64,
                activation=registry.get("activation", "bent_identity"),
                kernel_initializer=registry.get("initializer", "scaled_he_normal", scale=0.5),
            )
        )
    model.add(keras.layers.Dense(split.num_classes, activation="softmax"))
    model.compile(
        optimizer=registry.get("optimizer", "nadam", learning_rate=2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(split.x_train, split.y_train, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    print(f"3 x 64 bent-identity MLP ({epochs} epochs): validation accuracy {accuracy:.3f}")

    path = os.path.join(tempfile.mkdtemp(), "bent_identity.keras")
    model.save(path)
    loaded = registry.load_model(path)
    activation = loaded.layers[0].activation
    print(f"saved and loaded back: first layer's activation is {activation.__name__}")


if __name__ == "__main__":
    main()
