"""Layers Keras lacks: maxout and randomized leaky ReLU (more arrive with MC dropout)."""

from keras_dnnkit.layers._maxout import Maxout
from keras_dnnkit.layers._randomized_leaky_relu import RandomizedLeakyReLU

__all__ = ["Maxout", "RandomizedLeakyReLU"]
