"""Uncertainty from Monte-Carlo dropout: sampling, summary statistics, calibration.

Example:
    >>> from keras_dnnkit import uncertainty
    >>> "mc_predict" in uncertainty.__all__
    True
"""

from keras_dnnkit.uncertainty._mc_predict import mc_predict
from keras_dnnkit.uncertainty._result import MCPrediction

__all__ = ["MCPrediction", "mc_predict"]
