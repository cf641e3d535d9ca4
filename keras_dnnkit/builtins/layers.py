"""Built-in plugin: layers (ours and the Keras layers the seeds' recipes use)."""

from __future__ import annotations

import keras

from keras_dnnkit import layers
from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_layers(register: Register) -> None:
    """Register maxout, RReLU, PReLU and the normalization/dropout layers of chapter 11."""
    register(layers.Maxout)
    register(layers.RandomizedLeakyReLU)
    register(layers.MCDropout)
    register(layers.MCAlphaDropout)
    for name, cls in {
        "dense": keras.layers.Dense,
        "prelu": keras.layers.PReLU,
        "leaky_relu": keras.layers.LeakyReLU,
        "elu": keras.layers.ELU,
        "batch_normalization": keras.layers.BatchNormalization,
        "dropout": keras.layers.Dropout,
        "alpha_dropout": keras.layers.AlphaDropout,
    }.items():
        register(cls, name=name)
