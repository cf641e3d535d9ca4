"""Start the real ``tensorboard`` console script on a log directory, for tests."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def tensorboard(log_dir: Path, output: Path) -> Iterator[int]:
    """Run ``tensorboard --logdir log_dir`` on a free port (output to ``output``)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("tensorboard")), "--logdir", str(log_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"]
    with output.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def wait_for(port: int, path: str, ready: Callable[[Any], bool]) -> Any:
    """Poll ``path`` until ``ready(answer)`` (bounded wait); return the last answer."""
    deadline = time.monotonic() + STARTUP_SECONDS
    answer: Any = None
    while time.monotonic() < deadline:
        try:
            answer = get(port, path)
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            answer = None
        if answer is not None and ready(answer):
            return answer
        time.sleep(0.5)
    raise AssertionError(
        f"tensorboard did not answer {path} as wanted in {STARTUP_SECONDS} s: {answer}"
    )
