"""Calibration metrics against hand computations; the reliability diagram renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keras_dnnkit.uncertainty import (
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    reliability_diagram,
)

PROBABILITIES = np.array(
    [
        [0.95, 0.05, 0.0],  # confidence 0.95, predicts 0
        [0.55, 0.45, 0.0],  # 0.55, predicts 0
        [0.1, 0.6, 0.3],  # 0.6, predicts 1
        [0.2, 0.2, 0.6],  # 0.6, predicts 2
        [0.0, 0.1, 0.9],  # 0.9, predicts 2
    ]
)
LABELS = np.array([0, 1, 1, 0, 2])


def test_expected_calibration_error_by_hand() -> None:
    # 5 bins: (0.4, 0.6] holds 0.55, 0.6, 0.6 (accuracy 1/3, confidence 0.5833);
    # (0.8, 1.0] holds 0.95, 0.9 (accuracy 1, confidence 0.925).
    expected = 3 / 5 * abs(1 / 3 - 1.75 / 3) + 2 / 5 * abs(1.0 - 0.925)
    assert expected_calibration_error(PROBABILITIES, LABELS, bins=5) == pytest.approx(expected)
    table = reliability_bins(PROBABILITIES, LABELS, bins=5)
    assert table.counts.tolist() == [0, 0, 3, 0, 2]
    assert np.isnan(table.accuracy[0]) and table.accuracy[2] == pytest.approx(1 / 3)
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == 0.0
    # Bin edges are (low, high]; a confidence of exactly 0.6 belongs to (0.4, 0.6].
    assert reliability_bins(np.array([[0.6, 0.4]]), np.array([0]), 5).counts.tolist() == [
        0,
        0,
        1,
        0,
        0,
    ]


def test_negative_log_likelihood_and_brier_by_hand() -> None:
    true_probabilities = np.array([0.95, 0.45, 0.6, 0.2, 0.9])
    assert negative_log_likelihood(PROBABILITIES, LABELS) == pytest.approx(
        -np.mean(np.log(true_probabilities))
    )
    squared = [
        0.05**2 + 0.05**2,
        0.55**2 + 0.55**2,
        0.1**2 + 0.4**2 + 0.3**2,
        0.8**2 + 0.2**2 + 0.6**2,
        0.1**2 + 0.1**2,
    ]
    assert brier_score(PROBABILITIES, LABELS) == pytest.approx(np.mean(squared))
    assert np.isfinite(negative_log_likelihood(np.array([[1.0, 0.0]]), np.array([1])))


def test_binary_probabilities_in_one_column() -> None:
    p = np.array([0.8, 0.3])
    two = np.array([[0.2, 0.8], [0.7, 0.3]])
    labels = np.array([1, 1])
    assert brier_score(p, labels) == pytest.approx(brier_score(two, labels))
    assert negative_log_likelihood(p[:, None], labels) == pytest.approx(
        -np.mean(np.log([0.8, 0.3]))
    )


def test_reliability_diagram_renders(tmp_path: Path) -> None:
    figure = reliability_diagram(PROBABILITIES, LABELS, bins=5, title="digits")
    axes = figure.axes[0]
    assert len(axes.patches) == 5
    assert (
        axes.get_title()
        == f"digits: ECE = {expected_calibration_error(PROBABILITIES, LABELS, 5):.3f}"
    )
    figure.savefig(tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 1000


def test_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="labels must be in \\[0, 2\\]"):
        brier_score(PROBABILITIES, np.array([0, 1, 1, 0, 3]))
    with pytest.raises(ValueError, match="integer class indices shaped \\(5,\\)"):
        brier_score(PROBABILITIES, np.array([0, 1]))
    with pytest.raises(ValueError, match="integer class indices"):
        brier_score(PROBABILITIES, LABELS.astype(float))
    with pytest.raises(ValueError, match="shaped \\(inputs, classes\\)"):
        brier_score(np.ones((2, 2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="bins must be an integer >= 1. Received: bins=0"):
        expected_calibration_error(PROBABILITIES, LABELS, bins=0)
