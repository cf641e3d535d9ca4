"""Save mid-run, reload in a fresh process, continue: the same rates as an uninterrupted run."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests import _resume_scenarios as scenarios
from tests.conftest import run_python

KINDS = ("one_cycle", "plateau")
SAVED_AFTER = 2  # epochs


@pytest.mark.slow
def test_resumed_runs_use_the_same_rates_step_for_step(tmp_path: os.PathLike[str]) -> None:
    uninterrupted, first_parts = {}, {}
    for kind in KINDS:
        uninterrupted[kind] = scenarios.fit(scenarios.build(kind), kind, 0, scenarios.EPOCHS)
        model = scenarios.build(kind)
        first_parts[kind] = scenarios.fit(model, kind, 0, SAVED_AFTER)
        model.save(os.path.join(tmp_path, f"{kind}.keras"))
    result = run_python(
        f"""
        import json, os
        import keras
        import keras_dnnkit
        from tests import _resume_scenarios as scenarios
        rows = {{}}
        for kind in {KINDS!r}:
            model = keras.saving.load_model(os.path.join({os.fspath(tmp_path)!r}, kind + ".keras"))
            rows[kind] = scenarios.fit(model, kind, {SAVED_AFTER}, scenarios.EPOCHS)
        print(json.dumps(rows))
        """
    )
    resumed = json.loads(result.stdout.strip().splitlines()[-1])
    for kind in KINDS:
        expected = np.array(uninterrupted[kind])
        got = np.array(first_parts[kind] + resumed[kind])
        assert got.shape == expected.shape == (scenarios.EPOCHS * scenarios.STEPS_PER_EPOCH, 3)
        np.testing.assert_array_equal(got[:, 0], np.arange(len(got)))  # the optimizer's steps
        np.testing.assert_allclose(got[:, 1:], expected[:, 1:], rtol=1e-7, atol=0)
        assert len(np.unique(expected[:, 1])) > 10  # the rate does change
    # 1cycle: momentum cycles; plateau: the rate was reduced after the resume point.
    assert len(np.unique(np.array(uninterrupted["one_cycle"])[:, 2])) > 10
    plateau = np.array(uninterrupted["plateau"])
    decay = 0.1 * 0.5 ** (plateau[:, 0] / 10)
    multipliers = plateau[:, 1] / decay
    np.testing.assert_allclose(multipliers[:16], 1.0, rtol=1e-6)
    np.testing.assert_allclose(multipliers[16:], 0.5, rtol=1e-6)
