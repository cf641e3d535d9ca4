"""Write gradient statistics to TensorBoard: scalars, histograms, text and a chart layout.

All scalars of one logged step go into one ``Summary`` written by one op, so logging a few
hundred tags costs about as much as logging one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._layer_order import write_layer_order

FROZEN_LAYERS = "gradients/frozen_layers"  # text, written once at train start
PER_VARIABLE = _tags.PER_VARIABLE

MAX_LINES_PER_CHART = 12
"""The most layers one custom-scalars chart draws (more make an unreadable tooltip)."""

CHARTS: tuple[tuple[str, str, str], ...] = (
    (
        _tags.GRADIENT_NORM,
        "keras-dnnkit: gradient norm per layer",
        "gradient norm",
    ),
    (
        _tags.UPDATE_RATIO,
        "keras-dnnkit: update / weight ratio per layer (about 1e-3 is healthy)",
        "update / weight ratio",
    ),
    (
        _tags.GRADIENT_FLOW,
        "keras-dnnkit: gradient norm relative to the last layer",
        "relative gradient norm",
    ),
)
"""(tag prefix, category title, chart title) of the custom-scalars layout."""


def chunks(names: Sequence[str], size: int = MAX_LINES_PER_CHART) -> list[list[str]]:
    """Split ``names`` into consecutive groups of at most ``size``, as even as possible.

    Example:
        >>> [len(c) for c in chunks([f"l{i}" for i in range(21)])]
        [11, 10]
    """
    if not names:
        return []
    count = -(-len(names) // size)
    base, extra = divmod(len(names), count)
    groups, start = [], 0
    for index in range(count):
        end = start + base + (index < extra)
        groups.append(list(names[start:end]))
        start = end
    return groups


def is_normalization(layer_name: str) -> bool:
    """Whether a layer's name says it normalizes (batch_norm_3, layer_normalization, bn_1).

    Normalization layers' gradients (of their scale and offset) sit about ten times below
    the weight layers' around them; charted together they make a second band.

    Example:
        >>> [is_normalization(n) for n in ("batch_norm_01", "bn_2", "dense", "output")]
        [True, True, False, False]
    """
    name = layer_name.rsplit(".", 1)[-1].lower()
    return "norm" in name or re.fullmatch(r"bn(_\d+)?", name) is not None


def layout_proto(layer_names: Sequence[str]) -> Any:
    """The custom-scalars layout: per statistic, charts of at most 12 layers each.

    Weight layers and normalization layers are charted apart (their gradients differ by
    about ten times), each in runs of consecutive layers, input to output. Each chart's tag
    regex names its layers exactly, so a chart holds one line per layer per run.
    TensorBoard's custom-scalars charts cannot be told to open on a log axis; the log scale
    is the toggle under each chart.

    Example:
        >>> names = [f"hidden_{i:02d}" for i in range(1, 21)] + ["output"]
        >>> [c.title for c in layout_proto(names).category[0].chart]
        ['gradient norm: hidden_01 ... hidden_11 (11 of 21 layers)', 'gradient norm: hidden_12 ... output (10 of 21 layers)']
        >>> layout = layout_proto(["dense", "batch_norm", "dense_1", "batch_norm_1", "output"])
        >>> [c.title for c in layout.category[0].chart]
        ['gradient norm: dense ... output (3 of 3 layers)', 'gradient norm: batch_norm ... batch_norm_1 (2 of 2 normalization layers)']
        >>> layout.category[0].chart[0].multiline.tag[0]
        '^gradients/norm/(?:dense|dense_1|output)$'
    """  # noqa: E501 -- a doctest's expected output is one line
    from tensorboard.plugins.custom_scalar import layout_pb2

    names = [_tags.layer_name(name) for name in layer_names]
    families = [
        ([n for n in names if not is_normalization(n)], "layers"),
        ([n for n in names if is_normalization(n)], "normalization layers"),
    ]
    groups = [
        (group, len(members), kind) for members, kind in families for group in chunks(members)
    ]
    categories = []
    for prefix, category_title, chart_title in CHARTS:
        charts = []
        for group, total, kind in groups:
            pattern = f"^{re.escape(prefix)}/(?:{'|'.join(re.escape(n) for n in group)})$"
            span = group[0] if len(group) == 1 else f"{group[0]} ... {group[-1]}"
            title = f"{chart_title}: {span} ({len(group)} of {total} {kind})"
            content = layout_pb2.MultilineChartContent(tag=[pattern])
            charts.append(layout_pb2.Chart(title=title, multiline=content))
        categories.append(layout_pb2.Category(title=category_title, chart=charts))
    return layout_pb2.Layout(category=categories)


class GradientBoard:
    """One run's TensorBoard writer for gradient diagnostics.

    Args:
        log_dir: directory of the event files.
        scalar_tags: the tags of the values passed to :meth:`scalars`, in that order.

    Example:
        >>> import tempfile
        >>> from keras_dnnkit.diagnostics._events import read_scalars
        >>> log_dir = tempfile.mkdtemp()
        >>> board = GradientBoard(log_dir, ["gradients/global_norm"])
        >>> board.scalars(10, [0.25]); board.close()
        >>> read_scalars(log_dir)
        {'gradients/global_norm': [(10, 0.25)]}
    """

    def __init__(self, log_dir: str | os.PathLike[str], scalar_tags: Sequence[str]) -> None:
        self.log_dir = os.fspath(log_dir)
        self.scalar_tags = list(scalar_tags)
        self._writer = tf.summary.create_file_writer(self.log_dir)

    def scalars(self, step: int, values: Sequence[float] | np.ndarray) -> None:
        """Write one value per tag of ``scalar_tags`` at ``step``."""
        array = np.asarray(values, dtype=np.float32)
        if array.shape != (len(self.scalar_tags),):
            raise ValueError(
                f"Expected {len(self.scalar_tags)} values, one per tag. "
                f"Received: {array.shape[0] if array.ndim else 'a scalar'}."
            )
        from tensorboard.compat.proto import summary_pb2

        summary = summary_pb2.Summary(
            value=[
                summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
                for tag, value in zip(self.scalar_tags, array, strict=True)
            ]
        )
        self._write(summary, step)  # one write for every tag: no per-tag op, no tracing

    @property
    def layers(self) -> list[str]:
        """The measured layers' names, input to output (from the gradient-norm tags)."""
        parsed = (_tags.parse_layer_tag(tag) for tag in self.scalar_tags)
        return [p[1] for p in parsed if p is not None and p[0] == _tags.GRADIENT_NORM]

    def layout(self) -> None:
        """Write the custom-scalars layout (at step 0) and the run's layer order."""
        from tensorboard.plugins.custom_scalar import summary as custom_scalar

        layers = self.layers
        write_layer_order(self.log_dir, layers)
        self._write(custom_scalar.pb(layout_proto(layers)), step=0)

    def text(self, tag: str, message: str, step: int) -> None:
        """Write a text summary."""
        with self._writer.as_default():
            tf.summary.text(tag, message, step=step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        """Write one scalar (for rare events such as the first non-finite step)."""
        with self._writer.as_default():
            tf.summary.scalar(tag, value, step=step)

    def histograms(self, step: int, samples: Sequence[tuple[str, np.ndarray]]) -> None:
        """Write one histogram per ``(tag, values)``, all in one write.

        Binned on the host with TensorBoard's own ``histogram_pb`` (``tf.summary.histogram``
        traces a function per call: about 0.3 s the first time, 80 ms for 21 layers after
        that). NaN and Inf values are left out of the bins; the non-finite check reports them.
        """
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.histogram import summary_v2 as histogram_summary

        summary = summary_pb2.Summary()
        for tag, values in samples:
            finite = np.asarray(values, dtype=np.float64).ravel()
            finite = finite[np.isfinite(finite)]
            if len(finite):
                summary.value.extend(histogram_summary.histogram_pb(tag, finite).value)
        if summary.value:
            self._write(summary, step)

    def _write(self, summary: Any, step: int) -> None:
        """Write a ready ``Summary`` protobuf (any number of values) in one op."""
        with self._writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)

    def flush(self) -> None:
        """Flush pending events to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()


def scalar_tags(
    layer_paths: Sequence[str],
    variable_paths: Sequence[tuple[int, str]] | None = None,
    momentum: bool = False,
) -> list[str]:
    """The ordered scalar tags of one logged step (see ``GradientDiagnostics``).

    Example:
        >>> scalar_tags(["dense", "out"])[:3]
        ['gradients/norm/dense', 'gradients/norm/out', 'gradients/mean_abs/dense']
    """
    prefixes = (
        _tags.GRADIENT_NORM,
        _tags.GRADIENT_MEAN_ABS,
        _tags.GRADIENT_MAX_ABS,
        _tags.GRADIENT_FLOW,
        _tags.UPDATE_RATIO,
    )
    tags = [_tags.layer_tag(p, i, path) for p in prefixes for i, path in enumerate(layer_paths)]
    for prefix in prefixes[:3] + prefixes[4:]:
        for index, path in variable_paths or ():
            tags.append(_tags.layer_tag(prefix + PER_VARIABLE, index, path))
    tags += [_tags.GRADIENT_GLOBAL_NORM, _tags.LEARNING_RATE]
    return [*tags, _tags.MOMENTUM] if momentum else tags
