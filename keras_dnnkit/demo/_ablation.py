"""Which change fixes the 2010 network's gradients, and by how much: one row per change.

Each row adds one change to the row above, from the 2010 setting to the recommended one,
and measures the first hidden layer's gradient norm over the output layer's at
initialization, on one batch (no training: a fraction of a second per row).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_dnnkit.demo._configurations import (
    RECIPE_2010,
    RECIPE_RECOMMENDED,
    Recipe,
)

ABLATION: tuple[tuple[str, Recipe], ...] = (
    ("2010: sigmoid, U[-1/sqrt(n), 1/sqrt(n)]", RECIPE_2010),
    ("+ He initialization (still sigmoid)", Recipe("sigmoid", "he_normal")),
    ("+ ELU instead of sigmoid", Recipe("elu", "he_normal")),
    ("+ batch normalization", Recipe("elu", "he_normal", batch_norm=True)),
    ("+ dropout head (= recommended)", RECIPE_RECOMMENDED),
)
"""Row label and model recipe, each row one change on top of the previous one."""

BATCH = 256


@dataclass(frozen=True)
class AblationRow:
    """One change and the gradient ratio it leaves at initialization.

    Example:
        >>> AblationRow("2010", 1e-16, 20).per_layer
        0.15848931924611134
    """

    label: str
    ratio: float  # first hidden layer's gradient norm / the output layer's
    depth: int

    @property
    def per_layer(self) -> float:
        """The factor each hidden layer scales the gradient by, on average."""
        return self.ratio ** (1 / self.depth) if self.ratio > 0 else 0.0


def gradient_ratio(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Return the first Dense kernel's gradient norm over the last one's, on one batch.

    Example:
        >>> import numpy as np
        >>> model = RECIPE_2010.build(3, 8, 2, seed=0)
        >>> x, y = np.ones((4, 8), "float32"), np.array([0, 1, 0, 1])
        >>> 0 < gradient_ratio(model, x, y) < 1
        True
    """
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        probabilities = model(tf.constant(x), training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))
    gradients = tape.gradient(loss, kernels)
    first, last = (float(tf.norm(g)) for g in (gradients[0], gradients[-1]))
    return first / last if last > 0 else math.nan


def ablation(
    x: np.ndarray, y: np.ndarray, *, depth: int, classes: int, seed: int = 0
) -> list[AblationRow]:
    """Measure every row of :data:`ABLATION` on the first :data:`BATCH` examples."""
    import keras

    rows = []
    for label, recipe in ABLATION:
        keras.utils.set_random_seed(seed)
        model = recipe.build(depth, x.shape[1], classes, seed)
        rows.append(AblationRow(label, gradient_ratio(model, x[:BATCH], y[:BATCH]), depth))
    return rows


def ablation_table(rows: Sequence[AblationRow]) -> str:
    """Return the rows as a table: ratio, per-layer factor, and the gain over the row above.

    Example:
        >>> print(ablation_table([AblationRow("2010", 1e-16, 20), AblationRow("+ ELU", 0.5, 20)]))
        change  first / last gradient norm  per layer  gain
        2010    1.00e-16                    0.158      -
        + ELU   5.00e-01                    0.966      x5e+15
    """
    from keras_dnnkit.cli._table import format_table

    table = []
    for index, row in enumerate(rows):
        before = rows[index - 1].ratio if index else math.nan
        gain = row.ratio / before if index and before > 0 else math.nan
        table.append(
            [
                row.label,
                f"{row.ratio:.2e}",
                f"{row.per_layer:.3f}",
                "-" if math.isnan(gain) else f"x{gain:.0e}" if gain >= 100 else f"x{gain:.2g}",
            ]
        )
    return format_table(table, header=["change", "first / last gradient norm", "per layer", "gain"])


def largest_gain(rows: Sequence[AblationRow]) -> tuple[str, float] | None:
    """Return the change with the largest gain over the row above, and that gain.

    Example:
        >>> largest_gain([AblationRow("a", 1e-9, 5), AblationRow("b", 1e-3, 5),
        ...               AblationRow("c", 0.5, 5)])
        ('b', 1000000.0)
    """
    gains = [
        (after.label, after.ratio / before.ratio)
        for before, after in zip(rows, rows[1:], strict=False)
        if before.ratio > 0 and math.isfinite(after.ratio)
    ]
    return max(gains, key=lambda item: item[1], default=None)
