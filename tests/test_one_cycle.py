"""OneCycle against PyTorch OneCycleLR's semantics, step by step over whole runs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.schedules import OneCycle, preview
from tests._reference_schedules import one_cycle as reference

CASES = [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=3e-3, total_steps=1000),
    dict(max_lr=1.0, total_steps=57, pct_start=0.25, anneal_strategy="linear"),
    dict(max_lr=0.5, total_steps=100, three_phase=True),
    dict(max_lr=0.5, total_steps=77, three_phase=True, anneal_strategy="linear", pct_start=0.4),
    dict(max_lr=2.0, total_steps=10, pct_start=0.1, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=0.1, total_steps=2),
    dict(max_lr=0.1, total_steps=3, pct_start=0.5),
    dict(max_lr=0.1, total_steps=7, pct_start=0.4, base_momentum=0.8, max_momentum=0.99),
]


@pytest.mark.parametrize("config", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_learning_rate_and_momentum_match_pytorch_over_the_whole_run(
    config: dict[str, object],
) -> None:
    schedule = OneCycle(**config)  # type: ignore[arg-type]
    total = int(config["total_steps"])  # type: ignore[call-overload]
    steps = total + 5  # past the end: the final rate holds
    expected = np.array([reference(step, **config) for step in range(steps)])  # type: ignore[arg-type]
    lrs = preview(schedule, steps)
    momenta = preview(schedule.momentum_schedule, steps)
    np.testing.assert_allclose(lrs, expected[:, 0], rtol=2e-5, atol=0)
    np.testing.assert_allclose(momenta, expected[:, 1], rtol=2e-6, atol=0)
    # The scalar path (what the optimizer calls) gives the same numbers.
    for step in (0, total // 3, total - 1, total, total + 4):
        assert float(schedule(step)) == pytest.approx(expected[step, 0], rel=2e-5)


def test_shape_peak_and_final_rate() -> None:
    schedule = OneCycle(max_lr=0.2, total_steps=200)
    lrs = preview(schedule, 400)
    assert np.argmax(lrs) == 59  # pct_start * total_steps - 1
    assert lrs[59] == pytest.approx(0.2, rel=1e-6)
    assert lrs[0] == pytest.approx(0.2 / 25, rel=1e-6)
    assert np.all(lrs[199:] == np.float32(0.2 / 25 / 1e4))  # reaches and holds its final rate
    assert np.all(np.diff(lrs[:60]) > 0) and np.all(np.diff(lrs[59:200]) < 0)


def test_float32_precision_near_the_minimum_rate() -> None:
    config = dict(max_lr=1.0, total_steps=5000)
    lrs = preview(OneCycle(**config), 5000)  # type: ignore[arg-type]
    expected = np.array([reference(s, **config)[0] for s in range(4900, 5000)])  # type: ignore[arg-type]
    relative = np.abs(lrs[4900:] - expected) / expected
    assert relative.max() < 1e-5


def test_three_phase_comes_back_to_the_initial_rate_before_the_final_anneal() -> None:
    schedule = OneCycle(max_lr=1.0, total_steps=100, three_phase=True)
    lrs = preview(schedule, 100)
    assert lrs[29] == pytest.approx(1.0) and lrs[58] == pytest.approx(1 / 25, rel=1e-5)
    momenta = preview(schedule.momentum_schedule, 100)
    assert momenta[29] == pytest.approx(0.85) and np.all(momenta[58:] == np.float32(0.95))


def test_fastai_preset() -> None:
    schedule = OneCycle.fastai(max_lr=0.01, total_steps=100)
    lrs = preview(schedule, 100)
    assert np.argmax(lrs) == 24
    assert lrs[0] == pytest.approx(0.01 / 25, rel=1e-5)
    assert lrs[-1] == pytest.approx(0.01 / 1e5, rel=1e-5)
    momenta = preview(schedule.momentum_schedule, 100)
    assert momenta[0] == pytest.approx(0.95) and momenta[24] == pytest.approx(0.85)
    assert momenta[-1] == pytest.approx(0.95)


def test_serialization_round_trip_and_registry() -> None:
    schedule = OneCycle(0.3, 50, pct_start=0.2, three_phase=True, anneal_strategy="linear")
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, OneCycle) and restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(preview(restored, 60), preview(schedule, 60))
    assert keras.saving.get_registered_name(OneCycle) == "keras_dnnkit>one_cycle"
    built = keras_dnnkit.get("schedule", "one_cycle", max_lr=0.1, total_steps=10)
    assert isinstance(built, OneCycle)
    assert OneCycle(0.1, 10, cycle_momentum=False).momentum_schedule is None


def test_optimizer_reads_the_schedule_at_its_step() -> None:
    schedule = OneCycle(0.1, 20)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    optimizer.iterations.assign(7)
    assert float(optimizer.learning_rate) == pytest.approx(reference(7, 0.1, 20)[0], rel=1e-6)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(max_lr=0.0, total_steps=10), "max_lr must be > 0. Received: max_lr=0.0"),
        (dict(max_lr=-1, total_steps=10), "max_lr must be > 0. Received: max_lr=-1"),
        (dict(max_lr=0.1, total_steps=1), "total_steps must be an integer >= 2. Received: total"),
        (dict(max_lr=0.1, total_steps=10, pct_start=1.0), r"pct_start must be in the open inte"),
        (dict(max_lr=0.1, total_steps=10, pct_start=0.0), r"\(0.0, 1.0\). Received: pct_start"),
        (dict(max_lr=0.1, total_steps=10, anneal_strategy="cosine"), "'cos', 'linear'"),
        (dict(max_lr=0.1, total_steps=10, div_factor=0), "div_factor must be > 0"),
        (dict(max_lr=0.1, total_steps=10, base_momentum=1.5), r"base_momentum must be in \[0, 1"),
    ],
)
def test_bad_arguments_name_the_argument_the_range_and_the_value(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OneCycle(**arguments)  # type: ignore[arg-type]
