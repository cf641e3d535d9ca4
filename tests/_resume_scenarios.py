"""Training setups for the save / fresh-process resume test (imported by the subprocess too)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_dnnkit.callbacks import MomentumScheduler, ReduceLROnPlateau
from keras_dnnkit.callbacks._momentum_scheduler import current_momentum
from keras_dnnkit.schedules import OneCycle

EPOCHS, STEPS_PER_EPOCH, BATCH = 6, 4, 8


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS_PER_EPOCH * BATCH, 5)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


def build(kind: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, "elu"), keras.layers.Dense(1, "sigmoid")]
    )
    if kind == "one_cycle":
        optimizer = keras.optimizers.Nadam(OneCycle(0.01, total_steps=EPOCHS * STEPS_PER_EPOCH))
    else:
        schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    model.compile(optimizer, "binary_crossentropy")
    return model


class Recorder(keras.callbacks.Callback):
    """The step, learning rate and momentum the optimizer uses at each step."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[float]] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        momentum = current_momentum(optimizer)
        self.rows.append(
            [
                float(optimizer.iterations.numpy()),
                float(optimizer.learning_rate.numpy()),
                -1.0 if momentum is None else momentum,
            ]
        )


def callbacks(kind: str) -> list[keras.callbacks.Callback]:
    if kind == "one_cycle":
        return [MomentumScheduler()]
    # Only the first epoch "improves" (min_delta is huge): with patience 3 the rate is reduced
    # after epoch 4. The run is saved after epoch 2, having waited one epoch: the resumed run
    # reduces at the same step only if it knows that.
    return [ReduceLROnPlateau("loss", factor=0.5, patience=3, min_delta=1e9)]


def fit(model: keras.Model, kind: str, initial_epoch: int, epochs: int) -> list[list[float]]:
    recorder = Recorder()
    x, y = data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks(kind), recorder],
    )
    return recorder.rows
