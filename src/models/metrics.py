"""The metrics each task reports: task modules, the LightGBM baseline and ensembles all score with these."""

from __future__ import annotations

import torch
import torchmetrics
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)
from torchmetrics.utilities import dim_zero_cat

# metrics with more than one value: reported as matrices in metrics.json, never monitored
NON_SCALAR = ("confusion_matrix", "precision_per_class", "recall_per_class")


def task_metrics(task: str, *, threshold: float = 0.5, n_classes: int = 2) -> MetricCollection:
    """Every metric a run of `task` reports, unprefixed, on predictions (probabilities for classifiers) and targets."""
    if task == "regression":
        metrics = {
            "mse": MeanSquaredError(),
            "rmse": MeanSquaredError(squared=False),
            "mae": MeanAbsoluteError(),
            "r2": R2Score(),
        }
    elif task == "binary":
        metrics = {
            "acc": BinaryAccuracy(threshold=threshold),
            "precision": BinaryPrecision(threshold=threshold),
            "recall": BinaryRecall(threshold=threshold),
            "f1": BinaryF1Score(threshold=threshold),
            "auroc": BinaryAUROC(),
            "confusion_matrix": BinaryConfusionMatrix(threshold=threshold),
        }
    else:
        metrics = {
            "acc": MulticlassAccuracy(n_classes, average="micro"),
            "f1_macro": MulticlassF1Score(n_classes, average="macro"),
            "f1_weighted": MulticlassF1Score(n_classes, average="weighted"),
            "auroc": PresentClassesAUROC(n_classes),  # one-vs-rest, averaged over the classes
            "precision_per_class": MulticlassPrecision(n_classes, average=None),
            "recall_per_class": MulticlassRecall(n_classes, average=None),
            "confusion_matrix": MulticlassConfusionMatrix(n_classes),
        }
    return MetricCollection(metrics, compute_groups=False)


class R2Score(torchmetrics.R2Score):
    """R2 as scikit-learn scores it, summed in float64. torchmetrics (1.9.0) scores 1.0 whenever both sums of squares
    are below an absolute 1e-4, so a target on a small scale scored 1.0 whatever the predictions (its issue #1573)."""

    def __init__(self) -> None:
        super().__init__()
        self.set_dtype(torch.float64)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update(preds.double(), target.double())

    def compute(self) -> torch.Tensor:
        if self.total < 2:
            return super().compute()  # torchmetrics' error: R2 needs two rows
        tss = self.sum_squared_error - self.sum_error**2 / self.total
        if tss <= 1e-12 * self.sum_squared_error:  # a constant target: 1 if predicted exactly, else 0
            return (self.residual == 0).double()
        return 1 - self.residual / tss


def r2_score(preds: torch.Tensor, target: torch.Tensor) -> float:
    metric = R2Score()
    metric.update(preds.reshape(-1), target.reshape(-1))
    return float(metric.compute())


class PresentClassesAUROC(MulticlassAUROC):
    """One-vs-rest AUROC averaged over the classes the targets hold: torchmetrics scores a class without rows as 0,
    so a rare class missing from a small test split would pull the mean down."""

    def __init__(self, n_classes: int) -> None:
        super().__init__(n_classes, average=None)

    def compute(self) -> torch.Tensor:
        present = torch.bincount(dim_zero_cat(self.target), minlength=self.num_classes) > 0
        return super().compute()[present].mean()


def plain_matrix(value, class_labels: list[str] | None = None):
    """A metric with more than one value for metrics.json: per class by name when named, else nested lists."""
    return dict(zip(class_labels, value.tolist())) if value.ndim == 1 and class_labels else value.tolist()


class RowWeightedMean(Metric):
    """An epoch's loss from its mini-batches' mean losses, each weighted by its rows (for MSE, the MSE of every row);
    a NaN stays NaN for early stopping's check_finite."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("rows", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, losses: torch.Tensor, rows: torch.Tensor) -> None:
        self.total += (losses.double() * rows).sum()
        self.rows += rows.sum()

    def compute(self) -> torch.Tensor:
        return self.total / self.rows
