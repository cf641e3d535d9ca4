"""Learning-rate schedules, driven by the optimizer's step so that they resume exactly.

Example:
    >>> from keras_dnnkit import schedules
    >>> schedules.preview(schedules.Cyclic(0.1, 0.5, step_size_up=2), 3).round(2).tolist()
    [0.1, 0.3, 0.5]
"""

from keras_dnnkit.schedules._cyclic import Cyclic
from keras_dnnkit.schedules._one_cycle import OneCycle
from keras_dnnkit.schedules._power import Power, exponential
from keras_dnnkit.schedules._preview import plot_schedule, preview
from keras_dnnkit.schedules._scaled import ScaledSchedule

__all__ = [
    "Cyclic",
    "OneCycle",
    "Power",
    "ScaledSchedule",
    "exponential",
    "plot_schedule",
    "preview",
]
