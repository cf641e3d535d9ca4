"""Diagnostics: measure gradients and activations, log them to TensorBoard, explain them.

The pipeline is capture (inside the train step) -> statistics (reduced on the device) ->
sinks (TensorBoard) -> findings (plain words, what to try).
"""

from keras_dnnkit.diagnostics.findings import PROBLEMS, Finding, Problem

__all__ = ["PROBLEMS", "Finding", "Problem"]
