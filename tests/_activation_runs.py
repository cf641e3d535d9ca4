"""Tiny digits models for the activation-diagnostics tests: saturated, dead, healthy."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras

from keras_dnnkit.data import Split, load_digits

STEPS_PER_EPOCH = 20
BATCH_SIZE = 32


def digits() -> Split:
    return load_digits()


def mlp(kind: str, depth: int = 20, width: int = 100) -> keras.Model:
    """``saturated``: sigmoid, N(0, 1) weights; ``dead``: ReLU, bias -5; ``healthy``: He+BN+ELU."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,))])
    for i in range(depth):
        if kind == "saturated":
            init = keras.initializers.RandomNormal(0.0, 1.0)
            model.add(
                keras.layers.Dense(
                    width, activation="sigmoid", kernel_initializer=init, name=f"hidden_{i}"
                )
            )
        elif kind == "dead":
            bias = keras.initializers.Constant(-5.0)
            model.add(
                keras.layers.Dense(
                    width,
                    activation="relu",
                    kernel_initializer="he_normal",
                    bias_initializer=bias,
                    name=f"hidden_{i}",
                )
            )
        else:
            model.add(keras.layers.Dense(width, kernel_initializer="he_normal", name=f"hidden_{i}"))
            model.add(keras.layers.BatchNormalization(name=f"norm_{i}"))
            model.add(keras.layers.Activation("elu", name=f"elu_{i}"))
    model.add(keras.layers.Dense(10, activation="softmax", name="output"))
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    return model


def train(
    model: keras.Model, callbacks: list[Any], epochs: int = 1
) -> list[warnings.WarningMessage]:
    """Fit on the first 640 training digits; return the warnings issued."""
    split = digits()
    n = STEPS_PER_EPOCH * BATCH_SIZE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(
            split.x_train[:n],
            split.y_train[:n],
            epochs=epochs,
            batch_size=BATCH_SIZE,
            callbacks=callbacks,
            verbose=0,
        )
    return list(caught)


def log_dir(tmp: Path, name: str) -> str:
    return str(tmp / name)
