"""The real ``tensorboard`` server reads back what the diagnostics callbacks wrote."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._tensorboard import CHARTS, MAX_LINES_PER_CHART, layout_proto
from tests._activation_runs import digits, mlp, train
from tests._tensorboard_server import STARTUP_SECONDS, get, tensorboard, wait_for


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("tensorboard_run")
    callbacks = [
        GradientDiagnostics(log_dir, every_n_steps=5, histogram_every_n_steps=10, warn=False),
        ActivationDiagnostics(log_dir, probe=digits().x_train[:64], every_n_steps=5, warn=False),
    ]
    train(mlp("dead", depth=3, width=16), callbacks)
    return log_dir


@pytest.fixture(scope="module")
def server(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    output = tmp_path_factory.mktemp("tensorboard_output") / "server.log"
    with tensorboard(log_dir, output) as port:
        yield port


def _wait_for_tags(port: int, wanted: set[str]) -> dict[str, Any]:
    """Poll the scalars plugin until every wanted tag is served (bounded wait)."""
    tags: dict[str, Any] = wait_for(
        port,
        "/data/plugin/scalars/tags",
        lambda tags: wanted <= {tag for run in tags.values() for tag in run},
    )
    return tags


@pytest.mark.slow
def test_gradient_and_activation_tags_are_served(server: int) -> None:
    wanted = {
        _tags.layer_tag(_tags.GRADIENT_NORM, 0, "hidden_0"),
        _tags.layer_tag(_tags.GRADIENT_FLOW, 0, "hidden_0"),
        _tags.layer_tag(_tags.UPDATE_RATIO, 3, "output"),
        _tags.GRADIENT_GLOBAL_NORM,
        _tags.layer_tag(_tags.ACTIVATION_VARIANCE, 0, "hidden_0"),
        _tags.layer_tag(_tags.ACTIVATION_VARIANCE_RATIO, 1, "hidden_1"),
        _tags.layer_tag(_tags.DEAD_FRACTION, 2, "hidden_2"),
    }
    tags = _wait_for_tags(server, wanted)
    assert list(tags) == ["."]  # one run: the log dir itself
    series = get(
        server,
        "/data/plugin/scalars/scalars?run=.&tag="
        + urllib.request.quote(_tags.layer_tag(_tags.DEAD_FRACTION, 1, "hidden_1")),
    )
    steps = [point[1] for point in series]
    assert steps == [0, 5, 10, 15, 20]  # [wall_time, step, value] at the optimizer's steps
    assert all(0.0 <= point[2] <= 1.0 for point in series)


@pytest.mark.slow
def test_custom_scalars_layout_is_served(server: int) -> None:
    _wait_for_tags(server, {_tags.GRADIENT_GLOBAL_NORM})
    layout = get(server, "/data/plugin/custom_scalars/layout")
    charts = [chart for category in layout["category"] for chart in category["chart"]]
    patterns = [tag for chart in charts for tag in chart["multiline"]["tag"]]
    layers = "hidden_0|hidden_1|hidden_2|output"
    assert f"^gradients/norm/(?:{layers})$" in patterns
    assert f"^updates/ratio/(?:{layers})$" in patterns


@pytest.mark.slow
def test_findings_text_is_served(server: int) -> None:
    _wait_for_tags(server, {_tags.GRADIENT_GLOBAL_NORM})
    text_tags = get(server, "/data/plugin/text/tags")
    assert _tags.FINDINGS in text_tags["."]


@pytest.mark.slow
def test_gradient_histograms_are_served(server: int) -> None:
    _wait_for_tags(server, {_tags.GRADIENT_GLOBAL_NORM})
    tag = _tags.layer_tag(_tags.GRADIENT_HISTOGRAM, 0, "hidden_0")
    deadline = time.monotonic() + STARTUP_SECONDS
    while tag not in get(server, "/data/plugin/histograms/tags").get(".", {}):
        assert time.monotonic() < deadline, "no gradient histogram served"
        time.sleep(0.5)
    series = get(
        server, "/data/plugin/histograms/histograms?run=.&tag=" + urllib.request.quote(tag)
    )
    assert [point[1] for point in series] == [10, 20]  # [wall_time, step, buckets]
    for _, _, buckets in series:
        assert all(left <= right for left, right, _ in buckets)
        # the default sample: 1000 of hidden_0's 64 * 16 + 16 gradient values
        assert sum(count for _, _, count in buckets) == 1000


def test_layout_charts_hold_at_most_twelve_layers_each_layer_once_normalization_apart() -> None:
    names = [n for i in range(1, 21) for n in (f"hidden_{i:02d}", f"batch_norm_{i:02d}")]
    names.append("output")
    layout = layout_proto(names)
    for category, (prefix, _, _) in zip(layout.category, CHARTS, strict=True):
        charted = []
        for chart in category.chart:
            members = [n for n in names if re.fullmatch(chart.multiline.tag[0], f"{prefix}/{n}")]
            assert 1 <= len(members) <= MAX_LINES_PER_CHART, chart.title
            assert len({n.startswith("batch_norm") for n in members}) == 1, chart.title
            charted += members
        assert sorted(charted) == sorted(names)  # every layer in exactly one chart
    assert len(layout.category[0].chart) == 4  # 21 weight layers in 2, 20 batch norms in 2
