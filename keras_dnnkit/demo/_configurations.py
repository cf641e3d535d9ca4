"""The two ways the demo trains the same deep MLP: as in 2010, and as recommended today.

Every component comes from the registry by name (``keras_dnnkit.get(kind, name)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from keras_dnnkit.registry import get

UNITS = 100
"""Units per hidden layer."""

DROPOUT_RATE = 0.2
"""Dropout before the recommended model's output layer (what MC dropout samples)."""


@dataclass(frozen=True)
class Configuration:
    """One way to train the demo's MLP.

    Attributes:
        key: the run's directory name under the log dir.
        title: the column header in the printed tables.
        description: the recipe in a few words.
        build_model: ``(depth, inputs, classes, seed) -> keras.Model`` (not compiled).
        build_optimizer: ``(total_steps) -> optimizer``.
        build_callbacks: ``() -> list of extra callbacks`` (e.g. momentum cycling).

    Example:
        >>> [configuration.title for configuration in CONFIGURATIONS]
        ['2010 defaults', 'recommended']
    """

    key: str
    title: str
    description: str
    build_model: Callable[[int, int, int, int], Any]
    build_optimizer: Callable[[int], Any]
    build_callbacks: Callable[[], list[Any]]


def hidden_name(index: int) -> str:
    """Return the name of hidden layer ``index`` (0-based), as it shows in TensorBoard.

    Example:
        >>> hidden_name(0)
        'hidden_01'
    """
    return f"hidden_{index + 1:02d}"


def _mlp_2010(depth: int, inputs: int, classes: int, seed: int) -> Any:
    model = keras.Sequential([keras.Input((inputs,))], name="mlp_2010_defaults")
    for index in range(depth):
        model.add(
            keras.layers.Dense(
                UNITS,
                activation=get("activation", "sigmoid"),
                kernel_initializer=get("initializer", "standard_normal", seed=seed + index),
                name=hidden_name(index),
            )
        )
    model.add(
        keras.layers.Dense(
            classes,
            activation="softmax",
            kernel_initializer=get("initializer", "standard_normal", seed=seed + depth),
            name="output",
        )
    )
    return model


def _mlp_recommended(depth: int, inputs: int, classes: int, seed: int) -> Any:
    model = keras.Sequential([keras.Input((inputs,))], name="mlp_recommended")
    for index in range(depth):
        model.add(
            keras.layers.Dense(
                UNITS,
                activation=get("activation", "elu"),
                kernel_initializer=get("initializer", "he_normal", seed=seed + index),
                name=hidden_name(index),
            )
        )
        model.add(get("layer", "batch_normalization", name=f"batch_norm_{index + 1:02d}"))
    model.add(get("layer", "dropout", rate=DROPOUT_RATE, seed=seed, name="dropout"))
    model.add(
        keras.layers.Dense(
            classes,
            activation="softmax",
            kernel_initializer=get("initializer", "glorot_uniform", seed=seed + depth),
            name="output",
        )
    )
    return model


def _one_cycle_nadam(total_steps: int) -> Any:
    schedule = get("schedule", "one_cycle", max_lr=3e-3, total_steps=max(total_steps, 2))
    return get("optimizer", "nadam", learning_rate=schedule)


def _momentum_cycling() -> list[Any]:
    # Cycles Nadam's beta_1 inversely to the rate, from the 1cycle schedule it reads.
    return [get("callback", "momentum_scheduler")]


TWENTY_TEN = Configuration(
    key="2010_defaults",
    title="2010 defaults",
    description="sigmoid, N(0,1) init, plain SGD (lr 0.01)",
    build_model=_mlp_2010,
    build_optimizer=lambda total_steps: get("optimizer", "sgd", learning_rate=0.01),
    build_callbacks=list,
)

RECOMMENDED = Configuration(
    key="recommended",
    title="recommended",
    description="He init, ELU, batch norm, dropout head, Nadam + 1cycle",
    build_model=_mlp_recommended,
    build_optimizer=_one_cycle_nadam,
    build_callbacks=_momentum_cycling,
)

CONFIGURATIONS = (TWENTY_TEN, RECOMMENDED)
"""The configurations the demo compares, in table order."""
