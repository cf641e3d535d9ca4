"""Cyclic against PyTorch CyclicLR's semantics, step by step over several cycles."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.schedules import Cyclic, ScaledSchedule, plot_schedule, preview
from tests._reference_schedules import cyclic as reference

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
    np.testing.assert_allclose(preview(schedule, steps), expected, rtol=1e-5, atol=1e-9)
    assert float(schedule(123)) == pytest.approx(expected[123], rel=1e-5)


def test_triangular2_halves_the_height_every_cycle() -> None:
    lrs = preview(Cyclic(0.0 + 1e-9, 1.0, step_size_up=5, mode="triangular2"), 40)
    assert [round(float(lrs[i]), 6) for i in (5, 15, 25, 35)] == [1.0, 0.5, 0.25, 0.125]


def test_serialization_round_trip_and_registry() -> None:
    schedule = Cyclic(0.01, 0.2, 3, 4, mode="exp_range", gamma=0.9)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, Cyclic) and restored.get_config() == schedule.get_config()
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
    assert [axes.get_ylabel() for axes in figure.axes] == ["learning rate"]
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
