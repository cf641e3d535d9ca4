"""The exceptions keras-dnnkit raises; each says what happened and how to fix it."""

from __future__ import annotations

__all__ = [
    "DnnkitError",
    "DuplicateComponentError",
    "KerasVersionError",
    "NonfiniteGradientsError",
    "PluginError",
    "UnknownComponentError",
]


class DnnkitError(Exception):
    """Base class of every keras-dnnkit error.

    Example:
        >>> import keras_dnnkit
        >>> try:
        ...     keras_dnnkit.get("layer", "no_such_layer")
        ... except keras_dnnkit.DnnkitError as error:
        ...     print(type(error).__name__)
        UnknownComponentError
    """


class UnknownComponentError(DnnkitError, LookupError):
    """A kind or a name that the registry does not know.

    Example:
        >>> import keras_dnnkit
        >>> keras_dnnkit.get("activation", "reluu")
        Traceback (most recent call last):
        ...
        keras_dnnkit.errors.UnknownComponentError: Unknown activation 'reluu'. Did you mean ...
    """


class DuplicateComponentError(DnnkitError):
    """Two plugins registered the same kind and name.

    Names are stored inside saved models, so keras-dnnkit never overrides or renames one
    silently; disable one of the two plugins instead.

    Example:
        >>> import keras, types, keras_dnnkit
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_activations = keras_dnnkit.hookimpl(
        ...     lambda register: register(keras.activations.relu))
        >>> keras_dnnkit.Registry(plugins={"mine": plugin}, entry_point_group=None).load()
        Traceback (most recent call last):
        ...
        keras_dnnkit.errors.DuplicateComponentError: Two plugins register the activation 'relu': ...
    """


class PluginError(DnnkitError):
    """A plugin failed to import, has a malformed hook, or its hook raised.

    Attributes:
        plugin: the plugin's name (its entry-point name).
        distribution: the distribution that provides it, if known.
        version: that distribution's version, if known.
        hook: the hook being called, if the failure happened in one.

    Example:
        >>> import types, keras_dnnkit
        >>> def broken(register):
        ...     raise RuntimeError("no weights")
        >>> plugin = types.ModuleType("broken")
        >>> plugin.dnnkit_register_layers = keras_dnnkit.hookimpl(broken)
        >>> registry = keras_dnnkit.Registry(plugins={"broken": plugin}, entry_point_group=None)
        >>> try:
        ...     registry.load()
        ... except keras_dnnkit.PluginError as error:
        ...     print(error.plugin, error.hook)
        broken dnnkit_register_layers
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str,
        distribution: str | None = None,
        version: str | None = None,
        hook: str | None = None,
    ) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution
        self.version = version
        self.hook = hook


class NonfiniteGradientsError(DnnkitError, FloatingPointError):
    """Training produced NaN or Inf gradients (``GradientDiagnostics(on_nonfinite="raise")``).

    Attributes:
        layer: the layer closest to the output whose gradients were not finite, if known.
        step: the optimizer step (``optimizer.iterations`` after it) where it happened.

    Example:
        >>> error = NonfiniteGradientsError("NaN in dense_3", layer="dense_3", step=63)
        >>> isinstance(error, FloatingPointError), error.layer, error.step
        (True, 'dense_3', 63)
    """

    def __init__(self, message: str, *, layer: str | None, step: int) -> None:
        super().__init__(message)
        self.layer = layer
        self.step = step


class KerasVersionError(DnnkitError, RuntimeError):
    """The installed Keras or TensorFlow lacks an internal that keras-dnnkit relies on.

    Attributes:
        installed: the installed versions, e.g. ``"Keras 3.4.1, TensorFlow 2.16.1"``.
        required: the versions to upgrade to, e.g. ``"keras>=3.5"``.

    Example:
        >>> error = KerasVersionError("no _var_key", installed="Keras 3.4.1", required="keras>=3.5")
        >>> isinstance(error, RuntimeError), error.required
        (True, 'keras>=3.5')
    """

    def __init__(self, message: str, *, installed: str, required: str) -> None:
        super().__init__(message)
        self.installed = installed
        self.required = required
