"""Built-in plugin: optimizers (Keras' own, plus momentum and Nesterov presets)."""

from __future__ import annotations

import keras

from keras_dnnkit import optimizers
from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_optimizers(register: Register) -> None:
    """Register SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AdaMax, Nadam, AdamW."""
    opt = keras.optimizers
    for name, cls in {
        "sgd": opt.SGD,
        "adagrad": opt.Adagrad,
        "rmsprop": opt.RMSprop,
        "adam": opt.Adam,
        "adamax": opt.Adamax,
        "nadam": opt.Nadam,
        "adamw": opt.AdamW,
    }.items():
        register(cls, name=name)
    register(optimizers.momentum)
    register(optimizers.nesterov)
