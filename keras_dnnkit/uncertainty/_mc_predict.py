"""``mc_predict``: Monte-Carlo dropout on a trained model, batch norm left in inference mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from keras_dnnkit import _compat
from keras_dnnkit._arrays import is_dataset, row_count, unpack_batch
from keras_dnnkit._validation import check_choice
from keras_dnnkit.uncertainty._graph import input_names
from keras_dnnkit.uncertainty._noise import find_stochastic_layers, stochastic_types
from keras_dnnkit.uncertainty._result import TASKS, MCPrediction, looks_like_probabilities
from keras_dnnkit.uncertainty._sampler import Sampler, get_sampler

#: Inputs per pass through the deterministic part, unless ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 1024


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument {name} must be an integer >= 1. Received: {name}={value!r}")


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument model must be a keras.Model (functional, Sequential or subclassed) "
            f"with dropout layers. Received: model={model!r} (type {type(model).__name__})"
        )


def _read_dataset(dataset: Any) -> Any:
    """The inputs of every batch of ``dataset`` (elements ``x`` or ``(x, y[, w])``), joined."""
    batches = [unpack_batch(element)[0] for element in dataset]
    if not batches:
        raise ValueError("x must hold at least one input. Received: an empty tf.data.Dataset")
    flat = [[np.asarray(leaf) for leaf in keras.tree.flatten(batch)] for batch in batches]
    joined = [np.concatenate(arrays) for arrays in zip(*flat, strict=True)]
    return keras.tree.pack_sequence_as(batches[0], joined)


def _by_name(graph: Any, x: dict[str, Any]) -> list[Any]:
    names = input_names(graph)
    arrays = []
    for name, tensor in zip(names, graph.inputs, strict=True):
        aliases = (name, tensor.name, _compat.tensor_layer(tensor).name)
        key = next((alias for alias in aliases if alias in x), None)
        if key is None:
            raise ValueError(
                f"x is a dict without the model's input '{name}'. Expected the keys {names}. "
                f"Received: keys {sorted(x)}"
            )
        arrays.append(x[key])
    return arrays


def _as_inputs(sampler: Sampler, x: Any) -> tuple[list[np.ndarray], Any]:
    """Return the input arrays in the model's input order, and the structure ``x`` had."""
    if x is None:
        raise ValueError(
            "Argument x must be an array, a list or dict of arrays, or a tf.data.Dataset. "
            "Received: x=None"
        )
    hint = ""
    if is_dataset(x):
        x = _read_dataset(x)
        hint = " (a tf.data.Dataset must yield batches: call dataset.batch(n) first)"
    graph = sampler.plan.graph
    if graph is None:
        arrays = [np.asarray(a) for a in keras.tree.flatten(x)]
        row_count(("x", arrays if len(arrays) > 1 else arrays[0]))
        arrays = [a.astype("float32") if a.dtype == np.float64 else a for a in arrays]
        return arrays, x
    names = input_names(graph)
    if isinstance(x, dict):
        given = _by_name(graph, x)
    elif isinstance(x, (list, tuple)):
        given = keras.tree.flatten(x)
    else:
        given = [x]
    if len(given) != len(graph.inputs):
        raise ValueError(
            f"The model takes {len(graph.inputs)} input(s) ({', '.join(names)}). "
            f"Received: {len(given)} array(s)"
        )
    arrays = []
    for name, array, tensor in zip(names, map(np.asarray, given), graph.inputs, strict=True):
        want = tuple(tensor.shape[1:])
        if array.ndim != len(tensor.shape) or any(
            w is not None and w != g for w, g in zip(want, array.shape[1:], strict=True)
        ):
            raise ValueError(
                f"x must be shaped (inputs, {', '.join(str(w) for w in want)}) for input "
                f"'{name}'. Received: x.shape={array.shape}{hint}"
            )
        arrays.append(array.astype(tensor.dtype, copy=False))
    labelled = dict(zip(names, arrays, strict=True))
    row_count(("x", labelled if len(arrays) > 1 else arrays[0]))
    return arrays, x


