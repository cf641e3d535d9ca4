"""Cyclic against PyTorch CyclicLR (rate and momentum) and tensorflow-addons' test cases."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.callbacks import MomentumScheduler
from keras_dnnkit.schedules import Cyclic, OneCycle, ScaledSchedule, plot_schedule, preview
from tests._reference_schedules import cyclic as reference
from tests._reference_schedules import cyclic_momentum
from tests.test_momentum_scheduler import STEPS, _adam_beta_1, _sgd_momenta, _train

CASES = [
    dict(base_lr=0.001, max_lr=0.006, step_size_up=20),
    dict(base_lr=0.001, max_lr=0.1, step_size_up=7, step_size_down=13),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=10, mode="triangular2"),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=3, mode="triangular2"),
    dict(base_lr=0.001, max_lr=0.1, step_size_up=10, mode="exp_range", gamma=0.99),
    dict(base_lr=0.1, max_lr=1.0, step_size_up=1, step_size_down=2),
]


@pytest.mark.parametrize("config", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_matches_pytorch_over_several_cycles(config: dict[str, object]) -> None:
    steps = 250
    expected = np.array([reference(step, **config) for step in range(steps)])  # type: ignore[arg-type]
    schedule = Cyclic(**config)  # type: ignore[arg-type]
    np.testing.assert_allclose(preview(schedule, steps), expected, rtol=1e-6, atol=0)
    assert float(schedule(123)) == pytest.approx(expected[123], rel=1e-6)
    shape = {k: v for k, v in config.items() if k not in ("base_lr", "max_lr")}
    momenta = np.array([cyclic_momentum(step, **shape) for step in range(steps)])  # type: ignore[arg-type]
    np.testing.assert_allclose(preview(schedule.momentum_schedule, steps), momenta, rtol=1e-6)


# torch 2.13.0: CyclicLR(torch.optim.SGD(params, lr=0.1, momentum=0.9), **config); the numbers
# are param_groups[0]["lr"] and ["momentum"] after `step` scheduler steps (Adam's betas[0] gave
# the same momenta).
TORCH_CYCLIC_LR = [
    (
        dict(base_lr=0.001, max_lr=0.006, step_size_up=20),
        {0: (0.001, 0.9), 5: (0.00225, 0.875), 13: (0.00425, 0.835), 20: (0.006, 0.8),
         37: (0.00175, 0.885), 59: (0.00575, 0.805)},
    ),
    (
        dict(base_lr=0.001, max_lr=0.1, step_size_up=7, step_size_down=13, mode="triangular2"),
        {5: (0.07171428571428572, 0.8285714285714286), 13: (0.05430769230769232, 0.8461538461538461),
         20: (0.001, 0.9), 37: (0.012423076923076915, 0.8884615384615385),
         59: (0.0029038461538461475, 0.8980769230769231)},
    ),
    (
        dict(base_lr=0.001, max_lr=0.1, step_size_up=10, mode="exp_range", gamma=0.99,
             base_momentum=0.7, max_momentum=0.95),
        {0: (0.001, 0.95), 5: (0.04807400747005, 0.8311262437625),
         13: (0.061812206893828485, 0.7964338209751806), 20: (0.001, 0.95),
         37: (0.0214766378503116, 0.8982913185598191), 59: (0.006471566423907594, 0.9361829130709404)},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("config", "numbers"), TORCH_CYCLIC_LR, ids=["tri", "tri2", "exp"])
def test_pytorch_numbers_for_rate_and_momentum(
    config: dict[str, object], numbers: dict[int, tuple[float, float]]
) -> None:
    schedule = Cyclic(**config)  # type: ignore[arg-type]
    for step, (rate, momentum) in numbers.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6)
        assert float(schedule.momentum(step)) == pytest.approx(momentum, rel=1e-6)


@pytest.mark.parametrize("gamma", [0.99994, 0.9999, 0.996])
def test_exp_range_keeps_float64_precision_over_100000_steps(gamma: float) -> None:
    steps = 100_000
    schedule = Cyclic(0.001, 0.1, step_size_up=2000, mode="exp_range", gamma=gamma)
    up = np.arange(steps, dtype="float64")
    cycle = np.floor(1 + up / 4000)
    x = np.abs(up / 2000 - 2 * cycle + 1)
    expected = 0.001 + 0.099 * np.maximum(0, 1 - x) * gamma**up  # float64, as PyTorch
    relative = np.abs(preview(schedule, steps) - expected) / expected
    assert relative.max() < 1e-6, (relative.argmax(), relative.max())
    momentum = 0.9 - 0.1 * np.maximum(0, 1 - x) * gamma**up
    np.testing.assert_allclose(preview(schedule.momentum_schedule, steps), momentum, rtol=1e-6)


def test_tensorflow_addons_published_cases() -> None:
    """tensorflow_addons/optimizers/tests/cyclical_learning_rate_test.py, tolerance 1e-6.

    Its triangular2 and exponential cases build the schedule with step_size=4000 but compute
    the expected values with 2000 (the reason addons skips them); they are run here with the
    step size their expected values use.
    """
    triangular = Cyclic(0.1, 1.0, step_size_up=40)
    expected = np.concatenate([np.linspace(0.1, 1.0, num=41), np.linspace(1.0, 0.1, num=41)[1:]])
    np.testing.assert_allclose(preview(triangular, len(expected)), expected, rtol=1e-6)
    middle = (1.0 + 0.1) / 2
    expected = np.concatenate(
        [
            np.linspace(0.1, 1.0, num=2001)[1:],
            np.linspace(1.0, 0.1, num=2001)[1:],
            np.linspace(0.1, middle, num=2001)[1:],
            np.linspace(middle, 0.1, num=2001)[1:],
        ]
    )
    triangular2 = Cyclic(0.1, 1.0, step_size_up=2000, mode="triangular2")
    np.testing.assert_allclose(preview(triangular2, 8001)[1:], expected, rtol=1e-6)
    gamma, i = 0.996, np.arange(1, 8001)
    non_bounded = np.abs(i / 2000.0 - 2 * np.floor(1 + i / (2 * 2000)) + 1)
    expected = 0.1 + (1.0 - 0.1) * np.maximum(0, (1 - non_bounded)) * (gamma**i)
    exponential = Cyclic(0.1, 1.0, step_size_up=2000, mode="exp_range", gamma=gamma)
    np.testing.assert_allclose(preview(exponential, 8001)[1:], expected, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sgd", "nadam"])
def test_momentum_scheduler_drives_the_cycled_momentum_in_a_real_fit(kind: str) -> None:
    schedule = Cyclic(0.01, 0.1, step_size_up=3, step_size_down=5, base_momentum=0.6)
    expected = preview(schedule.momentum_schedule, STEPS)
    assert expected.min() == pytest.approx(0.6) and expected.max() == pytest.approx(0.9)
    if kind == "sgd":
        trace = _train(keras.optimizers.SGD(schedule, momentum=0.5), [MomentumScheduler()])
        np.testing.assert_allclose(
            _sgd_momenta(trace, preview(schedule, STEPS)), expected[1:], atol=1e-4
        )
    else:
        trace = _train(keras.optimizers.Nadam(schedule, beta_1=0.5), [MomentumScheduler()])
        np.testing.assert_allclose(_adam_beta_1(trace), expected, atol=1e-4)
    flat = Cyclic(0.01, 0.1, step_size_up=3, cycle_momentum=False)
    assert flat.momentum_schedule is None
    with pytest.raises(ValueError, match="needs a momentum schedule"):
        _train(keras.optimizers.SGD(flat, momentum=0.5), [MomentumScheduler()])


@pytest.mark.parametrize("schedule", [Cyclic, OneCycle])
@pytest.mark.parametrize(
    ("momenta", "message"),
    [
        (
            (0.95, 0.9),
            r"base_momentum must be <= max_momentum \(0.9\). Received: base_momentum=0.95",
        ),
        ((0.5, 1.5), r"max_momentum must be in \[0, 1\). Received: max_momentum=1.5"),
        ((-0.1, 0.9), r"base_momentum must be in \[0, 1\). Received: base_momentum=-0.1"),
        ((0.8, 1.0), r"max_momentum must be in \[0, 1\). Received: max_momentum=1.0"),
    ],
)
def test_momentum_range_and_order_are_checked(
    schedule: type, momenta: tuple[float, float], message: str
) -> None:
    base, top = momenta
    arguments = (0.01, 0.1, 4) if schedule is Cyclic else (0.1, 10)
    with pytest.raises(ValueError, match=message):
        schedule(*arguments, base_momentum=base, max_momentum=top)
    constant = schedule(*arguments, base_momentum=0.85, max_momentum=0.85)
    assert float(constant.momentum(3)) == pytest.approx(0.85)


def test_triangular2_halves_the_height_every_cycle() -> None:
    lrs = preview(Cyclic(0.0 + 1e-9, 1.0, step_size_up=5, mode="triangular2"), 40)
    assert [round(float(lrs[i]), 6) for i in (5, 15, 25, 35)] == [1.0, 0.5, 0.25, 0.125]


def test_serialization_round_trip_and_registry() -> None:
    schedule = Cyclic(0.01, 0.2, 3, 4, mode="exp_range", gamma=0.9, base_momentum=0.7)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, Cyclic) and restored.get_config() == schedule.get_config()
    np.testing.assert_allclose(
        preview(restored.momentum_schedule, 9), preview(schedule.momentum, 9)
    )
    old = {k: v for k, v in schedule.get_config().items() if "momentum" not in k}
    assert Cyclic.from_config(old).momentum_schedule is not None  # configs saved before momentum
    assert isinstance(
        keras_dnnkit.get("schedule", "cyclic", base_lr=0.1, max_lr=1.0, step_size_up=2), Cyclic
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=0), "step_size_up must be > 0. Received: st"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=-2), "step_size_up must be > 0"),
        (dict(base_lr=0.1, max_lr=0.0, step_size_up=2), "max_lr must be > 0. Received: max_lr=0"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=2, step_size_down=0), "step_size_down"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=2, mode="cosine"), "'triangular', 'tri"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=2, gamma=1.5), r"gamma must be in \(0, 1\]"),
    ],
)
def test_bad_arguments(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cyclic(**arguments)  # type: ignore[arg-type]


def test_preview_and_plot_work_for_keras_schedules_too() -> None:
    piecewise = keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.1, 0.01])
    np.testing.assert_allclose(preview(piecewise, 5), [0.1, 0.1, 0.1, 0.1, 0.01], rtol=1e-6)
    figure = plot_schedule(Cyclic(0.01, 0.1, 4), 20, log_scale=True)
    assert [axes.get_ylabel() for axes in figure.axes] == ["learning rate", "momentum"]
    line = figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), preview(Cyclic(0.01, 0.1, 4), 20))
    with pytest.raises(ValueError, match="steps must be an integer > 0"):
        preview(piecewise, 0)


def test_scaled_schedule_floors_reductions_but_not_the_schedule() -> None:
    base = Cyclic(0.001, 0.1, step_size_up=5)
    scaled = ScaledSchedule(base, multiplier=0.01, min_learning_rate=0.0005)
    values, raw = preview(scaled, 10), preview(base, 10)
    np.testing.assert_allclose(values, np.maximum(raw * 0.01, np.minimum(raw, 0.0005)), rtol=1e-6)
    assert values[0] == pytest.approx(0.0005)  # floored (raw * 0.01 = 1e-5)
    assert values[5] == pytest.approx(0.001)  # 0.1 * 0.01
    unscaled = ScaledSchedule(base, min_learning_rate=0.5)
    np.testing.assert_allclose(preview(unscaled, 10), raw, rtol=1e-6)  # below the floor: kept
    restored = ScaledSchedule.from_config(scaled.get_config())
    np.testing.assert_allclose(preview(restored, 10), values)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        ScaledSchedule(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiplier must be > 0"):
        scaled.set_multiplier(0.0)
