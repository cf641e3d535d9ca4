"""Built-in plugin: activation functions (Keras' own) and randomized leaky ReLU."""

from __future__ import annotations

import keras

from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl
from keras_dnnkit.layers import RandomizedLeakyReLU


@hookimpl
def dnnkit_register_activations(register: Register) -> None:
    """Register Keras' activation functions and :class:`RandomizedLeakyReLU`."""
    act = keras.activations
    for function in (
        act.sigmoid,
        act.tanh,
        act.relu,
        act.leaky_relu,
        act.elu,
        act.selu,
        act.gelu,
        act.silu,
        act.mish,
        act.softplus,
        act.softsign,
        act.softmax,
        act.hard_sigmoid,
        act.linear,
        act.exponential,
    ):
        register(function)
    register(act.swish, name="swish")  # Keras' swish is silu under another name
    register(RandomizedLeakyReLU)
