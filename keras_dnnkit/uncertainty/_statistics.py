"""Uncertainty statistics of a stack of Monte-Carlo samples (samples on axis 0).

For class probabilities ``p[s, ..., c]`` (``S`` samples) with mean ``m = mean_s p``:

* predictive entropy ``H[m] = -sum_c m_c log m_c`` (total uncertainty);
* expected entropy ``mean_s H[p_s]`` (aleatoric part);
* mutual information (BALD) ``H[m] - mean_s H[p_s]`` (epistemic part, >= 0);
* variation ratio ``1 - (count of the modal predicted class) / S``.

Entropies are in nats.
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-12


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Return the entropy (nats) of distributions along the last axis.

    Example:
        >>> float(entropy(np.array([0.5, 0.5])))
        0.6931...
    """
    p = np.asarray(probabilities, dtype="float64")
    return np.asarray(-np.sum(p * np.log(np.clip(p, _TINY, None)), axis=-1))


def predictive_entropy(samples: np.ndarray) -> np.ndarray:
    """Return the entropy of the mean prediction over the samples (axis 0).

    Example:
        >>> float(predictive_entropy(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))[0])
        0.6931...
    """
    return entropy(np.mean(np.asarray(samples, dtype="float64"), axis=0))


def expected_entropy(samples: np.ndarray) -> np.ndarray:
    """Return the mean over the samples (axis 0) of each sample's entropy.

    Example:
        >>> float(expected_entropy(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))[0])
        0.0
    """
    return np.asarray(np.mean(entropy(samples), axis=0))


def mutual_information(samples: np.ndarray) -> np.ndarray:
    """Return BALD: predictive entropy minus expected entropy (clipped at 0 for round-off).

    Example:
        >>> float(mutual_information(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))[0])
        0.6931...
    """
    return np.asarray(np.maximum(predictive_entropy(samples) - expected_entropy(samples), 0.0))


def variation_ratio(samples: np.ndarray) -> np.ndarray:
    """Return ``1 -`` the share of samples that vote for the most voted class.

    Example:
        >>> stack = np.array([[[0.9, 0.1]], [[0.8, 0.2]], [[0.3, 0.7]], [[0.6, 0.4]]])
        >>> float(variation_ratio(stack)[0])
        0.25
    """
    stack = np.asarray(samples)
    votes = np.argmax(stack, axis=-1)
    counts = np.stack([np.sum(votes == c, axis=0) for c in range(stack.shape[-1])], axis=-1)
    return np.asarray(1.0 - np.max(counts, axis=-1) / stack.shape[0])