def _tasks(task: str | Mapping[str, str], names: list[str] | None) -> list[str | None]:
    """The task of each output (``None``: decided from the first samples)."""
    if isinstance(task, Mapping):
        known = names or []
        unknown = sorted(set(task) - set(known))
        if unknown:
            raise ValueError(
                f"Argument task names outputs the model does not have: {unknown}. "
                f"The outputs are {known}. Received: task={dict(task)!r}"
            )
        chosen = [task.get(name, "auto") for name in known]
    else:
        chosen = [task] * (len(names) if names else 1)
    for value in chosen:
        check_choice("task", value, TASKS)
    return [None if value == "auto" else value for value in chosen]


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
        f"{searched}, and recurrent layers (LSTM, GRU, SimpleRNN, ConvLSTM, also inside "
        f"Bidirectional) with dropout or recurrent_dropout > 0.{hint} Add a Dropout layer "
        "before the output and retrain, or use keras_dnnkit.layers.MCDropout."
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
    task: str | Mapping[str, str] = "auto",
    include_gaussian_noise: bool = False,
) -> MCPrediction | dict[str, MCPrediction]:
    """Monte-Carlo dropout predictions of a trained Keras model, without rebuilding it.

    Only the dropout-family layers (``Dropout``, ``SpatialDropout1D/2D/3D``, ``AlphaDropout``,
    ``GaussianDropout``, subclasses such as :class:`~keras_dnnkit.layers.MCDropout`, and with
    ``include_gaussian_noise=True`` also ``GaussianNoise``) and the ``dropout`` and
    ``recurrent_dropout`` of recurrent layers (``LSTM``, ``GRU``, ``SimpleRNN``, ``ConvLSTM*``,
    also inside ``Bidirectional``) draw noise; every other layer runs in inference mode.
    Recurrent layers draw one mask per sequence, held across the time steps, as Keras trains
    them (Gal & Ghahramani's variational RNN dropout). Unlike ``model(x, training=True)``,
    batch normalization keeps its moving statistics, so a prediction does not depend on the
    rest of the batch, and no variable of the model (weights, moving statistics, the layers'
    seed generators) changes. With every rate at 0 the mean equals ``model.predict``.

    How it runs: for functional and ``Sequential`` models, layers that no dropout layer feeds
    (e.g. a convolutional trunk below a dropout head) run **once per input**; their outputs,
    with the Keras masks they carry (``Embedding(mask_zero=True)``, ``Masking``), are tiled
    ``samples`` times and only the rest of the network runs on the tiled rows, in large
    compiled (``tf.function``) passes of at most ``max_rows_per_chunk`` rows. Subclassed models
    have no graph to split: the whole model runs on the tiled rows (full tiling, still
    vectorized and compiled). Needs the TensorFlow backend.

    Args:
        model: a trained ``keras.Model`` containing dropout-family layers.
        x: inputs with the examples on axis 0: an array, a list or dict of arrays (dict keys
            are the model's input names), or a ``tf.data.Dataset`` of batches of ``x`` or
            ``(x, y)`` (``y`` is ignored; the dataset is read once, whole).
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
            output row is a probability vector), for every output; or a dict from output name
            to task (outputs not named there are ``"auto"``).
        include_gaussian_noise: also sample ``GaussianNoise`` layers (input-noise
            regularizers, off by default: they are not part of the MC-dropout posterior).

    Returns:
        An :class:`MCPrediction` with ``mean``, ``std``, ``entropy``, ``expected_entropy``,
        ``mutual_information``, ``variation_ratio``, ``predicted_class`` and ``confidence``.
        A model with several outputs (or a dict of outputs) gives a dict of them, keyed by
        output name (the dict key, else the output layer's name), each of its own task.

    Raises:
        TypeError: ``model`` is not a ``keras.Model``.
        ValueError: no dropout layer in the model, ``samples < 1``, a badly shaped or empty
            ``x``, or an invalid option.

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
    _check_model(model)
    _check_count("samples", samples)
    if isinstance(task, str):
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
    inputs, structure = _as_inputs(sampler, x)
    count = len(inputs[0])
    max_rows = max_rows_per_chunk or sampler.default_rows
    block = batch_size or DEFAULT_BATCH_SIZE
    per_chunk = max(1, min(block, max_rows // samples))
    per_pass = min(samples, max(1, max_rows // per_chunk))
    base = int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])
    parts: list[list[MCPrediction]] = []
    chosen: list[str | None] = []
    chunk = 0
    for start in range(0, count, block):
        rows = [array[start : start + block] for array in inputs]
        frontier = sampler.frontier(rows)
        for first in range(0, len(rows[0]), per_chunk):
            chunk_rows = [array[first : first + per_chunk] for array in rows]
            chunk_frontier = frontier.rows(first, first + per_chunk)
            pieces = []
            for done in range(0, samples, per_pass):
                repeats = min(per_pass, samples - done)
                seed_pair = (base, chunk)
                pieces.append(
                    sampler.sample(chunk_frontier, repeats, seed_pair, chunk_rows, structure)
                )
                chunk += 1
            if not parts:  # the outputs (and their names) are known after the first pass
                parts = [[] for _ in pieces[0]]
                chosen = _tasks(task, sampler.output_names())
            for index, output in enumerate(zip(*pieces, strict=True)):
                stack = np.moveaxis(np.concatenate(output, axis=1), 1, 0)
                if chosen[index] is None:
                    probabilities = looks_like_probabilities(stack)
                    chosen[index] = "classification" if probabilities else "regression"
                summary = MCPrediction.from_samples(
                    stack, str(chosen[index]), keep_samples=return_samples
                )
                parts[index].append(summary)
    results = [MCPrediction.concatenate(output) for output in parts]
    names = sampler.output_names()
    if names is None:
        return results[0]
    return dict(zip(names, results, strict=True))
