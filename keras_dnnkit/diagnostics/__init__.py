"""Diagnostics: measure gradients and activations, log them to TensorBoard, explain them.

The pipeline is capture (inside the train step) -> statistics (reduced on the device) ->
sinks (TensorBoard) -> findings (plain words, what to try).
"""

from typing import TYPE_CHECKING

from keras_dnnkit.diagnostics._findings_file import read_findings
from keras_dnnkit.diagnostics._gradient_rules import gradient_findings, nonfinite_finding
from keras_dnnkit.diagnostics.findings import PROBLEMS, Finding, Problem, Thresholds

if TYPE_CHECKING:
    from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics


def __getattr__(name: str) -> object:
    # The callbacks import this package, so re-exporting them eagerly would be circular.
    if name == "ActivationDiagnostics":
        from keras_dnnkit.callbacks import ActivationDiagnostics

        return ActivationDiagnostics
    if name == "GradientDiagnostics":
        from keras_dnnkit.callbacks import GradientDiagnostics

        return GradientDiagnostics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROBLEMS",
    "ActivationDiagnostics",
    "Finding",
    "GradientDiagnostics",
    "Problem",
    "Thresholds",
    "gradient_findings",
    "nonfinite_finding",
    "read_findings",
]
