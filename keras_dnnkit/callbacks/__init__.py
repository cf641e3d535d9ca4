"""Training callbacks: diagnostics and scheduling (see the submodules)."""

from keras_dnnkit.callbacks._activation_diagnostics import ActivationDiagnostics
from keras_dnnkit.callbacks._gradient_diagnostics import DiagnosticsWarning, GradientDiagnostics

__all__: list[str] = ["ActivationDiagnostics", "DiagnosticsWarning", "GradientDiagnostics"]
