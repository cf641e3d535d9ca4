"""The ``dnnkit`` TensorBoard plugin: routes that return JSON, and the static frontend."""

from __future__ import annotations

import os
from typing import Any

from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.data import provider
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from keras_dnnkit.diagnostics._findings_file import FILE_NAME as FINDINGS_FILE
from keras_dnnkit.diagnostics._layer_order import FILE_NAME, read_layer_order
from keras_dnnkit.tensorboard_plugin._data import (
    layer_tags,
    read_findings_file,
    run_document,
)

PLUGIN_NAME = "dnnkit"
STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
STATIC_FILES = {"index.js": "text/javascript", "style.css": "text/css"}
"""The frontend's files and their content types: nothing else is served."""

_DOWNSAMPLE = 2000  # points per series; the diagnostics log a few dozen steps per run
_MARKERS = frozenset({FILE_NAME, FINDINGS_FILE})


class DnnkitPlugin(base_plugin.TBPlugin):
    """keras-dnnkit's dashboard: gradient flow per layer and step, profiles, findings.

    Routes (under ``/data/plugin/dnnkit``): ``/data`` (every run with gradient
    diagnostics: layers input to output, gradient norms and update ratios per layer and
    step, findings), ``/static/index.js`` and ``/static/style.css`` (the frontend).

    Args:
        context: TensorBoard's ``TBContext`` (its data provider and log directory).

    Example:
        >>> from tensorboard.plugins import base_plugin
        >>> plugin = DnnkitPlugin(base_plugin.TBContext(logdir=""))
        >>> sorted(plugin.get_plugin_apps()), plugin.is_active()
        (['/data', '/static/*'], False)
    """

    plugin_name = PLUGIN_NAME

    def __init__(self, context: Any) -> None:
        self._data_provider = context.data_provider
        self._logdir = context.logdir or ""
        self._serve_static = wrappers.Request.application(self._static_response)
        self._serve_data = wrappers.Request.application(self._data_response)

    def get_plugin_apps(self) -> dict[str, Any]:
        """Return the plugin's routes."""
        return {"/data": self._serve_data, "/static/*": self._serve_static}

    def is_active(self) -> bool:
        """Whether the log directory holds a run written by the diagnostics callbacks."""
        if not self._logdir or not os.path.isdir(self._logdir):
            return False
        for _root, _dirs, files in os.walk(self._logdir):
            if _MARKERS & set(files):
                return True
        return False

    def frontend_metadata(self) -> Any:
        """The frontend: an ES module, in a tab named keras-dnnkit."""
        return base_plugin.FrontendMetadata(
            es_module_path="/static/index.js", tab_name="keras-dnnkit"
        )

    # ------------------------------------------------------------------ routes
    def _static_response(self, request: wrappers.Request) -> wrappers.Response:
        name = request.path.rsplit("/static/", 1)[-1]
        if name not in STATIC_FILES:  # a fixed list: no path from the request reaches open()
            response: wrappers.Response = http_util.Respond(
                request, "Not found", "text/plain", code=404
            )
            return response
        with open(os.path.join(STATIC_DIR, name), "rb") as file:
            response = http_util.Respond(request, file.read(), content_type=STATIC_FILES[name])
        return response

    def _data_response(self, request: wrappers.Request) -> wrappers.Response:
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        response: wrappers.Response = http_util.Respond(
            request, {"runs": self.runs(ctx, experiment)}, "application/json"
        )
        return response

    # ------------------------------------------------------------------ data
    def runs(self, ctx: Any, experiment: str) -> list[dict[str, Any]]:
        """Every run with gradient-norm tags, as :func:`run_document` shapes it."""
        listing = self._data_provider.list_scalars(
            ctx, experiment_id=experiment, plugin_name="scalars"
        )
        wanted = {run: layer_tags(tags) for run, tags in listing.items()}
        wanted = {run: tags for run, tags in wanted.items() if tags}
        if not wanted:
            return []
        scalars = self._data_provider.read_scalars(
            ctx,
            experiment_id=experiment,
            plugin_name="scalars",
            downsample=_DOWNSAMPLE,
            run_tag_filter=provider.RunTagFilter(
                runs=list(wanted), tags=sorted({t for tags in wanted.values() for t in tags})
            ),
        )
        documents = []
        for run in sorted(wanted):
            series = {
                tag: [(datum.step, datum.value) for datum in data]
                for tag, data in scalars.get(run, {}).items()
            }
            run_dir = os.path.join(self._logdir, run) if self._logdir else ""
            order = read_layer_order(run_dir) if run_dir else None
            document = run_document(run, series, order, [])
            document["findings"] = read_findings_file(run_dir) if run_dir else []
            documents.append(document)
        return documents
