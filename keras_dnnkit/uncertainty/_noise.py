"""Which layers Monte-Carlo dropout samples, and their noise drawn from an explicit seed.

``mc_predict`` never calls a dropout layer in training mode: it swaps the layer's ``call`` for
one of the functions below for the duration of a forward pass. They reproduce the Keras layer's
training-time arithmetic with TensorFlow's stateless random ops, so the noise depends only on
the seed ``mc_predict`` passes in, and the layer's own seed generator is never advanced.
Recurrent layers with ``dropout``/``recurrent_dropout`` are sampled as Keras trains them (see
``_recurrent.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import keras
import tensorflow as tf

from keras_dnnkit import _compat
from keras_dnnkit.uncertainty._recurrent import dropout_cells, recurrent_sampling, scaled_keep_mask

#: Dropout-family layers sampled by default (subclasses included, e.g. ``SpatialDropout2D``).
DROPOUT_LAYERS: tuple[type[Any], ...] = (
    keras.layers.Dropout,
    keras.layers.AlphaDropout,
    keras.layers.GaussianDropout,
)
#: Additive-noise layers, sampled only with ``include_gaussian_noise=True``.
NOISE_LAYERS: tuple[type[Any], ...] = (keras.layers.GaussianNoise,)

# SELU constants, as in keras.layers.AlphaDropout.
_ALPHA = 1.6732632423543772848170429916717
_SCALE = 1.0507009873554804934193349852946


def stochastic_types(include_gaussian_noise: bool) -> tuple[type[Any], ...]:
    """Return the layer classes that become stochastic.

    Example:
        >>> [t.__name__ for t in stochastic_types(True)]
        ['Dropout', 'AlphaDropout', 'GaussianDropout', 'GaussianNoise']
    """
    return DROPOUT_LAYERS + (NOISE_LAYERS if include_gaussian_noise else ())


def find_stochastic_layers(layer: Any, types: tuple[type[Any], ...]) -> list[Any]:
    """Return the layers of ``layer`` (itself and nested ones) that draw noise.

    These are the instances of ``types`` and the recurrent layers with ``dropout`` or
    ``recurrent_dropout`` > 0.

    Example:
        >>> model = keras.Sequential([keras.Input((2, 3)), keras.layers.Dropout(0.5),
        ...     keras.layers.LSTM(4, dropout=0.1), keras.layers.Dense(1)])
        >>> [type(x).__name__ for x in find_stochastic_layers(model, DROPOUT_LAYERS)]
        ['Dropout', 'LSTM']
    """
    found = []
    for sub in _compat.flatten_layers(layer):
        if isinstance(sub, types) or dropout_cells(sub):
            found.append(sub)
    return found


class SeedStream:
    """Hands each stochastic layer call its own stateless seed derived from one base seed.

    ``base`` is set before each forward pass (a tensor, possibly symbolic inside a traced
    function); each call folds a running counter into it, so the noise of every layer in a
    pass is independent and the whole pass is reproducible.
    """

    def __init__(self) -> None:
        self.base: Any = None
        self.counter = 0

    def reset(self, base: Any) -> None:
        """Start a new forward pass from the seed ``base`` (shape ``(2,)``, int32/int64)."""
        self.base = base
        self.counter = 0

    def next(self) -> Any:
        """Return the seed for the next stochastic layer call."""
        self.counter += 1
        return tf.random.experimental.stateless_fold_in(self.base, self.counter)


def _concrete_noise_shape(inputs: Any, noise_shape: Sequence[int | None] | None) -> Any:
    shape = tf.shape(inputs)
    if noise_shape is None:
        return shape
    return tf.stack([shape[i] if d is None else d for i, d in enumerate(noise_shape)])


def _keep_mask(noise_shape: Any, rate: float, seed: Any) -> tuple[Any, float]:
    """Return a boolean keep-mask and the keep probability it was drawn with.

    Each mask entry uses 16 random bits (two entries per 32-bit draw, half the random-number
    cost of ``tf.nn.experimental.stateless_dropout``), so the rate is resolved to 1/65536; the
    returned keep probability is the exact one, and scaling by its inverse keeps the layer
    unbiased.
    """
    threshold = min(65535, max(1, round(rate * 65536)))
    size = tf.reduce_prod(noise_shape)
    bits = tf.random.stateless_uniform(
        tf.reshape((size + 1) // 2, [1]), seed=seed, minval=None, maxval=None, dtype=tf.uint32
    )
    halves = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
    keep = tf.reshape(halves >= tf.constant(threshold, tf.uint16), noise_shape)
    return keep, 1.0 - threshold / 65536


def _dropout(layer: Any, inputs: Any, seed: Any) -> Any:
    rate = float(layer.rate)
    if rate == 0.0:
        return inputs
    if rate >= 1.0:
        return tf.zeros_like(inputs)
    if (spatial := _compat.spatial_noise_shape(layer, inputs)) is not None:  # SpatialDropout
        noise_shape = tf.stack([tf.cast(d, tf.int32) for d in spatial])
    else:
        noise_shape = _concrete_noise_shape(inputs, layer.noise_shape)
    keep, keep_probability = _keep_mask(noise_shape, rate, seed)
    scaled = inputs * tf.cast(1.0 / keep_probability, inputs.dtype)
    return tf.where(keep, scaled, tf.zeros_like(inputs))


def _alpha_dropout(layer: Any, inputs: Any, seed: Any) -> Any:
    rate = float(layer.rate)
    if rate == 0.0:
        return inputs
    noise_shape = _concrete_noise_shape(inputs, layer.noise_shape)
    alpha_p = -_ALPHA * _SCALE
    uniform = tf.random.stateless_uniform(noise_shape, seed=seed, dtype=inputs.dtype)
    kept = tf.cast(uniform >= rate, inputs.dtype)
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    return a * (inputs * kept + alpha_p * (1 - kept)) + b


def _gaussian_dropout(layer: Any, inputs: Any, seed: Any) -> Any:
    rate = float(layer.rate)
    if rate == 0.0:
        return inputs
    stddev = math.sqrt(rate / (1.0 - rate))
    noise = tf.random.stateless_normal(
        tf.shape(inputs), seed=seed, mean=1.0, stddev=stddev, dtype=inputs.dtype
    )
    return inputs * noise


def _gaussian_noise(layer: Any, inputs: Any, seed: Any) -> Any:
    stddev = float(layer.stddev)
    if stddev == 0.0:
        return inputs
    noise = tf.random.stateless_normal(
        tf.shape(inputs), seed=seed, stddev=stddev, dtype=inputs.dtype
    )
    return inputs + noise


def noise_function(layer: Any) -> Callable[[Any, Any, Any], Any]:
    """Return the function ``(layer, inputs, seed) -> noisy outputs`` for a stochastic layer.

    Example:
        >>> noise_function(keras.layers.SpatialDropout1D(0.1)).__name__
        '_dropout'
    """
    if isinstance(layer, keras.layers.AlphaDropout):
        return _alpha_dropout
    if isinstance(layer, keras.layers.GaussianDropout):
        return _gaussian_dropout
    if isinstance(layer, keras.layers.GaussianNoise):
        return _gaussian_noise
    return _dropout


@contextmanager
def sampling(layers: Sequence[Any], seeds: SeedStream) -> Iterator[None]:
    """Within the block, ``layers`` draw noise from ``seeds`` whatever ``training`` says.

    Only instance attributes are swapped (and removed again on exit): ``call`` of each
    layer, and ``_create_dropout_mask`` of recurrent layers' cells; the layers' variables,
    seed generators and configuration are not touched.
    """

    def new_mask(step_input: Any, rate: float) -> Any:
        keep, keep_probability = _keep_mask(tf.shape(step_input), rate, seeds.next())
        return scaled_keep_mask(keep, keep_probability, step_input)

    with ExitStack() as recurrent:
        for layer in layers:
            if dropout_cells(layer):
                recurrent.enter_context(recurrent_sampling(layer, new_mask))
        with _swapped_calls([layer for layer in layers if not dropout_cells(layer)], seeds):
            yield


@contextmanager
def _swapped_calls(layers: Sequence[Any], seeds: SeedStream) -> Iterator[None]:
    patched = []
    try:
        for layer in layers:
            function = noise_function(layer)

            def call(
                inputs: Any, *args: Any, _layer: Any = layer, _f: Any = function, **kw: Any
            ) -> Any:
                return _f(_layer, tf.convert_to_tensor(inputs), seeds.next())

            object.__setattr__(layer, "call", call)
            patched.append(layer)
        yield
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")
