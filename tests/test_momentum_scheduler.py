"""MomentumScheduler: the momentum the optimizer actually used, measured from its updates."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from keras_dnnkit.callbacks import LearningRateLogger, MomentumScheduler
from keras_dnnkit.diagnostics._tags import LEARNING_RATE, MOMENTUM
from keras_dnnkit.schedules import OneCycle, preview

STEPS = 20


def _weight_as_loss(y_true: object, y_pred: object) -> object:
    return keras.ops.mean(y_pred)


def _linear_model(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    """Loss = w (one weight, input 1): the gradient is exactly 1 at every step."""
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer, loss=_weight_as_loss)
    return model


class _Trace(keras.callbacks.Callback):
    """After each step: the weight and, for Adam-likes, the first-moment slot."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[float] = [0.0]
        self.first_moments: list[float] = [0.0]

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.weights.append(float(self.model.layers[0].kernel.numpy()[0, 0]))
        momentums = getattr(self.model.optimizer, "_momentums", None)
        if momentums:
            self.first_moments.append(float(momentums[0].numpy()[0, 0]))


def _train(
    optimizer: keras.optimizers.Optimizer, callbacks: list[keras.callbacks.Callback]
) -> _Trace:
    trace = _Trace()
    model = _linear_model(optimizer)
    ones = np.ones((STEPS * 2, 1), "float32")
    model.fit(ones, ones, batch_size=2, epochs=1, verbose=0, callbacks=[*callbacks, trace])
    return trace


def _sgd_momenta(trace: _Trace, learning_rates: np.ndarray) -> np.ndarray:
    # Keras SGD: v_t = mu_t * v_{t-1} - lr_t * g ; w_t = w_{t-1} + v_t ; g = 1.
    velocity = np.diff(trace.weights)
    return (velocity[1:] + learning_rates[1:]) / velocity[:-1]


def _adam_beta_1(trace: _Trace) -> np.ndarray:
    # Adam/Nadam: m_t = b_t * m_{t-1} + (1 - b_t) * g ; g = 1  =>  b_t = (1 - m_t) / (1 - m_{t-1}).
    m = np.array(trace.first_moments)
    return (1 - m[1:]) / (1 - m[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_uses_the_scheduled_momentum_at_every_step(nesterov: bool) -> None:
    schedule = OneCycle(0.5, total_steps=STEPS)
    trace = _train(
        keras.optimizers.SGD(schedule, momentum=0.9, nesterov=nesterov), [MomentumScheduler()]
    )
    expected = preview(schedule.momentum_schedule, STEPS)
    if not nesterov:
        measured = _sgd_momenta(trace, preview(schedule, STEPS))
        np.testing.assert_allclose(measured, expected[1:], atol=1e-4)
    else:  # the nesterov weight step is v_t * mu_t - lr_t: w moves by more than v
        assert not np.allclose(np.diff(trace.weights), 0)
    # Control: without the callback the measurement reads Keras' constant 0.9.
    if not nesterov:
        plain = _train(keras.optimizers.SGD(schedule, momentum=0.9), [])
        np.testing.assert_allclose(_sgd_momenta(plain, preview(schedule, STEPS)), 0.9, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer_class", [keras.optimizers.Adam, keras.optimizers.Nadam])
def test_adam_and_nadam_use_the_scheduled_beta_1_at_every_step(optimizer_class: type) -> None:
    schedule = OneCycle(0.01, total_steps=STEPS, base_momentum=0.8, max_momentum=0.95)
    optimizer = optimizer_class(schedule)
    trace = _train(optimizer, [MomentumScheduler()])
    measured = _adam_beta_1(trace)
    np.testing.assert_allclose(measured, preview(schedule.momentum_schedule, STEPS), atol=1e-5)
    assert optimizer.beta_1 == 0.9 and "apply" not in vars(optimizer)  # undone after fit
    control = _adam_beta_1(_train(optimizer_class(schedule), []))
    np.testing.assert_allclose(control, 0.9, atol=1e-5)


@pytest.mark.slow
def test_an_explicit_schedule_with_a_float_learning_rate() -> None:
    def momentum(step: object) -> object:
        return 0.5 + 0.02 * keras.ops.cast(step, "float32")

    trace = _train(keras.optimizers.Adam(0.01), [MomentumScheduler(momentum)])
    np.testing.assert_allclose(_adam_beta_1(trace), 0.5 + 0.02 * np.arange(STEPS), atol=1e-4)


@pytest.mark.slow
def test_saved_mid_training_loads_with_plain_keras(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "mid.keras")
    schedule = OneCycle(0.01, total_steps=STEPS)

    class SaveAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            if batch == 5:
                self.model.save(path)

    optimizer = keras.optimizers.Nadam(schedule, beta_1=0.9)
    _train(optimizer, [MomentumScheduler(), SaveAt()])
    loaded = keras.saving.load_model(path, custom_objects={"_weight_as_loss": _weight_as_loss})
    assert type(loaded.optimizer) is keras.optimizers.Nadam
    assert loaded.optimizer.beta_1 == 0.9
    assert int(loaded.optimizer.iterations.numpy()) == 6
    assert len(loaded.optimizer.variables) == len(optimizer.variables)


@pytest.mark.slow
def test_bad_setups_say_what_to_do() -> None:
    ones = np.ones((4, 1), "float32")
    cases = [
        (keras.optimizers.SGD(OneCycle(0.1, 10)), "SGD\\(momentum=0.9\\)"),
        (keras.optimizers.Adam(0.01), "needs a momentum schedule"),
        (keras.optimizers.Adagrad(OneCycle(0.1, 10)), "Adagrad has no momentum"),
    ]
    for optimizer, message in cases:
        model = _linear_model(optimizer)
        with pytest.raises(ValueError, match=message):
            model.fit(ones, ones, verbose=0, callbacks=[MomentumScheduler()])


@pytest.mark.slow
def test_learning_rate_logger_writes_the_values_used_per_step(tmp_path: os.PathLike[str]) -> None:
    import tensorflow as tf

    schedule = OneCycle(0.5, total_steps=STEPS)
    logger = LearningRateLogger(tmp_path, every_n_steps=3)
    _train(keras.optimizers.SGD(schedule, momentum=0.9), [MomentumScheduler(), logger])
    events = os.path.join(tmp_path, "train")
    values: dict[str, dict[int, float]] = {LEARNING_RATE: {}, MOMENTUM: {}}
    for name in os.listdir(events):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(events, name)):
            for value in event.summary.value:
                values[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    assert sorted(values[LEARNING_RATE]) == list(range(0, STEPS, 3)) == logger.logged_steps
    lrs, momenta = preview(schedule, STEPS), preview(schedule.momentum_schedule, STEPS)
    for step, value in values[LEARNING_RATE].items():
        assert value == pytest.approx(lrs[step], rel=1e-6)
        assert values[MOMENTUM][step] == pytest.approx(momenta[step], rel=1e-6)
    with pytest.raises(ValueError, match="every_n_steps must be an integer >= 1"):
        LearningRateLogger(tmp_path, every_n_steps=0)
