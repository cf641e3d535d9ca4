"""keras-dnnkit: train deep networks right with Keras 3, and see why they train badly.

Example:
    >>> import keras_dnnkit
    >>> keras_dnnkit.get("activation", "elu").__name__
    'elu'
"""

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

__version__ = "0.1.0"

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
