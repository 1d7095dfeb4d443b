"""The lesson's regressor: a ReLU stack with a linear output, trained on mean squared error."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from src.models.tabular_module import TabularModule


class Regressor(TabularModule):
    def make_metrics(self) -> MetricCollection:
        return MetricCollection(
            {"mse": MeanSquaredError(), "rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError(), "r2": R2Score()},
            compute_groups=False,
        )

    def loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(preds, target)
