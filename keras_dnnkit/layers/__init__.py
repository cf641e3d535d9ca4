"""Layers Keras lacks: maxout, randomized leaky ReLU and always-on (Monte-Carlo) dropout."""

from keras_dnnkit.layers._maxout import Maxout
from keras_dnnkit.layers._mc_dropout import MCAlphaDropout, MCDropout
from keras_dnnkit.layers._randomized_leaky_relu import RandomizedLeakyReLU

__all__ = ["MCAlphaDropout", "MCDropout", "Maxout", "RandomizedLeakyReLU"]
