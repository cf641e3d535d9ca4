"""MC dropout on the bundled digits: better accuracy, and uncertainty that flags the mistakes.

Trains a small dropout network (with batch normalization, which mc_predict leaves in inference
mode), then compares the plain prediction with the mean of 100 Monte-Carlo samples, ranks the
test digits by predictive entropy, and shows that the most uncertain ones are wrong most often.

Run: ``python examples/mc_dropout.py`` (about 20 s) or ``--quick`` (a few seconds).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_dnnkit import mc_predict
from keras_dnnkit.data import load_digits
from keras_dnnkit.uncertainty import (
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_diagram,
)


def build_model(inputs: int, classes: int) -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            layers.Dense(256, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(classes, activation="softmax"),
        ]
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and samples")
    parser.add_argument("--figure", help="save a reliability diagram of the MC predictions here")
    args = parser.parse_args(argv)
    epochs, samples = (6, 50) if args.quick else (30, 100)

    keras.utils.set_random_seed(0)
    split = load_digits()
    # Train on train + validation: the example has no hyperparameters to tune.
    x_train = np.concatenate([split.x_train, split.x_valid])
    y_train = np.concatenate([split.y_train, split.y_valid])
    model = build_model(x_train.shape[1], split.num_classes)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)

    plain = model.predict(split.x_test, verbose=0)
    result = mc_predict(model, split.x_test, samples=samples, seed=0)
    assert result.predicted_class is not None and result.entropy is not None
    y = split.y_test
    plain_accuracy = float(np.mean(plain.argmax(axis=1) == y))
    mc_accuracy = float(np.mean(result.predicted_class == y))
    print(f"test digits: {len(y)}, MC samples: {samples}, epochs: {epochs}")
    print(f"{'':>12} {'accuracy':>9} {'ECE':>7} {'NLL':>7} {'Brier':>7}")
    for name, probabilities in (("plain", plain), ("MC dropout", result.mean)):
        print(
            f"{name:>12} {np.mean(probabilities.argmax(axis=1) == y):9.4f} "
            f"{expected_calibration_error(probabilities, y):7.4f} "
            f"{negative_log_likelihood(probabilities, y):7.4f} "
            f"{brier_score(probabilities, y):7.4f}"
        )

    # Error rate per fifth of the test digits, from least to most uncertain.
    order = np.argsort(result.entropy)
    wrong = result.predicted_class != y
    fifths = [float(np.mean(wrong[part])) for part in np.array_split(order, 5)]
    print("error rate by predictive-entropy fifth (least -> most uncertain):")
    print("  " + "  ".join(f"{rate:.3f}" for rate in fifths))
    most_uncertain_worst = fifths[-1] == max(fifths) and fifths[-1] > fifths[0]
    errors_in_top = float(np.sum(wrong[order[-len(y) // 5 :]]) / max(1, np.sum(wrong)))
    print(f"share of all mistakes among the 20% most uncertain digits: {errors_in_top:.2f}")
    print(f"MC accuracy >= plain accuracy: {mc_accuracy >= plain_accuracy}")
    print(f"most uncertain fifth has the highest error rate: {most_uncertain_worst}")
    if args.figure:
        reliability_diagram(result.mean, y, title="MC dropout").savefig(args.figure)
        print(f"reliability diagram: {args.figure}")
    return {
        "plain_accuracy": plain_accuracy,
        "mc_accuracy": mc_accuracy,
        "top_fifth_error_rate": fifths[-1],
        "share_of_mistakes_in_top_fifth": errors_in_top,
    }


if __name__ == "__main__":
    main()
