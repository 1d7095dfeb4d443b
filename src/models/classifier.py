"""The lesson's binary classifier: a ReLU stack whose output goes through a sigmoid, trained on binary cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)

from src.models.tabular_module import TabularModule


class BinaryClassifier(TabularModule):
    target_dtype = torch.long

    def __init__(self, n_features: int, hidden: list[int], optimizer, threshold: float = 0.5, **options) -> None:
        self.threshold = threshold
        super().__init__(n_features, hidden, optimizer, **options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))

    def make_metrics(self) -> MetricCollection:
        t = self.threshold
        return MetricCollection(
            {
                "acc": BinaryAccuracy(threshold=t),
                "precision": BinaryPrecision(threshold=t),
                "recall": BinaryRecall(threshold=t),
                "f1": BinaryF1Score(threshold=t),
                "auroc": BinaryAUROC(),
                "confusion_matrix": BinaryConfusionMatrix(threshold=t),
            },
            compute_groups=False,
        )

    def loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(preds, target)
