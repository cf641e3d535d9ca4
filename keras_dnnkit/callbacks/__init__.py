"""Training callbacks: diagnostics and scheduling (see the submodules)."""

from keras_dnnkit.callbacks._activation_diagnostics import ActivationDiagnostics

__all__: list[str] = ["ActivationDiagnostics"]
