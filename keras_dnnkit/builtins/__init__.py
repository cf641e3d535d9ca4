"""keras-dnnkit's own components, registered as plugins through the public hooks.

Each module here is one plugin, loaded by every :class:`~keras_dnnkit.Registry` before
third-party plugins; they use nothing a third-party plugin could not use.
"""

BUILTIN_PLUGINS = {
    "keras_dnnkit.initializers": "keras_dnnkit.builtins.initializers",
    "keras_dnnkit.activations": "keras_dnnkit.builtins.activations",
    "keras_dnnkit.constraints": "keras_dnnkit.builtins.constraints",
    "keras_dnnkit.optimizers": "keras_dnnkit.builtins.optimizers",
    "keras_dnnkit.schedules": "keras_dnnkit.builtins.schedules",
    "keras_dnnkit.layers": "keras_dnnkit.builtins.layers",
    "keras_dnnkit.callbacks": "keras_dnnkit.builtins.callbacks",
}
"""Plugin name -> module, in loading order."""
