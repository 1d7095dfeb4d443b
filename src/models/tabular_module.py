"""What the regressor and the classifier share: the network, the optimizer, the loss and metric bookkeeping.

The training, validation and test steps come from FastSteps (src/models/fast_steps.py): a group of mini-batches
per Lightning step, with Lightning's gradient clipping, accumulation and precision. Epoch losses are the lesson's:
the unweighted mean of the batch losses.
"""

from __future__ import annotations

from collections.abc import Callable

import math

import torch
from torch import nn
from torchmetrics import MeanMetric, MetricCollection

from src.models.fast_steps import FastSteps
from src.models.network import build_network


class TabularModule(FastSteps):

    def __init__(
        self,
        n_features: int,
        hidden: list[int],
        optimizer: Callable[..., torch.optim.Optimizer],
        norm: str = "none",
        dropout: float = 0.0,
        embedding: dict | None = None,
        lr_schedule: str | None = None,
    ) -> None:
        super().__init__()
        # the optimizer factory is config, not state: keep checkpoints free of pickled callables
        # (the run logs its whole config to TensorBoard at the end, with the final metrics)
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.net = build_network(n_features, list(hidden), norm=norm, dropout=dropout, embedding=embedding)
        self.lr_schedule = lr_schedule
        # Each update takes the vector of batch losses: the mean over all updates is the lesson's epoch loss.
        # (Not update(mean, weight=n): torchmetrics 1.9 drops the weights under nan_strategy="disable",
        # and "disable" is what lets a NaN loss reach EarlyStopping(check_finite) instead of raising here.)
        self.losses = nn.ModuleDict({f"{stage}_loss": MeanMetric(nan_strategy="disable") for stage in ("train", "val", "test")})
        self.val_metrics = self.make_metrics().clone(prefix="val_")
        self.test_metrics = self.make_metrics().clone(prefix="test_")

    # --- what a task defines -------------------------------------------------------------------------
    def make_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # --- the network -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def configure_optimizers(self):
        optimizer = self.make_optimizer()
        if self.lr_schedule is None:
            return optimizer
        # one scheduler step per optimizer step: accumulation steps once every accumulate_grad_batches mini-batches
        steps_per_epoch = math.ceil(self.trainer.datamodule.n_batches("train") / self.step_settings.accumulate_grad_batches)
        total_steps = self.trainer.max_epochs * steps_per_epoch
        return {"optimizer": optimizer, "lr_scheduler": self.make_lr_scheduler(optimizer, total_steps)}

    def make_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(params=self.parameters())

    def make_lr_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        """The learning rate over `total_steps` mini-batches (stepped after each one); None keeps it constant."""
        if self.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        if self.lr_schedule == "onecycle":  # warm up to the optimizer's lr, then anneal: Smith's 1cycle policy
            max_lr = [group["lr"] for group in optimizer.param_groups]
            cycles_momentum = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=max_lr, total_steps=total_steps, cycle_momentum=cycles_momentum
            )
        return None

    # --- checkpoints ------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # plain strings, so eval and predict rebuild model and data from a weights_only load, without unpickling
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        checkpoint["rebuild"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "datamodule_class": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}" if datamodule else None,
        }
