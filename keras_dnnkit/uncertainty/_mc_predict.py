"""``mc_predict``: Monte-Carlo dropout on a trained model, batch norm left in inference mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_dnnkit._validation import check_choice
from keras_dnnkit.uncertainty._noise import find_stochastic_layers, stochastic_types
from keras_dnnkit.uncertainty._result import TASKS, MCPrediction, looks_like_probabilities
from keras_dnnkit.uncertainty._sampler import Sampler, get_sampler

#: Inputs per pass through the deterministic part, unless ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 1024


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument {name} must be an integer >= 1. Received: {name}={value!r}")


def _as_inputs(sampler: Sampler, x: Any) -> list[np.ndarray]:
    graph = sampler.plan.graph
    arrays = [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]
    if graph is not None:
        expected = graph.inputs
        if len(arrays) != len(expected):
            raise ValueError(
                f"The model takes {len(expected)} input(s). Received: {len(arrays)} array(s)"
            )
        checked = []
        for array, tensor in zip(arrays, expected, strict=True):
            want = tuple(tensor.shape[1:])
            got = array.shape[1:]
            if array.ndim != len(tensor.shape) or any(
                w is not None and w != g for w, g in zip(want, got, strict=True)
            ):
                raise ValueError(
                    f"x must be shaped (inputs, {', '.join(str(w) for w in want)}) for input "
                    f"'{tensor.name}'. Received: x.shape={array.shape}"
                )
            checked.append(array.astype(tensor.dtype, copy=False))
        arrays = checked
    elif any(array.ndim < 1 for array in arrays):
        raise ValueError(
            "x must have the inputs on axis 0. Received: a scalar (x.shape=()). "
            "Pass x[None] for a single input."
        )
    else:
        arrays = [a.astype("float32") if a.dtype == np.float64 else a for a in arrays]
    lengths = {len(array) for array in arrays}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            "x must hold at least one input, with the same number of rows in every array. "
            f"Received: rows={sorted(len(a) for a in arrays)}"
        )
    return arrays


def _no_noise_error(model: Any, types: Sequence[type[Any]], include_gaussian_noise: bool) -> str:
    searched = ", ".join(t.__name__ for t in types)
    hint = (
        ""
        if include_gaussian_noise
        else " GaussianNoise layers are sampled only with include_gaussian_noise=True."
    )
    return (
        f"Model '{getattr(model, 'name', model)}' has no dropout layer, so Monte-Carlo sampling "
        f"has nothing to sample. Searched for (with subclasses, in nested models too): "
        f"{searched}.{hint} Add a Dropout layer before the output and retrain, or use "
        "keras_dnnkit.layers.MCDropout."
    )


def mc_predict(
    model: Any,
    x: Any,
    samples: int = 100,
    *,
    batch_size: int | None = None,
    seed: int | None = None,
    max_rows_per_chunk: int | None = None,
    return_samples: bool = False,
    task: str = "auto",
    include_gaussian_noise: bool = False,
) -> MCPrediction:
    """Monte-Carlo dropout predictions of a trained Keras model, without rebuilding it.

    Only the dropout-family layers (``Dropout``, ``SpatialDropout1D/2D/3D``, ``AlphaDropout``,
    ``GaussianDropout``, subclasses such as :class:`~keras_dnnkit.layers.MCDropout`, and with
    ``include_gaussian_noise=True`` also ``GaussianNoise``) draw noise; every other layer runs
    in inference mode. Unlike ``model(x, training=True)``, batch normalization keeps its moving
    statistics, so a prediction does not depend on the rest of the batch, and no variable of
    the model (weights, moving statistics, the layers' seed generators) changes.

    How it runs: for functional and ``Sequential`` models, layers that no dropout layer feeds
    (e.g. a convolutional trunk below a dropout head) run **once per input**; their outputs are
    tiled ``samples`` times and only the rest of the network runs on the tiled rows, in large
    compiled (``tf.function``) passes of at most ``max_rows_per_chunk`` rows. Subclassed models
    have no graph to split: the whole model runs on the tiled rows (full tiling, still
    vectorized and compiled). Needs the TensorFlow backend; the model must have one output.
    Keras masks (e.g. from ``Embedding(mask_zero=True)``) are not carried from the
    deterministic part into the stochastic part.

    Args:
        model: a trained Keras model containing dropout-family layers.
        x: inputs, an array with the inputs on axis 0 (a list of arrays for several inputs).
        samples: number of Monte-Carlo samples per input (>= 1).
        batch_size: inputs per pass through the deterministic part (default 1024); the
            stochastic passes then take as many of them as ``max_rows_per_chunk`` allows.
        seed: makes the result reproducible; ``None`` draws a fresh seed.
        max_rows_per_chunk: memory bound: tiled rows per stochastic forward pass. Default:
            as many as keep the stochastic part's activations of one pass under about 64 MB
            (8192 rows for subclassed models).
        return_samples: keep the raw samples, shape ``(samples, inputs, ...)``, in the result.
        task: ``"classification"`` (probability outputs, e.g. softmax; one sigmoid output
            counts as two classes), ``"regression"``, or ``"auto"`` (classification when every
            output row is a probability vector).
        include_gaussian_noise: also sample ``GaussianNoise`` layers (input-noise
            regularizers, off by default: they are not part of the MC-dropout posterior).

    Returns:
        An :class:`MCPrediction` with ``mean``, ``std``, ``entropy``, ``expected_entropy``,
        ``mutual_information``, ``variation_ratio``, ``predicted_class`` and ``confidence``.

    Raises:
        ValueError: no dropout layer in the model, ``samples < 1``, a badly shaped ``x``, or an
            invalid option.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
        ...     keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
        >>> result = mc_predict(model, np.ones((2, 4)), samples=20, seed=0)
        >>> result.mean.shape, result.mutual_information.shape
        ((2, 3), (2,))
        >>> result.mean.sum(axis=1).round(5).tolist()  # mean class probabilities
        [1.0, 1.0]
        >>> bool(result.std.max() > 0), bool((result.mutual_information >= 0).all())  # sampled
        (True, True)
    """
    _check_count("samples", samples)
    check_choice("task", task, TASKS)
    if batch_size is not None:
        _check_count("batch_size", batch_size)
    if max_rows_per_chunk is not None:
        _check_count("max_rows_per_chunk", max_rows_per_chunk)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"Argument seed must be an integer >= 0 or None. Received: seed={seed!r}")
    types = stochastic_types(include_gaussian_noise)
    layers = find_stochastic_layers(model, types)
    if not layers:
        raise ValueError(_no_noise_error(model, types, include_gaussian_noise))
    sampler = get_sampler(model, layers)
    inputs = _as_inputs(sampler, x)
    count = len(inputs[0])
    max_rows = max_rows_per_chunk or sampler.default_rows
    block = batch_size or DEFAULT_BATCH_SIZE
    per_chunk = max(1, min(block, max_rows // samples))
    per_pass = min(samples, max(1, max_rows // per_chunk))
    base = int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])
    chosen = None if task == "auto" else task
    parts = []
    chunk = 0
    for start in range(0, count, block):
        rows = [array[start : start + block] for array in inputs]
        frontier = sampler.frontier(rows)
        for first in range(0, len(rows[0]), per_chunk):
            chunk_rows = [array[first : first + per_chunk] for array in rows]
            chunk_frontier = [tensor[first : first + per_chunk] for tensor in frontier]
            pieces = []
            for done in range(0, samples, per_pass):
                repeats = min(per_pass, samples - done)
                pieces.append(sampler.sample(chunk_frontier, repeats, (base, chunk), chunk_rows))
                chunk += 1
            stack = np.moveaxis(np.concatenate(pieces, axis=1), 1, 0)
            if chosen is None:
                chosen = "classification" if looks_like_probabilities(stack) else "regression"
            parts.append(MCPrediction.from_samples(stack, chosen, keep_samples=return_samples))
    return MCPrediction.concatenate(parts)
