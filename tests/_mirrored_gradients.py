"""Run in a fresh process: gradient statistics under MirroredStrategy (2 logical CPUs) vs one device.

Prints one JSON line: {"single": {tag: value}, "mirrored": {tag: value}} at the logged step.
"""

import json
import sys
import tempfile

import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402 -- logical devices must be configured before Keras touches TF

from keras_dnnkit.callbacks import GradientDiagnostics  # noqa: E402
from keras_dnnkit.data import load_digits  # noqa: E402
from keras_dnnkit.diagnostics._events import read_scalars  # noqa: E402

STEPS = 3


def build() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="elu", name="hidden")(inputs)
    outputs = keras.layers.Dense(10, name="out")(hidden)
    model = keras.Model(inputs, outputs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.05, clipnorm=float(sys.argv[1])), loss)
    return model


def run(strategy: tf.distribute.Strategy, weights: list | None) -> tuple[dict, list]:
    split = load_digits()
    x, y = split.x_train[:64], split.y_train[:64]
    with strategy.scope():
        model = build()
    if weights is not None:
        model.set_weights(weights)
    start = model.get_weights()
    log_dir = tempfile.mkdtemp()
    callback = GradientDiagnostics(log_dir, every_n_steps=STEPS)
    model.fit(x, y, batch_size=64, epochs=STEPS, shuffle=False, verbose=0, callbacks=[callback])
    scalars = read_scalars(log_dir)
    return {tag: points[-1][1] for tag, points in scalars.items() if points[-1][0] == STEPS}, start


single, start = run(tf.distribute.get_strategy(), None)
mirrored, _ = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), start)
print(json.dumps({"single": single, "mirrored": mirrored}))
