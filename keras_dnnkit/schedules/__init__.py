"""Learning-rate schedules, driven by the optimizer's step so that they resume exactly."""

from keras_dnnkit.schedules._power import Power, exponential

__all__ = ["Power", "exponential"]
