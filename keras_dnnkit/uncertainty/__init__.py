"""Uncertainty from Monte-Carlo dropout: sampling, summary statistics, calibration.

Example:
    >>> from keras_dnnkit import uncertainty
    >>> "mc_predict" in uncertainty.__all__
    True
"""

from keras_dnnkit.uncertainty._calibration import (
    ReliabilityBins,
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    reliability_diagram,
)
from keras_dnnkit.uncertainty._mc_predict import mc_predict
from keras_dnnkit.uncertainty._result import MCPrediction

__all__ = [
    "MCPrediction",
    "ReliabilityBins",
    "brier_score",
    "expected_calibration_error",
    "mc_predict",
    "negative_log_likelihood",
    "reliability_bins",
    "reliability_diagram",
]
