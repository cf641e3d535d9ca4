"""The keras-dnnkit dashboard: a TensorBoard plugin, tested in a real headless Chromium.

Two real runs of different architectures (a dead-ReLU MLP and a batch-norm ELU MLP) are
trained into one log directory; the real ``tensorboard`` console script serves them; the
Debian ``chromium`` driven by Playwright opens TensorBoard's dnnkit tab and reads the page.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug import test as werkzeug_test
from werkzeug import wrappers

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.tensorboard_plugin import DnnkitPlugin
from tests._activation_runs import digits, mlp, train
from tests._tensorboard_server import tensorboard, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEAD_LAYERS = ["hidden_0", "hidden_1", "hidden_2", "output"]
HEALTHY_LAYERS = ["hidden_0", "norm_0", "hidden_1", "norm_1", "hidden_2", "norm_2", "output"]
FINDINGS = {
    "format": "keras-dnnkit-findings",
    "version": 1,
    "findings": [
        {
            "problem": "exploding_gradients",
            "layers": ["hidden_0"],
            "first_step": 5,
            "last_step": 10,
            "status": "resolved",
            "resolved_step": 15,
            "message": "exploding gradients: hidden_0's norm grew 1000x",
            "advice": "clip the gradient norm",
        },
        {
            "problem": "vanishing_gradients",
            "layers": ["hidden_0", "norm_0"],
            "first_step": 10,
            "last_step": 20,
            "status": "current",
            "resolved_step": None,
            "message": "vanishing gradients: hidden_0's gradient norm is 1e-4 of output's",
            "advice": "use He initialization",
        },
    ],
}


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashboard_runs")
    probe = digits().x_train[:64]
    for kind in ("dead", "healthy"):
        run_dir = root / kind
        callbacks: list[Any] = [GradientDiagnostics(run_dir, every_n_steps=5, warn=False)]
        if kind == "dead":  # its findings come back from the text the callbacks logged
            callbacks.append(
                ActivationDiagnostics(run_dir, probe=probe, every_n_steps=5, warn=False)
            )
        train(mlp(kind, depth=3, width=16), callbacks)
    (root / "healthy" / "dnnkit_findings.json").write_text(json.dumps(FINDINGS))
    return root


@pytest.fixture(scope="module")
def server(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with tensorboard(log_dir, tmp_path_factory.mktemp("dashboard_server") / "server.log") as port:
        yield port


@pytest.mark.slow
def test_plugin_is_listed_and_serves_both_runs_apart(server: int) -> None:
    listing = wait_for(server, "/data/plugins_listing", lambda answer: "dnnkit" in answer)
    assert listing["dnnkit"]["enabled"] is True
    assert listing["dnnkit"]["tab_name"] == "keras-dnnkit"
    runs = wait_for(server, "/data/plugin/dnnkit/data", lambda answer: len(answer["runs"]) == 2)
    dead, healthy = runs["runs"]
    assert (dead["run"], healthy["run"]) == ("dead", "healthy")
    assert dead["layers"] == DEAD_LAYERS and healthy["layers"] == HEALTHY_LAYERS
    assert healthy["steps"] == [5, 10, 15, 20]
    norms = healthy["gradient_norm"]["hidden_0"]
    assert [step for step, _ in norms] == [5, 10, 15, 20] and all(v > 0 for _, v in norms)
    assert set(healthy["update_ratio"]) == set(HEALTHY_LAYERS)
    assert [(f["problem"], f["status"]) for f in healthy["findings"]] == [
        ("exploding_gradients", "resolved"),
        ("vanishing_gradients", "current"),
    ]
    assert "dead_units" in {f["problem"] for f in dead["findings"]}  # from the logged text
    assert all(f["status"] == "current" for f in dead["findings"])


@pytest.mark.slow
def test_dashboard_in_headless_chromium(server: int, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    wait_for(server, "/data/plugin/dnnkit/data", lambda answer: len(answer["runs"]) == 2)
    screenshot = tmp_path / "dnnkit_dashboard.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto(f"http://127.0.0.1:{server}/#dnnkit")
            frame = _plugin_frame(page)
            frame.wait_for_selector("#dnnkit[data-ready=true]", timeout=30_000)
            rows = frame.locator("#heatmap [data-layer]")
            assert rows.evaluate_all("rs => rs.map(r => r.dataset.layer)") == HEALTHY_LAYERS
            assert frame.locator("#heatmap [data-layer=hidden_0] rect[data-step]").count() == 4
            profile = frame.locator("#profiles tr[data-layer]")
            assert profile.evaluate_all("rs => rs.map(r => r.dataset.layer)") == HEALTHY_LAYERS
            assert frame.locator("#profiles polyline[data-run]").count() == 4  # 2 charts x 2 runs
            current = frame.locator("#findings [data-status=current]")
            resolved = frame.locator("#findings [data-status=resolved]")
            assert current.evaluate_all("fs => fs.map(f => f.dataset.problem)") == [
                "vanishing_gradients"
            ]
            assert resolved.evaluate_all("fs => fs.map(f => f.dataset.problem)") == [
                "exploding_gradients"
            ]
            frame.select_option("#dnnkit-run", "dead")
            rows = frame.locator("#heatmap [data-layer]")
            assert rows.evaluate_all("rs => rs.map(r => r.dataset.layer)") == DEAD_LAYERS
            problems = frame.locator("#findings [data-problem]")
            assert "dead_units" in problems.evaluate_all("fs => fs.map(f => f.dataset.problem)")
            frame.select_option("#dnnkit-run", "healthy")
            frame.wait_for_selector("#heatmap [data-layer=norm_0]")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"dashboard screenshot: {screenshot}")


def _plugin_frame(page: Any) -> Any:
    """The dnnkit tab's iframe (TensorBoard loads each plugin in one), once it exists."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "plugin_entry" in frame.url and "dnnkit" in frame.url:
                return frame
        page.wait_for_timeout(200)
    raise AssertionError(f"no dnnkit frame among {[f.url for f in page.frames]}")


