"""The demo's data: the bundled digits, or a Keras data set (MNIST, Fashion-MNIST) if available."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from keras_dnnkit._validation import check_choice
from keras_dnnkit.data import Split, load_digits
from keras_dnnkit.errors import DnnkitError

DATASETS = ("digits", "mnist", "fashion_mnist")
"""Names ``--dataset`` accepts; ``digits`` ships with scikit-learn and needs no download."""


class DatasetUnavailableError(DnnkitError):
    """A Keras data set is neither in the local cache nor downloadable.

    Example:
        >>> str(DatasetUnavailableError("no network"))
        'no network'
    """


def _keras_loader(name: str) -> Any:
    import keras

    return {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]


def _split_images(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    max_train: int,
    seed: int,
) -> Split:
    """Flatten and standardize images; hold out 10 % of (a subsample of) train for validation."""
    (x_train, y_train), (x_test, y_test) = train, test
    order = np.random.default_rng(seed).permutation(len(x_train))[:max_train]
    x = x_train[order].reshape(len(order), -1).astype("float32") / 255.0
    y = y_train[order].astype("int32")
    n_valid = max(1, len(x) // 10)
    x_test = x_test.reshape(len(x_test), -1).astype("float32") / 255.0
    mean, std = x[n_valid:].mean(axis=0), x[n_valid:].std(axis=0) + 1e-6
    return Split(
        (x[n_valid:] - mean) / std,
        y[n_valid:],
        (x[:n_valid] - mean) / std,
        y[:n_valid],
        (x_test - mean) / std,
        y_test.astype("int32"),
    )


def load_dataset(name: str = "digits", *, seed: int = 0, max_train: int = 10_000) -> Split:
    """Return the named data set, standardized and split into train, validation and test.

    ``digits`` is scikit-learn's bundled 8x8 digits. ``mnist`` and ``fashion_mnist`` come from
    Keras' loaders (28x28 images, flattened; at most ``max_train`` training examples are kept
    so the demo stays fast): they are read from the Keras cache (``~/.keras/datasets``, or
    ``$KERAS_HOME/datasets``) or downloaded once.

    Raises:
        DatasetUnavailableError: the data set is not cached and could not be downloaded.
        ValueError: an unknown name.

    Example:
        >>> load_dataset("digits").x_train.shape
        (1257, 64)
    """
    check_choice("name", name, DATASETS)
    if name == "digits":
        return load_digits(seed=seed)
    try:
        # Keras prints "Downloading data from ..." on stdout; keep the demo's output clean.
        with contextlib.redirect_stdout(io.StringIO()):
            train, test = _keras_loader(name).load_data()
    except Exception as error:  # Keras raises a bare Exception when a download fails
        raise DatasetUnavailableError(
            f"The {name} data set is not in the Keras cache (~/.keras/datasets, or "
            f"$KERAS_HOME/datasets) and could not be downloaded: {error}. Run the demo "
            "without --dataset to use the bundled digits (no download needed), or fetch it "
            f'once where the internet is reachable: python -c "import keras; '
            f'keras.datasets.{name}.load_data()"'
        ) from error
    return _split_images(train, test, max_train, seed)
