"""Write gradient statistics to TensorBoard: scalars, histograms, text and a chart layout.

All scalars of one logged step go into one ``Summary`` written by one op, so logging a few
hundred tags costs about as much as logging one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit.diagnostics import _tags

FROZEN_LAYERS = "gradients/frozen_layers"  # text, written once at train start
PER_VARIABLE = "/per_variable"  # suffix of a prefix for per-variable tags

LAYOUT_CATEGORY = "keras-dnnkit gradients"
FLOW_CHART = "gradient flow: gradient norm per layer (switch the y axis to log in the chart)"
UPDATE_CHART = "update / weight ratio per layer (about 1e-3 is healthy; log axis helps)"
RELATIVE_CHART = "gradient norm relative to the output layer"


def layout_proto() -> Any:
    """The custom-scalars layout: gradient flow, update ratios, relative flow.

    TensorBoard's custom-scalars charts cannot be told to open on a log axis; the log
    scale is the toggle under each chart.

    Example:
        >>> [c.title.split(":")[0] for c in layout_proto().category[0].chart][:1]
        ['gradient flow']
    """
    from tensorboard.plugins.custom_scalar import layout_pb2

    def chart(title: str, prefix: str) -> Any:
        content = layout_pb2.MultilineChartContent(tag=[f"^{prefix}/.*"])
        return layout_pb2.Chart(title=title, multiline=content)

    category = layout_pb2.Category(
        title=LAYOUT_CATEGORY,
        chart=[
            chart(FLOW_CHART, _tags.GRADIENT_NORM),
            chart(UPDATE_CHART, _tags.UPDATE_RATIO),
            chart(RELATIVE_CHART, _tags.GRADIENT_FLOW),
        ],
    )
    return layout_pb2.Layout(category=[category])


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

    def layout(self) -> None:
        """Write the custom-scalars layout (at step 0)."""
        from tensorboard.plugins.custom_scalar import summary as custom_scalar

        self._write(custom_scalar.pb(layout_proto()), step=0)

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
        ['gradients/norm/00_dense', 'gradients/norm/01_out', 'gradients/mean_abs/00_dense']
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
