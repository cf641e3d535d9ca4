"""keras-dnnkit's TensorBoard dashboard: the ``dnnkit`` plugin.

Installed with the package and found by TensorBoard through the ``tensorboard_plugins``
entry point: ``tensorboard --logdir runs`` shows a "keras-dnnkit" tab. Its frontend is
plain JavaScript and SVG shipped in ``static/``; nothing is fetched from the network.
"""

from keras_dnnkit.tensorboard_plugin._plugin import PLUGIN_NAME, DnnkitPlugin

__all__ = ["PLUGIN_NAME", "DnnkitPlugin"]