# ---------------------------------------------------------------- without a server


@pytest.mark.slow
def test_data_route_in_process_with_tensorboards_own_data_provider(log_dir: Path) -> None:
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=str(log_dir),
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(log_dir)),
    )
    plugin = DnnkitPlugin(context)
    assert plugin.is_active()
    client = werkzeug_test.Client(plugin.get_plugin_apps()["/data"], wrappers.Response)
    response = client.get("/data/plugin/dnnkit/data")
    assert response.status_code == 200
    runs = {run["run"]: run for run in json.loads(response.data)["runs"]}
    assert list(runs) == ["dead", "healthy"]
    assert runs["healthy"]["layers"] == HEALTHY_LAYERS and runs["dead"]["layers"] == DEAD_LAYERS
    assert [f["status"] for f in runs["healthy"]["findings"]] == ["resolved", "current"]
    dead_units = [f for f in runs["dead"]["findings"] if f["problem"] == "dead_units"]
    assert dead_units and dead_units[0]["layers"][0].startswith("hidden_")


def test_static_route_serves_only_the_frontend_files(tmp_path: Path) -> None:
    from tensorboard.plugins import base_plugin

    plugin = DnnkitPlugin(base_plugin.TBContext(logdir=str(tmp_path)))
    client = werkzeug_test.Client(plugin.get_plugin_apps()["/static/*"], wrappers.Response)
    script = client.get("/data/plugin/dnnkit/static/index.js")
    assert script.status_code == 200 and b"export async function render" in script.data
    assert "javascript" in script.headers["Content-Type"]
    for path in ("static/../_plugin.py", "static/%2e%2e/_plugin.py", "static/nope.js"):
        assert client.get(f"/data/plugin/dnnkit/{path}").status_code == 404
    assert not plugin.is_active()  # no run written by the diagnostics
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "dnnkit_layers.json").write_text("{}")
    assert plugin.is_active()


def test_frontend_fetches_nothing_from_the_network() -> None:
    static = Path(DnnkitPlugin.__module__.replace(".", os.sep)).parent / "static"
    root = Path(__file__).resolve().parents[1]
    for path in (root / static).iterdir():
        text = path.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), path
        assert "https://" not in text and "//cdn" not in text and "@import" not in text, path
