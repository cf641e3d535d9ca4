"""The one owner of Keras' train step (internal).

Every keras-dnnkit callback that changes what happens inside the compiled train step (gradient
statistics, the non-finite skip, scheduled momentum) attaches a :class:`StepHook` to the
model's :class:`StepOwner` instead of patching the step itself. The owner installs one
override per optimizer instance, runs the hooks in a fixed order, traces each variant of the
step once and reuses it in later ``fit`` calls, and gives everything back when training ends.
The backend-specific part lives in ``_tensorflow.py``; a JAX one plugs in beside it.
"""

from keras_dnnkit.training._hooks import Priority, StepContext, StepHook, StepProgram
from keras_dnnkit.training._owner import StepOwner

__all__ = ["Priority", "StepContext", "StepHook", "StepOwner", "StepProgram"]
