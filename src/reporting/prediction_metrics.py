"""Metrics of predictions that did not come through a task module: the LightGBM baseline, deep ensembles."""

from __future__ import annotations

import numpy as np


def metrics_from_predictions(
    task: str, actual: np.ndarray, predicted: np.ndarray, threshold: float = 0.5, class_labels: list[str] | None = None
) -> tuple[dict, dict]:
    """Test metrics from predictions alone, with a network run's names and definitions (the task's own metric
    collection, src/models/metrics.py), and its matrices: the confusion matrix, per-class values by class name.
    Regression: values; binary: probabilities of class 1; multiclass: (rows, classes) probabilities."""
    import torch
    from torchmetrics.functional import mean_squared_error

    from src.models.metrics import plain_matrix, task_metrics

    p, y = torch.as_tensor(predicted, dtype=torch.float64), torch.as_tensor(actual, dtype=torch.float64)
    target = y if task == "regression" else y.long()
    if task == "regression":
        loss, metrics = float(mean_squared_error(p, y)), task_metrics(task).set_dtype(torch.float64)  # summed in float64
    elif task == "binary":
        loss = float(torch.nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y))
        metrics = task_metrics(task, threshold=threshold)
    else:
        loss = float(torch.nn.functional.nll_loss(p.clamp_min(1e-12).log(), target))
        metrics = task_metrics(task, n_classes=p.shape[1])
    metrics.update(p, target)
    scalars, matrices = {"test_loss": loss}, {}
    for name, value in metrics.compute().items():  # split as a network run's epoch_results splits them
        if value.numel() == 1:
            scalars[f"test_{name}"] = float(value)
        else:
            matrices[f"test_{name}"] = plain_matrix(value, class_labels)
    return scalars, matrices
