"""Read TensorBoard event files back: scalars and text, as plain Python values."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np


def event_files(log_dir: str | os.PathLike[str]) -> list[str]:
    """Every event file under ``log_dir`` (recursively), in a stable order.

    Example:
        >>> import tempfile
        >>> event_files(tempfile.mkdtemp())
        []
    """
    found = []
    for root, _dirs, files in os.walk(os.fspath(log_dir)):
        found += [os.path.join(root, f) for f in files if "tfevents" in f]
    return sorted(found)


def _values(log_dir: str | os.PathLike[str]) -> Iterator[tuple[int, Any, str]]:
    import tensorflow as tf

    for path in event_files(log_dir):
        # TFRecordDataset is what TensorFlow recommends over the deprecated summary_iterator.
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                yield int(event.step), value, plugin


def read_scalars(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """Return ``{tag: [(step, value), ...]}`` of every scalar under ``log_dir``, by step.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> log_dir = tempfile.mkdtemp()
        >>> with tf.summary.create_file_writer(log_dir).as_default():
        ...     _ = tf.summary.scalar("loss", 0.5, step=3)
        >>> read_scalars(log_dir)
        {'loss': [(3, 0.5)]}
    """
    import tensorflow as tf

    scalars: dict[str, list[tuple[int, float]]] = {}
    for step, value, plugin in _values(log_dir):
        if value.HasField("simple_value"):
            number = float(value.simple_value)
        elif plugin == "scalars":
            number = float(np.asarray(tf.make_ndarray(value.tensor)).reshape(()))
        else:
            continue
        scalars.setdefault(value.tag, []).append((step, number))
    return {tag: sorted(points, key=lambda p: p[0]) for tag, points in scalars.items()}


def read_texts(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, str]]]:
    """Return ``{tag: [(step, text), ...]}`` of every text summary under ``log_dir``.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> log_dir = tempfile.mkdtemp()
        >>> with tf.summary.create_file_writer(log_dir).as_default():
        ...     _ = tf.summary.text("findings", "all good", step=1)
        >>> read_texts(log_dir)
        {'findings': [(1, 'all good')]}
    """
    import tensorflow as tf

    texts: dict[str, list[tuple[int, str]]] = {}
    for step, value, plugin in _values(log_dir):
        if plugin == "text":
            for item in np.asarray(tf.make_ndarray(value.tensor)).reshape(-1):
                text = item.decode() if isinstance(item, bytes) else str(item)
                texts.setdefault(value.tag, []).append((step, text))
    return {tag: sorted(items, key=lambda p: p[0]) for tag, items in texts.items()}


def read_histogram_tags(log_dir: str | os.PathLike[str]) -> dict[str, list[int]]:
    """Return ``{tag: [step, ...]}`` of every histogram under ``log_dir``.

    Example:
        >>> import tempfile
        >>> read_histogram_tags(tempfile.mkdtemp())
        {}
    """
    steps: dict[str, list[int]] = {}
    for step, value, plugin in _values(log_dir):
        if plugin == "histograms" or value.HasField("histo"):
            steps.setdefault(value.tag, []).append(step)
    return {tag: sorted(s) for tag, s in steps.items()}
