"""Training callbacks: diagnostics and scheduling (see the submodules)."""

from keras_dnnkit.callbacks._activation_diagnostics import ActivationDiagnostics
from keras_dnnkit.callbacks._gradient_diagnostics import DiagnosticsWarning, GradientDiagnostics
from keras_dnnkit.callbacks._learning_rate_logger import LearningRateLogger
from keras_dnnkit.callbacks._momentum_scheduler import MomentumScheduler
from keras_dnnkit.callbacks._reduce_lr_on_plateau import ReduceLROnPlateau

__all__: list[str] = ["ActivationDiagnostics", "DiagnosticsWarning", "GradientDiagnostics"]
__all__ += ["LearningRateLogger", "MomentumScheduler", "ReduceLROnPlateau"]
