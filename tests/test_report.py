"""``dnnkit report``: per-layer table and findings read back from real training runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tensorflow as tf

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.cli.main import main
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_scalars
from keras_dnnkit.diagnostics._findings_file import KEYS, write_findings
from keras_dnnkit.diagnostics._layer_order import read_layer_order
from keras_dnnkit.diagnostics._report import build_report
from tests._activation_runs import digits, mlp, train

PROBE = digits().x_train[:128]
FINDING_KEYS = list(KEYS)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("report_runs")
    runs = {}
    for kind in ("dead", "healthy"):
        log_dir = str(tmp / kind)
        callbacks = [
            GradientDiagnostics(log_dir, every_n_steps=5, warn=False),
            ActivationDiagnostics(log_dir, probe=PROBE, every_n_steps=5, warn=False),
        ]
        train(mlp(kind, depth=4, width=32), callbacks)
        runs[kind] = log_dir
    return runs


def _report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["report", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.slow
def test_json_has_exactly_layers_and_findings(logs: Any, capsys: Any) -> None:
    status, out, _ = _report(capsys, logs["dead"], "--json")
    assert status == 0
    document = json.loads(out)
    assert list(document) == ["layers", "findings", "resolved_findings", "gradient_statistics"]
    assert document["gradient_statistics"] is True
    names = [layer["name"] for layer in document["layers"]]
    assert names == ["hidden_0", "hidden_1", "hidden_2", "hidden_3", "output"]
    first = document["layers"][0]
    for column in ("gradient_norm", "flow", "update_ratio", "activation_variance"):
        assert isinstance(first[column], float)
    assert first["dead_fraction"] == pytest.approx(0.5, abs=0.5)  # measured, in [0, 1]
    assert "dead_fraction" not in document["layers"][-1]  # output layer is not judged
    assert document["findings"], "a ReLU net with bias -5 has dead units"
    for finding in document["findings"]:
        assert list(finding) == FINDING_KEYS
    dead = [f for f in document["findings"] if f["problem"] == "dead_units"]
    assert len(dead) == 1 and dead[0]["layers"][0].startswith("hidden_")
    assert (dead[0]["first_step"], dead[0]["last_step"]) == (0, 20)  # one finding, all steps
    assert dead[0]["status"] == "current" and dead[0]["advice"].startswith("The biases are")


@pytest.mark.slow
def test_fail_on_findings_sets_the_exit_status(logs: Any, capsys: Any) -> None:
    assert _report(capsys, logs["dead"], "--fail-on-findings")[0] == 1
    status, out, _ = _report(capsys, logs["healthy"], "--fail-on-findings", "--json")
    assert status == 0
    document = json.loads(out)
    assert document["findings"] == []
    assert [layer["name"] for layer in document["layers"]][:3] == ["hidden_0", "norm_0", "elu_0"]


@pytest.mark.slow
def test_table_lists_layers_in_order_then_findings(logs: Any, capsys: Any) -> None:
    status, out, _ = _report(capsys, logs["dead"])
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["layer", "gradient_norm", "flow"]
    assert [line.split()[0] for line in lines[1:6]] == [
        "hidden_0",
        "hidden_1",
        "hidden_2",
        "hidden_3",
        "output",
    ]
    assert any(line.startswith("current findings (") for line in lines)
    assert "dead_units: dead units:" in out
    _, healthy, _ = _report(capsys, logs["healthy"])
    assert healthy.rstrip().endswith("no current findings")


@pytest.mark.slow
def test_report_shows_the_findings_the_callbacks_kept(logs: Any) -> None:
    from keras_dnnkit.diagnostics._lifecycle import tracker_for

    report = build_report(logs["dead"])
    assert [f.to_dict() for f in report.findings] == [
        f.to_dict() for f in tracker_for(logs["dead"]).findings
    ]


def test_nonexistent_log_dir_is_named(tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "no_such_run"
    status, out, err = _report(capsys, str(missing))
    assert status == 2 and out == ""
    assert f"Log directory '{missing}' does not exist" in err


def test_log_dir_that_is_a_file_or_has_no_events(tmp_path: Path, capsys: Any) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hi")
    assert "is a file, not a directory" in _report(capsys, str(a_file))[2]
    status, _, err = _report(capsys, str(tmp_path))
    assert status == 2 and "holds no TensorBoard event files" in err


@pytest.mark.slow
def test_bad_window(logs: Any, capsys: Any) -> None:
    status, _, err = _report(capsys, logs["dead"], "--window", "0")
    assert status == 2 and "Argument window must be an int >= 1. Received: window=0" in err


@pytest.mark.slow
def test_console_script_in_a_fresh_process(logs: Any) -> None:
    dnnkit = Path(sys.executable).with_name("dnnkit")
    quiet = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [str(dnnkit), "report", logs["dead"], "--json", "--fail-on-findings"],
        capture_output=True,
        text=True,
        timeout=120,
        env=quiet,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""  # TensorFlow's start-up lines (oneDNN, CUDA, absl) set aside
    problems = {f["problem"] for f in json.loads(result.stdout)["findings"]}
    assert "dead_units" in problems


# ---------------------------------------------------------------- hand-written event files


def _write(log_dir: Path, scalars: dict[str, list[tuple[int, float]]]) -> None:
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for tag, points in scalars.items():
            for step, value in points:
                tf.summary.scalar(tag, value, step=step)
    writer.close()


def test_layers_numbered_apart_by_two_callbacks_merge_in_order(tmp_path: Path) -> None:
    # Gradients number only layers with weights; activations number every layer.
    scalars = {
        _tags.layer_tag(_tags.GRADIENT_NORM, 0, "dense"): [(10, 1.0)],
        _tags.layer_tag(_tags.GRADIENT_NORM, 1, "dense_1"): [(10, 2.0)],
        _tags.layer_tag(_tags.ACTIVATION_MEAN, 0, "dense"): [(10, 0.1)],
        _tags.layer_tag(_tags.ACTIVATION_MEAN, 1, "relu"): [(10, 0.2)],
        _tags.layer_tag(_tags.ACTIVATION_MEAN, 2, "dense_1"): [(10, 0.3)],
    }
    _write(tmp_path / "run", scalars)
    report = build_report(tmp_path)  # the run is a sub-directory
    assert [layer.name for layer in report.layers] == ["dense", "relu", "dense_1"]
    assert report.layers[1].to_dict() == {"name": "relu", "activation_mean": pytest.approx(0.2)}


def test_medians_over_the_last_window(tmp_path: Path) -> None:
    tag = _tags.layer_tag(_tags.DEAD_FRACTION, 0, "dense")
    _write(tmp_path, {tag: [(0, 1.0), (10, 0.1), (20, 0.2), (30, 0.9)]})
    assert build_report(tmp_path, window=3).layers[0].values["dead_fraction"] == pytest.approx(0.2)
    assert build_report(tmp_path).findings == ()  # findings come from the findings file only


def _finding(problem: str, status: str, first: int, resolved: int | None = None) -> dict[str, Any]:
    return {
        "problem": problem,
        "layers": ["dense"],
        "first_step": first,
        "last_step": first + 10,
        "status": status,
        "resolved_step": resolved,
        "message": f"{problem.replace('_', ' ')}: ...",
        "advice": "Try ...",
    }


def test_current_and_resolved_findings_apart(tmp_path: Path, capsys: Any) -> None:
    _write(tmp_path, {_tags.layer_tag(_tags.GRADIENT_NORM, 0, "dense"): [(50, 1.0)]})
    write_findings(tmp_path, [_finding("dead_units", "resolved", 0, 40)])
    status, out, _ = _report(capsys, str(tmp_path), "--fail-on-findings")
    assert status == 0, out  # only a resolved finding: the run is healthy now
    assert "no current findings" in out
    assert "resolved findings (1):\n- steps 0-10, resolved at step 40, dead_units" in out
    write_findings(tmp_path, [_finding("vanishing_gradients", "current", 20)])
    status, out, _ = _report(capsys, str(tmp_path), "--fail-on-findings", "--json")
    document = json.loads(out)
    assert status == 1
    assert [f["problem"] for f in document["findings"]] == ["vanishing_gradients"]
    assert [f["problem"] for f in document["resolved_findings"]] == ["dead_units"]


def test_a_run_without_gradient_statistics_says_so_and_fails(tmp_path: Path, capsys: Any) -> None:
    _write(tmp_path, {_tags.layer_tag(_tags.ACTIVATION_MEAN, 0, "dense"): [(0, 0.5)]})
    status, out, _ = _report(capsys, str(tmp_path), "--fail-on-findings")
    assert status == 1
    assert "no gradient statistics" in out and "GradientDiagnostics" in out
    assert _report(capsys, str(tmp_path))[0] == 0  # without --fail-on-findings: just a report


# ---------------------------------------------------------------- several runs, stable tags


def test_tags_are_the_same_across_runs_of_different_architectures(logs: Any) -> None:
    # "dead": Dense layers only; "healthy": Dense, BatchNormalization, Activation per layer.
    # hidden_1 is the 2nd measured layer in one and the 3rd in the other: same tag anyway.
    dead, healthy = (read_scalars(logs[kind]) for kind in ("dead", "healthy"))
    shared = [f"hidden_{i}" for i in range(4)] + ["output"]
    for prefix in (_tags.GRADIENT_NORM, _tags.UPDATE_RATIO, _tags.ACTIVATION_VARIANCE):
        for layer in shared:
            assert f"{prefix}/{layer}" in dead and f"{prefix}/{layer}" in healthy
    layer_tags = [t for t in (*dead, *healthy) if _tags.parse_layer_tag(t) is not None]
    assert not [t for t in layer_tags if re.search(r"/\d+_", t)]  # no position in any tag
    assert read_layer_order(logs["dead"]) == shared
    assert read_layer_order(logs["healthy"]) == [
        name for i in range(4) for name in (f"hidden_{i}", f"norm_{i}")
    ] + ["output"]  # the order is metadata (dnnkit_layers.json), not part of the tags


def test_a_directory_of_runs_reports_each_run_and_compares(logs: Any, capsys: Any) -> None:
    parent = str(Path(logs["dead"]).parent)
    singles = {kind: json.loads(_report(capsys, logs[kind], "--json")[1]) for kind in logs}
    status, out, _ = _report(capsys, parent, "--json")
    assert status == 0
    document = json.loads(out)
    assert list(document) == ["runs", "comparison"]
    assert [run["run"] for run in document["runs"]] == ["dead", "healthy"]
    for run in document["runs"]:  # each run's numbers are that run's alone: never merged
        assert run["layers"] == singles[run["run"]]["layers"]
        assert run["findings"] == singles[run["run"]]["findings"]
    comparison = document["comparison"]
    assert comparison["runs"] == ["dead", "healthy"]
    rows = {row["name"]: row for row in comparison["layers"]}
    for kind in ("dead", "healthy"):
        own = {layer["name"]: layer for layer in singles[kind]["layers"]}
        assert rows["hidden_1"]["gradient_norm"][kind] == own["hidden_1"]["gradient_norm"]
    assert rows["norm_0"]["gradient_norm"]["dead"] is None  # the dead run has no norm_0
    summary = {row["run"]: row for row in comparison["summary"]}
    assert "dead_units" in summary["dead"]["findings"] and summary["healthy"]["findings"] == []
    assert _report(capsys, parent, "--fail-on-findings")[0] == 1
    status, text, _ = _report(capsys, parent)
    assert status == 0
    assert text.index("== run dead") < text.index("== run healthy") < text.index("== comparison")
    header = next(
        line for line in text.splitlines() if line.split()[1:3] == ["gradient_norm", "dead"]
    )
    assert header.split() == ["layer", "gradient_norm", "dead", "gradient_norm", "healthy",
                              "update_ratio", "dead", "update_ratio", "healthy"]  # fmt: skip
