"""Metrics of predictions that did not come through a task module: the LightGBM baseline, deep ensembles."""

from __future__ import annotations

import math

import numpy as np


def metrics_from_predictions(task: str, actual: np.ndarray, predicted: np.ndarray, threshold: float = 0.5) -> tuple[dict, dict]:
    """Test metrics from predictions alone, with a network run's names and definitions (torchmetrics), and the
    confusion matrix. Regression: values; binary: probabilities of class 1; multiclass: (rows, classes) probabilities."""
    import torch
    from torchmetrics.functional import (
        mean_absolute_error,
        mean_squared_error,
        r2_score,
    )
    from torchmetrics.functional.classification import (
        binary_accuracy,
        binary_auroc,
        binary_confusion_matrix,
        binary_f1_score,
        binary_precision,
        binary_recall,
        multiclass_accuracy,
        multiclass_confusion_matrix,
    )

    p, y = torch.as_tensor(predicted, dtype=torch.float64), torch.as_tensor(actual, dtype=torch.float64)
    if task == "regression":
        mse = float(mean_squared_error(p, y))
        return {
            "test_loss": mse,
            "test_mse": mse,
            "test_rmse": math.sqrt(mse),
            "test_mae": float(mean_absolute_error(p, y)),
            "test_r2": float(r2_score(p, y)),
        }, {}
    if task == "binary":
        t, target = threshold, y.long()
        loss = float(torch.nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y))
        metrics = {
            "test_loss": loss,
            "test_acc": binary_accuracy(p, target, t),
            "test_precision": binary_precision(p, target, t),
            "test_recall": binary_recall(p, target, t),
            "test_f1": binary_f1_score(p, target, t),
            "test_auroc": binary_auroc(p, target),
        }
        matrix = binary_confusion_matrix(p, target, t).tolist()
        return {k: float(v) for k, v in metrics.items()}, {"test_confusion_matrix": matrix}
    n_classes, target = p.shape[1], y.long()
    loss = float(torch.nn.functional.nll_loss(p.clamp_min(1e-12).log(), target))
    acc = float(multiclass_accuracy(p, target, num_classes=n_classes, average="micro"))
    matrix = multiclass_confusion_matrix(p, target, num_classes=n_classes).tolist()
    return {"test_loss": loss, "test_acc": acc}, {"test_confusion_matrix": matrix}
