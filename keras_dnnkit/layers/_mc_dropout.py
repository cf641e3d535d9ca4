"""Always-on dropout: ``MCDropout`` and ``MCAlphaDropout`` keep sampling at inference."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="mc_dropout")
class MCDropout(keras.layers.Dropout):
    """``Dropout`` that stays active at inference, for Monte-Carlo dropout baked into a model.

    Every call drops units, whatever ``training`` says, so ``model.predict`` returns one
    Monte-Carlo sample. Only this layer is stochastic: batch normalization and the other
    layers still run in inference mode. To sample an ordinary trained model without
    rebuilding it, use :func:`keras_dnnkit.mc_predict` instead.

    Args:
        rate: fraction of the inputs to drop, in ``[0, 1)``.
        noise_shape: shape of the binary mask, as for ``keras.layers.Dropout``.
        seed: seed of the layer's random generator.

    Example:
        >>> import numpy as np
        >>> layer = MCDropout(0.5, seed=1)
        >>> out = layer(np.ones((1, 1000)), training=False)
        >>> sorted(set(np.round(out.numpy().ravel(), 3).tolist()))
        [0.0, 2.0]
    """

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Drop units whatever ``training`` says."""
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="mc_alpha_dropout")
class MCAlphaDropout(keras.layers.AlphaDropout):
    """``AlphaDropout`` (for SELU networks) that stays active at inference.

    Args:
        rate: fraction of the inputs to drop, in ``[0, 1)``.
        noise_shape: shape of the mask, as for ``keras.layers.AlphaDropout``.
        seed: seed of the layer's random generator.

    Example:
        >>> import numpy as np
        >>> out = MCAlphaDropout(0.5, seed=1)(np.zeros((1, 1000)), training=False)
        >>> len(set(np.round(out.numpy().ravel(), 3)))
        2
    """

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Apply alpha dropout whatever ``training`` says."""
        return super().call(inputs, training=True)
