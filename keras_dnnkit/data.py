"""Data sets that need no download: scikit-learn's 8x8 digits, standardized and split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "load_digits"]


@dataclass(frozen=True)
class Split:
    """Train, validation and test arrays (features float32, labels int32).

    Example:
        >>> split = load_digits()
        >>> split.x_valid.dtype, split.y_valid.dtype, split.num_classes
        (dtype('float32'), dtype('int32'), 10)
        >>> len(split.x_train), len(split.x_valid), len(split.x_test)  # 1,797 digits in all
        (1257, 270, 270)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        """Number of classes in the labels."""
        return int(max(self.y_train.max(), self.y_valid.max(), self.y_test.max())) + 1


def load_digits(
    validation_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
) -> Split:
    """Return scikit-learn's digits (1,797 images of 8x8), standardized with train statistics.

    Args:
        validation_fraction: share of the examples held out for validation.
        test_fraction: share held out for testing.
        seed: shuffling seed.

    Example:
        >>> split = load_digits()
        >>> split.x_train.shape, split.num_classes
        ((1257, 64), 10)
        >>> # standardized with the train statistics only: mean 0 there, not quite elsewhere
        >>> float(abs(split.x_train.mean(axis=0)).max()) < 1e-5, float(abs(split.x_test.mean())) > 0
        (True, True)
        >>> bool((load_digits(seed=0).y_test == split.y_test).all())  # the same seed, same split
        True
    """
    from sklearn.datasets import load_digits as sklearn_digits

    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0 < value < 1:
            raise ValueError(f"Argument {name} must be in (0, 1). Received: {name}={value!r}")
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "validation_fraction + test_fraction must be < 1. Received: "
            f"{validation_fraction} + {test_fraction}"
        )
    digits = sklearn_digits()
    x = digits.data.astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(len(x) * test_fraction))
    n_valid = int(round(len(x) * validation_fraction))
    x_test, y_test = x[:n_test], y[:n_test]
    x_valid, y_valid = x[n_test : n_test + n_valid], y[n_test : n_test + n_valid]
    x_train, y_train = x[n_test + n_valid :], y[n_test + n_valid :]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-6
    return Split(
        (x_train - mean) / std,
        y_train,
        (x_valid - mean) / std,
        y_valid,
        (x_test - mean) / std,
        y_test,
    )
