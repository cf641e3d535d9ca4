"""keras-dnnkit: train deep networks right with Keras 3, and see why they train badly.

Example:
    >>> import keras_dnnkit
    >>> keras_dnnkit.get("activation", "elu").__name__
    'elu'
"""

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keras_dnnkit import (
        activations,
        callbacks,
        constraints,
        initializers,
        layers,
        optimizers,
        schedules,
        uncertainty,
    )
    from keras_dnnkit._types import KINDS, Kind, Register, Schedule
    from keras_dnnkit.errors import (
        DnnkitError,
        DuplicateComponentError,
        NonfiniteGradientsError,
        PluginError,
        UnknownComponentError,
    )
    from keras_dnnkit.hookspecs import hookimpl
    from keras_dnnkit.lr_finder import LRFinderResult, find_learning_rate
    from keras_dnnkit.registry import (
        Component,
        PluginInfo,
        Registry,
        default_registry,
        get,
        list_plugins,
        load_model,
        names,
    )
    from keras_dnnkit.uncertainty import MCPrediction, mc_predict

_SUBMODULES = (
    "activations",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "optimizers",
    "schedules",
    "uncertainty",
)
_EXPORTS: dict[str, str] = {
    "KINDS": "keras_dnnkit._types",
    "Kind": "keras_dnnkit._types",
    "Register": "keras_dnnkit._types",
    "Schedule": "keras_dnnkit._types",
    "DnnkitError": "keras_dnnkit.errors",
    "DuplicateComponentError": "keras_dnnkit.errors",
    "NonfiniteGradientsError": "keras_dnnkit.errors",
    "PluginError": "keras_dnnkit.errors",
    "UnknownComponentError": "keras_dnnkit.errors",
    "hookimpl": "keras_dnnkit.hookspecs",
    "LRFinderResult": "keras_dnnkit.lr_finder",
    "find_learning_rate": "keras_dnnkit.lr_finder",
    "Component": "keras_dnnkit.registry",
    "PluginInfo": "keras_dnnkit.registry",
    "Registry": "keras_dnnkit.registry",
    "default_registry": "keras_dnnkit.registry",
    "get": "keras_dnnkit.registry",
    "list_plugins": "keras_dnnkit.registry",
    "load_model": "keras_dnnkit.registry",
    "names": "keras_dnnkit.registry",
    "MCPrediction": "keras_dnnkit.uncertainty",
    "mc_predict": "keras_dnnkit.uncertainty",
}
"""Public name -> the module that defines it (imported on first use)."""


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import keras_dnnkit.cli` (and `dnnkit --help`) does
    # not import Keras and TensorFlow, which takes seconds.
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_dnnkit.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_dnnkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"

if "keras" in sys.modules:
    # Keras is loaded already (the usual `import keras` first): import our modules now, so
    # that the classes they register load from `.keras` files with plain Keras. Without
    # Keras loaded (the `dnnkit` CLI) they are imported on first use.
    importlib.import_module("keras_dnnkit.registry").register_saved_classes()

__all__ = [
    "KINDS",
    "Component",
    "DnnkitError",
    "DuplicateComponentError",
    "Kind",
    "NonfiniteGradientsError",
    "LRFinderResult",
    "MCPrediction",
    "PluginError",
    "PluginInfo",
    "Register",
    "Registry",
    "Schedule",
    "UnknownComponentError",
    "__version__",
    "activations",
    "callbacks",
    "constraints",
    "default_registry",
    "find_learning_rate",
    "get",
    "hookimpl",
    "initializers",
    "layers",
    "list_plugins",
    "load_model",
    "mc_predict",
    "names",
    "optimizers",
    "schedules",
    "uncertainty",
]
