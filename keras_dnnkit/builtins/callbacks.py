"""Built-in plugin: training callbacks."""

from __future__ import annotations

import keras

from keras_dnnkit._types import Register
from keras_dnnkit.callbacks import (
    ActivationDiagnostics,
    GradientDiagnostics,
    LearningRateLogger,
    MomentumScheduler,
    ReduceLROnPlateau,
)
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_callbacks(register: Register) -> None:
    """Register Keras' callbacks that chapter 11's recipes use, and ours."""
    for name, cls in {
        "early_stopping": keras.callbacks.EarlyStopping,
        "model_checkpoint": keras.callbacks.ModelCheckpoint,
        "backup_and_restore": keras.callbacks.BackupAndRestore,
        "terminate_on_nan": keras.callbacks.TerminateOnNaN,
        "tensorboard": keras.callbacks.TensorBoard,
        "csv_logger": keras.callbacks.CSVLogger,
    }.items():
        register(cls, name=name)
    register(ActivationDiagnostics)
    register(GradientDiagnostics)
    register(ReduceLROnPlateau, name="reduce_lr_on_plateau")
    register(ReduceLROnPlateau, name="performance_scheduling")
    register(MomentumScheduler, name="momentum_scheduler")
    register(LearningRateLogger, name="learning_rate_logger")
