"""``dnnkit demo``: the console script end to end on quick settings, and its failure modes."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keras_dnnkit.cli.main import main
from keras_dnnkit.diagnostics._events import event_files, read_scalars
from tests.conftest import ROOT, run_command

DNNKIT = Path(sys.executable).parent / "dnnkit"
OFFLINE = {
    # Any download goes to a closed local port: the test does not depend on the network.
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "",
    "NO_PROXY": "",
}


def run_dnnkit(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(DNNKIT)] if DNNKIT.exists() else [sys.executable, "-m", "keras_dnnkit.cli.main"]
    return run_command([*command, *arguments], env=env)


def table_row(output: str, label: str) -> list[str]:
    """The cells of one row of the comparison table (columns are 2+ spaces apart)."""
    for line in output.splitlines():
        if line.startswith(label + "  "):
            return re.split(r"\s{2,}", line.strip())[1:]
    raise AssertionError(f"no row {label!r} in:\n{output}")


@pytest.mark.slow
def test_quick_demo_prints_the_story_and_writes_the_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "demo run"
    result = run_dnnkit("demo", "--quick", "--logdir", str(log_dir), "--seed", "1")
    output = result.stdout
    assert result.returncode == 0, f"{output}\n{result.stderr[-4000:]}"

    # Concise progress: one line per epoch and configuration.
    assert len(re.findall(r"^\[2010 defaults\] epoch \d/2  loss ", output, re.M)) == 2
    assert len(re.findall(r"^\[recommended\] epoch \d/2  loss ", output, re.M)) == 2
    assert re.search(r"^\[recommended\] epoch 1/2 is tracing .*\.\.\.$", output, re.M)

    header = re.split(
        r"\s{2,}", next(line for line in output.splitlines() if "2010 defaults  " in line).strip()
    )
    assert header == ["2010 defaults", "recommended"]
    old, new = (float(v) for v in table_row(output, "validation accuracy"))
    assert new > 0.7 and new > old + 0.2, output
    for label in ("gradient norm, first layer", "gradient norm, last layer"):
        cells = table_row(output, label)
        assert len(cells) == 2 and all(re.fullmatch(r"[\d.]+e[+-]\d+ \(\w+\)", c) for c in cells)
    assert table_row(output, "gradient norm, first layer")[1].endswith("(hidden_01)")
    assert table_row(output, "gradient norm, last layer")[1].endswith("(output)")
    old_findings, new_findings = table_row(output, "findings")
    assert "vanishing gradients (hidden_01" in old_findings, output
    assert new_findings == "none", output
    assert re.search(
        r"^  2010 defaults: vanishing gradients: hidden_01's gradient norm", output, re.M
    )
    # The story's numbers: orders of magnitude apart (measured: 2010 ~1e-5 at depth 5).
    old_ratio, new_ratio = (float(v) for v in table_row(output, "first / last"))
    assert old_ratio < 1e-3 and new_ratio > 0.1 and new_ratio / old_ratio > 1e3, output

    story = output.split("== What went wrong\n")[1]
    assert story.startswith("In the 2010 run the first hidden layer's gradient is ")
    ablation = story.split("== What fixed it, one change at a time")[1].splitlines()[1:7]
    assert ablation[0].split("  ")[0] == "change"
    labels = [re.split(r"\s{2,}", row)[0] for row in ablation[1:]]
    assert labels == [
        "2010: sigmoid, U[-1/sqrt(n), 1/sqrt(n)]",
        "+ He initialization (still sigmoid)",
        "+ ELU instead of sigmoid",
        "+ batch normalization",
        "+ dropout head (= recommended)",
    ]
    ratios = [float(re.split(r"\s{2,}", row)[1]) for row in ablation[1:]]
    assert ratios[0] < 1e-3 < 0.1 < ratios[-1], ablation
    assert "The largest single gain: " in story

    plain, mc = re.search(
        r"^test accuracy: plain ([\d.]+)  MC dropout \(20 samples\) ([\d.]+)$", output, re.M
    ).groups()  # type: ignore[union-attr]
    assert float(plain) > 0.7 and float(mc) > 0.7
    correct, wrong = re.search(
        r"^mean predictive entropy: correct ([\d.]+)  wrong ([\d.]+) \(nats\)$", output, re.M
    ).groups()  # type: ignore[union-attr]
    assert float(correct) < float(wrong)
    uncertain = output.split("most uncertain test examples:\n")[1].splitlines()[:5]
    entropies = [float(re.search(r"entropy ([\d.]+)", line).group(1)) for line in uncertain]  # type: ignore[union-attr]
    assert len(entropies) == 5 and entropies == sorted(entropies, reverse=True)
    assert entropies[-1] > float(correct)

    figure = log_dir / "gradient_flow.png"
    assert f"Gradient flow figure: {figure}" in output
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    next_lines = output.split("== Next\n")[1].splitlines()
    tensorboard, report = (shlex.split(line, comments=True) for line in next_lines[:2])
    assert tensorboard[1:] == ["--logdir", str(log_dir)] and report[1:] == ["report", str(log_dir)]
    for command in (tensorboard, report):  # runnable exactly as printed, from the repository
        assert (ROOT / command[0]).exists() or shutil.which(command[0]), command
    assert "#dnnkit" in next_lines[0]
    capsys.readouterr()
    assert main([*report[1:], "--json"]) == 0  # in this process: no second TensorFlow start
    reported = capsys.readouterr().out
    runs = json.loads(reported)["runs"]
    assert [run["run"] for run in runs] == ["2010_defaults", "recommended"]
    for run in ("2010_defaults", "recommended"):
        assert event_files(log_dir / run), run
        tags = read_scalars(log_dir / run)
        assert "gradients/norm/hidden_01" in tags and "gradients/global_norm" in tags
        assert any(tag.startswith("activations/variance/") for tag in tags)


@pytest.mark.slow
def test_unavailable_dataset_says_what_to_do(tmp_path: Path) -> None:
    env = {**OFFLINE, "KERAS_HOME": str(tmp_path / "keras_home")}
    result = run_dnnkit(
        "demo", "--quick", "--dataset", "fashion_mnist", "--logdir", str(tmp_path), env=env
    )
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "dnnkit demo: The fashion_mnist data set is not in the Keras cache" in result.stderr
    assert "could not be downloaded" in result.stderr
    assert "without --dataset to use the bundled digits" in result.stderr
    assert "keras.datasets.fashion_mnist.load_data()" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*/events.out.tfevents.*"))


def test_bad_arguments_are_refused_before_training() -> None:
    with pytest.raises(SystemExit, match=r"Argument depth must be >= 1. Received: depth=0"):
        main(["demo", "--depth", "0"])
    with pytest.raises(SystemExit):
        main(["demo", "--dataset", "cifar10"])  # argparse: not a choice
