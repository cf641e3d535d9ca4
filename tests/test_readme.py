"""Every command and code block in the README runs, as a reader would run it."""

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_python

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)
BIN = Path(sys.executable).parent


def commands(block):
    return [
        line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")
    ]


def shell_blocks():
    return [commands(body) for language, body in BLOCKS if language == "bash"]


def test_the_first_block_is_exactly_the_two_commands_main_job_first():
    assert BLOCKS[0] == ("bash", "make demo\nmake test\n")


def test_ci_runs_the_readme_test_command_not_a_copy():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and "make test" not in ci


@pytest.mark.slow
def test_make_targets_run_the_demo_and_the_full_suite():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "dnnkit demo" in dry_run
    for step in ("ruff check", "ruff format --check", "mypy", "pytest --cov"):
        assert step in dry_run


def test_every_example_and_benchmark_command_is_run_by_a_test():
    scripts = [
        line.split()[1]
        for block in shell_blocks()
        for line in block
        if line.startswith(("python ", ".venv/bin/python "))
    ]
    assert len(scripts) >= 10
    test_sources = "\n".join(
        path.read_text()
        for path in (ROOT / "tests").glob("test_*.py")
        if path.name != "test_readme.py"
    )
    for script in scripts:
        assert (ROOT / script).is_file(), script
        name = Path(script).name
        assert re.search(rf"['\"/]{re.escape(name)}['\"]", test_sources), f"no test runs {script}"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_python_blocks_and_the_commands_after_them_run(tmp_path):
    code = "\n\n".join(body for language, body in BLOCKS if language == "python")
    result = run_python(f"import os; os.chdir({str(tmp_path)!r})\n" + code, timeout=900)
    assert "ECE" in result.stdout and "steepest" in result.stdout
    assert (tmp_path / "one_cycle.png").is_file() and (tmp_path / "reliability.png").is_file()

    report = subprocess.run(
        [str(BIN / "dnnkit"), "report", "runs/quickstart"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    assert "dense" in report.stdout

    for line in (
        "dnnkit list optimizer",
        "dnnkit plugins --json",
        "dnnkit lr-find --plot lr_find.png",
    ):
        assert any(f".venv/bin/{line}" in block for block in shell_blocks()), line
        arguments = line.split()[1:] + (["--quick"] if "lr-find" in line else [])
        result = subprocess.run(
            [str(BIN / "dnnkit"), *arguments],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{line}: {result.stderr[-2000:]}"
    assert (tmp_path / "lr_find.png").is_file()

    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "tensorboard"), "--logdir", "runs", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline, body = time.monotonic() + 90, ""
        while time.monotonic() < deadline and "gradients/norm" not in body:
            time.sleep(1)
            try:
                url = f"http://127.0.0.1:{port}/data/plugin/scalars/tags"
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = response.read().decode()
            except OSError:
                continue
        assert "quickstart" in body and "gradients/norm" in body
    finally:
        server.terminate()
        server.wait(timeout=30)
