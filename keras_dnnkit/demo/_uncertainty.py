"""MC dropout on the demo's recommended model: does its uncertainty point at its mistakes?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MCDropoutSummary:
    """Plain vs MC-dropout test accuracy, and how entropy separates right from wrong.

    Attributes:
        plain_accuracy: accuracy of one deterministic forward pass (dropout off).
        mc_accuracy: accuracy of the mean over the MC samples.
        entropy_correct: mean predictive entropy (nats) where the MC prediction is right.
        entropy_wrong: the same where it is wrong (NaN if it is never wrong).
        most_uncertain: ``(test index, true label, predicted label, confidence, entropy)``
            of the most uncertain test examples, most uncertain first.
        samples: MC samples per example.

    Example:
        >>> summary = MCDropoutSummary(0.9, 0.91, 0.2, 1.1, ((4, 3, 8, 0.41, 1.52),), 100)
        >>> summary.lines()[0]
        'test accuracy: plain 0.900  MC dropout (100 samples) 0.910'
    """

    plain_accuracy: float
    mc_accuracy: float
    entropy_correct: float
    entropy_wrong: float
    most_uncertain: tuple[tuple[int, int, int, float, float], ...]
    samples: int

    def lines(self) -> list[str]:
        """Return the summary as printable lines."""
        lines = [
            f"test accuracy: plain {self.plain_accuracy:.3f}  "
            f"MC dropout ({self.samples} samples) {self.mc_accuracy:.3f}",
            f"mean predictive entropy: correct {self.entropy_correct:.3f}  "
            f"wrong {self.entropy_wrong:.3f} (nats)",
            "most uncertain test examples:",
        ]
        for index, label, predicted, confidence, entropy in self.most_uncertain:
            verdict = "right" if label == predicted else "WRONG"
            lines.append(
                f"  #{index:<5} true {label}  predicted {predicted}  confidence {confidence:.2f}  "
                f"entropy {entropy:.3f}  {verdict}"
            )
        return lines


def summarize_mc_dropout(
    model: Any, x: np.ndarray, y: np.ndarray, *, samples: int = 100, top: int = 5, seed: int = 0
) -> MCDropoutSummary:
    """Run :func:`keras_dnnkit.mc_predict` on ``x`` and compare it with plain prediction.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
        ...     keras.layers.Dense(3, activation="softmax")])
        >>> x, y = np.ones((6, 4), "float32"), np.zeros(6, "int32")
        >>> len(summarize_mc_dropout(model, x, y, samples=5, top=2).most_uncertain)
        2
    """
    from keras_dnnkit.uncertainty import MCPrediction, mc_predict

    plain = np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1)
    result = mc_predict(model, x, samples=samples, seed=seed)
    assert isinstance(result, MCPrediction)  # one output: not a dict of results
    predicted = np.asarray(result.predicted_class)
    entropy = np.asarray(result.entropy)
    confidence = np.asarray(result.confidence)
    correct = predicted == y
    order = np.argsort(-entropy, kind="stable")[:top]
    return MCDropoutSummary(
        plain_accuracy=float(np.mean(plain == y)),
        mc_accuracy=float(np.mean(correct)),
        entropy_correct=float(entropy[correct].mean()) if correct.any() else float("nan"),
        entropy_wrong=float(entropy[~correct].mean()) if (~correct).any() else float("nan"),
        most_uncertain=tuple(
            (int(i), int(y[i]), int(predicted[i]), float(confidence[i]), float(entropy[i]))
            for i in order
        ),
        samples=samples,
    )
