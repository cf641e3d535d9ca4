"""Run in a fresh process: the stop drill under MirroredStrategy (2 logical CPUs) and one device.

The drill: ``on_nonfinite="stop"`` on a network driven to NaN gradients.

Prints one JSON line: {strategy: [steps applied, weights all finite, [nonfinite step, layer]]}.
"""

import json
import tempfile
import warnings

import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402
from test_gradient_diagnostics import explode_model  # noqa: E402

from keras_dnnkit.callbacks import GradientDiagnostics  # noqa: E402
from keras_dnnkit.data import load_digits  # noqa: E402

split = load_digits()
x, y = split.x_train[:256], split.y_train[:256]
out = {}
for name, strategy in [
    ("single", tf.distribute.get_strategy()),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    with strategy.scope():
        model = explode_model()
    callback = GradientDiagnostics(tempfile.mkdtemp(), every_n_steps=5, on_nonfinite="stop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=256, epochs=60, shuffle=False, verbose=0, callbacks=[callback])
    found = [f for f in callback.findings if f.problem == "nonfinite_gradients"]
    out[name] = [
        int(model.optimizer.iterations.numpy()),
        all(bool(np.isfinite(w).all()) for w in model.get_weights()),
        [found[0].step, found[0].layer] if found else None,
    ]
print(json.dumps(out))
