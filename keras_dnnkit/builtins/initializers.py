"""Built-in plugin: weight initializers (Glorot/Xavier, He, LeCun, He-avg, N(0, 1))."""

from __future__ import annotations

import keras

from keras_dnnkit import initializers
from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_initializers(register: Register) -> None:
    """Register Keras' initializers under their Keras names, plus Xavier aliases and ours."""
    init = keras.initializers
    for name, cls in {
        "glorot_normal": init.GlorotNormal,
        "glorot_uniform": init.GlorotUniform,
        "xavier_normal": init.GlorotNormal,
        "xavier_uniform": init.GlorotUniform,
        "he_normal": init.HeNormal,
        "he_uniform": init.HeUniform,
        "lecun_normal": init.LecunNormal,
        "lecun_uniform": init.LecunUniform,
        "variance_scaling": init.VarianceScaling,
        "random_normal": init.RandomNormal,
        "random_uniform": init.RandomUniform,
        "truncated_normal": init.TruncatedNormal,
        "orthogonal": init.Orthogonal,
        "zeros": init.Zeros,
        "ones": init.Ones,
    }.items():
        register(cls, name=name)
    register(initializers.HeAvgNormal)
    register(initializers.HeAvgUniform)
    register(initializers.StandardNormal)
