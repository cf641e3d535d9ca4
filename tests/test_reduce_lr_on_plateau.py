"""ReduceLROnPlateau: Keras' numbers with a float rate, a scaled schedule otherwise."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.callbacks import ReduceLROnPlateau
from keras_dnnkit.schedules import OneCycle, ScaledSchedule


def _model(learning_rate: float | keras.optimizers.schedules.LearningRateSchedule) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    return model


def _rates(callback: keras.callbacks.Callback, values: list[float], monitor: str) -> list[float]:
    model = _model(0.1)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        rates.append(float(model.optimizer.learning_rate.numpy()))
    return rates


def _sequence(seed: int, length: int = 150) -> list[float]:
    rng = np.random.default_rng(seed)
    steps = rng.choice([-0.05, -1e-5, 0.0, 0.02], size=length, p=[0.2, 0.2, 0.35, 0.25])
    return list(np.round(2.0 + np.cumsum(steps), 6))


@pytest.mark.parametrize(
    "arguments",
    [
        dict(),
        dict(patience=2, factor=0.5),
        dict(patience=1, factor=0.3, cooldown=2),
        dict(patience=3, factor=0.5, min_delta=0.01, min_lr=0.01),
        dict(patience=2, factor=0.2, mode="max", monitor="val_accuracy"),
        dict(patience=1, factor=0.7, min_lr=0.05, cooldown=1),
    ],
    ids=str,
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_rates_as_keras_on_the_same_monitored_sequence(
    arguments: dict[str, object], seed: int
) -> None:
    monitor = str(arguments.get("monitor", "val_loss"))
    values = _sequence(seed)
    ours = _rates(ReduceLROnPlateau(**arguments), values, monitor)  # type: ignore[arg-type]
    theirs = _rates(keras.callbacks.ReduceLROnPlateau(**arguments), values, monitor)  # type: ignore[arg-type]
    assert ours == theirs
    assert len(set(ours)) > 1  # the sequence does trigger reductions


def test_relative_threshold_is_pytorchs() -> None:
    values = [1.0, 0.9995, 0.999, 0.9985, 0.9982]  # each beats 1.0 by > 1e-4 but < 0.2 %
    absolute = _rates(ReduceLROnPlateau(patience=1, factor=0.5, min_delta=1e-4), values, "val_loss")
    relative = _rates(
        ReduceLROnPlateau(patience=1, factor=0.5, min_delta=2e-3, threshold_mode="rel"),
        values,
        "val_loss",
    )
    assert absolute == pytest.approx([0.1] * 5)
    assert relative == pytest.approx([0.1, 0.05, 0.025, 0.0125, 0.00625])


@pytest.mark.slow
def test_same_rates_as_keras_in_a_real_training() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=64)).astype("float32")
    arguments = dict(monitor="loss", factor=0.5, patience=1, min_delta=0.05, cooldown=1)
    histories = []
    for callback in (
        ReduceLROnPlateau(**arguments),
        keras.callbacks.ReduceLROnPlateau(**arguments),
    ):  # type: ignore[arg-type]
        model = _model(0.05)
        history = model.fit(
            x, y, batch_size=16, epochs=12, shuffle=False, verbose=0, callbacks=[callback]
        )
        histories.append(history.history)
    assert histories[0]["learning_rate"] == histories[1]["learning_rate"]
    assert histories[0]["loss"] == histories[1]["loss"]
    assert len(set(histories[0]["learning_rate"])) >= 3


class _StepRates(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.steps: list[int] = []

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.steps.append(int(self.model.optimizer.iterations.numpy()))
        self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


@pytest.mark.slow
def test_scales_a_schedule_by_factor_to_the_k_instead_of_raising() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=32).astype("float32")
    schedule = OneCycle(0.05, total_steps=32)
    model = _model(schedule)
    with pytest.raises(TypeError):  # what Keras' own callback does with a schedule
        keras_callback = keras.callbacks.ReduceLROnPlateau("loss", patience=1, min_delta=1e9)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[keras_callback])
    model = _model(schedule)
    # min_delta so large that only the first epoch "improves": reductions after epochs 3, 5, 7.
    callback = ReduceLROnPlateau("loss", factor=0.5, patience=2, min_delta=1e9, min_lr=1e-4)
    recorder = _StepRates()
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0, callbacks=[callback, recorder])
    scaled = model.optimizer._learning_rate
    assert isinstance(scaled, ScaledSchedule) and scaled.schedule is schedule
    assert scaled.multiplier == 0.5**3
    multipliers = np.repeat([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125], 4)
    raw = np.array([float(schedule(step)) for step in recorder.steps])
    expected = np.maximum(raw * multipliers, np.minimum(raw, 1e-4))
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-6)
    assert expected[-1] == pytest.approx(raw[-1]) and raw[-1] < 1e-4  # its own end: kept
    assert np.any(expected == 1e-4)  # reductions floored at min_lr
    assert scaled.state == {
        "monitor": "loss",
        "best": history.history["loss"][0],
        "wait": 1,
        "cooldown_counter": 0,
    }
    # A fresh callback on the same optimizer picks the state up from the schedule.
    fresh = ReduceLROnPlateau("loss", factor=0.5, patience=2, min_delta=1e9, min_lr=1e-4)
    fresh.set_model(model)
    fresh.on_train_begin()
    assert fresh.best == history.history["loss"][0] and fresh._scaled is scaled


def test_registered_under_both_names() -> None:
    assert keras_dnnkit.get("callback", "reduce_lr_on_plateau").__class__ is ReduceLROnPlateau
    assert isinstance(
        keras_dnnkit.get("callback", "performance_scheduling", patience=2), ReduceLROnPlateau
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(factor=1.0), r"factor must be in the open interval \(0, 1\). Received: factor=1.0"),
        (dict(factor=1.5), "Received: factor=1.5"),
        (dict(factor=0.0), "Received: factor=0.0"),
        (dict(threshold_mode="relative"), "threshold_mode must be one of 'abs', 'rel'"),
        (dict(mode="maximum"), "mode must be one of 'auto', 'min', 'max'"),
        (dict(patience=-1), "patience must be >= 0"),
    ],
)
def test_bad_arguments(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReduceLROnPlateau(**arguments)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_reused_callback_carries_on_across_fits_where_keras_resets() -> None:
    def rates(callback: keras.callbacks.Callback) -> list[float]:
        model = _model(0.1)
        x = np.ones((4, 4), "float32")
        found = []
        for _ in range(2):
            history = model.fit(x, np.ones((4, 1)), epochs=3, verbose=0, callbacks=[callback])
            found += [round(float(r), 8) for r in history.history["learning_rate"]]
        return found

    arguments = dict(monitor="loss", factor=0.1, patience=1, min_delta=1e9)
    ours = rates(ReduceLROnPlateau(**arguments))  # type: ignore[arg-type]
    theirs = rates(keras.callbacks.ReduceLROnPlateau(**arguments))  # type: ignore[arg-type]
    # logs["learning_rate"] is the rate the epoch ran with
    assert ours == [0.1, 0.1, 0.01, 0.001, 0.0001, 1e-05]  # as one run of 6 epochs
    assert theirs[:4] == ours[:4]
    assert theirs[4] == theirs[3]  # Keras starts counting patience again
