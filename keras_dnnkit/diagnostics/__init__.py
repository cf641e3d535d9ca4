"""Diagnostics: capture gradients and activations, reduce them to statistics, write them to
TensorBoard, and turn them into findings in plain words."""

from keras_dnnkit.diagnostics.findings import PROBLEMS, Finding, Problem

__all__ = ["PROBLEMS", "Finding", "Problem"]
