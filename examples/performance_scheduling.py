"""Performance scheduling on top of a schedule: cut the rate when validation loss plateaus.

Keras' own ``ReduceLROnPlateau`` raises ``TypeError`` when the optimizer's rate is a schedule.
``keras_dnnkit.callbacks.ReduceLROnPlateau`` (registry name ``reduce_lr_on_plateau``) scales
the schedule instead: the applied rate is ``schedule(step) * factor ** k`` after ``k``
reductions. Here the schedule is exponential decay (registry name ``exponential``).

    python examples/performance_scheduling.py [--epochs 15] [--patience 2] [--quick]
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import keras

import keras_dnnkit
from keras_dnnkit.data import load_digits


class PrintRate(keras.callbacks.Callback):
    """Print each epoch's validation loss and the learning rate applied."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        print(
            f"epoch {epoch + 1:>2}  val_loss {logs['val_loss']:.4f}  "
            f"learning rate {float(logs['learning_rate']):.3e}"
        )


def keras_refuses_schedules(schedule: Any, x: Any, y: Any) -> str:
    """What Keras' own ReduceLROnPlateau does with a schedule (it raises TypeError)."""
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    try:
        model.fit(
            x[:64],
            keras.ops.one_hot(y[:64], 10),
            validation_data=(x[:64], keras.ops.one_hot(y[:64], 10)),
            epochs=2,  # the second epoch cannot improve by min_delta: Keras tries to reduce
            verbose=0,
            callbacks=[keras.callbacks.ReduceLROnPlateau(patience=0, min_delta=10.0)],
        )
    except TypeError as error:
        return f"TypeError: {str(error).splitlines()[0][:80]}"
    return "no error"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--factor", type=float, default=0.5)
    parser.add_argument("--min-delta", type=float, default=1e-3, help="relative improvement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="4 epochs")
    args = parser.parse_args()
    epochs = 4 if args.quick else args.epochs
    split = load_digits(seed=args.seed)
    keras.utils.set_random_seed(args.seed)
    steps_per_epoch = math.ceil(len(split.x_train) / 32)
    schedule = keras_dnnkit.get(
        "schedule", "exponential", initial_learning_rate=0.05, decay_steps=20 * steps_per_epoch
    )
    refusal = keras_refuses_schedules(schedule, split.x_train, split.y_train)
    print(f"Keras' ReduceLROnPlateau with a schedule: {refusal}")

    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(3):
        model.add(
            keras.layers.Dense(
                100,
                activation=keras_dnnkit.get("activation", "elu"),
                kernel_initializer=keras_dnnkit.get("initializer", "he_normal"),
            )
        )
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras_dnnkit.get("optimizer", "momentum", learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    plateau = keras_dnnkit.get(
        "callback",
        "reduce_lr_on_plateau",
        monitor="val_loss",
        factor=args.factor,
        patience=args.patience,
        min_delta=args.min_delta,
        threshold_mode="rel",
    )
    model.fit(
        split.x_train,
        split.y_train,
        validation_data=(split.x_valid, split.y_valid),
        epochs=epochs,
        batch_size=32,
        callbacks=[plateau, PrintRate()],
        verbose=0,
    )
    step = int(model.optimizer.iterations.numpy())
    scheduled = float(schedule(step))
    applied = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    reductions = round(math.log(applied / scheduled) / math.log(args.factor))
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    print(
        f"after {step} steps: schedule alone {scheduled:.3e}, applied {applied:.3e} "
        f"= schedule x {args.factor}^{reductions} ({reductions} reductions)"
    )
    print(f"validation accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
