"""The two ways the demo trains the same deep MLP: as in 2010, and as recommended today.

2010 is the setting Glorot & Bengio (2010) studied: sigmoid units, weights drawn from
U[-1/sqrt(n), 1/sqrt(n)] (n: the layer's fan-in), plain SGD. Every component comes from
the registry by name (``keras_dnnkit.get(kind, name)``).
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


def uniform_2010(seed: int) -> Any:
    """Return the initializer of 2010: U[-1/sqrt(n), 1/sqrt(n)], n the layer's fan-in.

    The "commonly used heuristic" Glorot & Bengio (2010) start from; its variance is
    1/(3n), a third of what keeps the signal's scale through a linear layer.

    Example:
        >>> import numpy as np
        >>> weights = np.asarray(uniform_2010(0)((400, 100)))
        >>> bool(abs(weights).max() <= 1 / np.sqrt(400)), round(float(weights.std() * 20 * 3 ** 0.5), 1)
        (True, 1.0)
    """  # noqa: E501 -- a doctest's expected output is one line
    return get(
        "initializer",
        "variance_scaling",
        scale=1 / 3,  # limit sqrt(3 * scale / n) = 1 / sqrt(n)
        mode="fan_in",
        distribution="uniform",
        seed=seed,
    )


@dataclass(frozen=True)
class Recipe:
    """How the demo's MLP is built: activation, initialization, batch norm, dropout head.

    Example:
        >>> model = Recipe("elu", "he_normal", batch_norm=True).build(2, 64, 10, seed=0)
        >>> [layer.name for layer in model.layers]
        ['hidden_01', 'batch_norm_01', 'hidden_02', 'batch_norm_02', 'output']
    """

    activation: str
    initializer: str  # a registered initializer name, or "uniform_2010"
    batch_norm: bool = False
    dropout_head: bool = False
    output_initializer: str | None = None  # default: as the hidden layers

    def _initializer(self, seed: int, name: str | None = None) -> Any:
        name = name or self.initializer
        if name == "uniform_2010":
            return uniform_2010(seed)
        return get("initializer", name, seed=seed)

    def build(self, depth: int, inputs: int, classes: int, seed: int) -> Any:
        """Return the (uncompiled) MLP: ``depth`` hidden layers of :data:`UNITS` units."""
        model = keras.Sequential([keras.Input((inputs,))], name="mlp")
        for index in range(depth):
            model.add(
                keras.layers.Dense(
                    UNITS,
                    activation=get("activation", self.activation),
                    kernel_initializer=self._initializer(seed + index),
                    name=hidden_name(index),
                )
            )
            if self.batch_norm:
                model.add(get("layer", "batch_normalization", name=f"batch_norm_{index + 1:02d}"))
        if self.dropout_head:
            model.add(get("layer", "dropout", rate=DROPOUT_RATE, seed=seed, name="dropout"))
        model.add(
            keras.layers.Dense(
                classes,
                activation="softmax",
                kernel_initializer=self._initializer(seed + depth, self.output_initializer),
                name="output",
            )
        )
        return model


RECIPE_2010 = Recipe("sigmoid", "uniform_2010")
RECIPE_RECOMMENDED = Recipe(
    "elu", "he_normal", batch_norm=True, dropout_head=True, output_initializer="glorot_uniform"
)


def _one_cycle_nadam(total_steps: int) -> Any:
    schedule = get("schedule", "one_cycle", max_lr=3e-3, total_steps=max(total_steps, 2))
    return get("optimizer", "nadam", learning_rate=schedule)


def _momentum_cycling() -> list[Any]:
    # Cycles Nadam's beta_1 inversely to the rate, from the 1cycle schedule it reads.
    return [get("callback", "momentum_scheduler")]


TWENTY_TEN = Configuration(
    key="2010_defaults",
    title="2010 defaults",
    description="sigmoid, U[-1/sqrt(n), 1/sqrt(n)] init, plain SGD (lr 0.01)",
    build_model=RECIPE_2010.build,
    build_optimizer=lambda total_steps: get("optimizer", "sgd", learning_rate=0.01),
    build_callbacks=list,
)

RECOMMENDED = Configuration(
    key="recommended",
    title="recommended",
    description="He init, ELU, batch norm, dropout head, Nadam + 1cycle",
    build_model=RECIPE_RECOMMENDED.build,
    build_optimizer=_one_cycle_nadam,
    build_callbacks=_momentum_cycling,
)

CONFIGURATIONS = (TWENTY_TEN, RECOMMENDED)
"""The configurations the demo compares, in table order."""
