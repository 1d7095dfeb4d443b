"""What every task module shares: the network (the `model.net` node, built for the data's shape), the optimizer and
its schedule. A task says how the net's raw outputs become predictions (`link`) and the loss of a mini-batch
(`prediction_loss`); the steps come from src/models/fast_steps.py. A net may return `(batch, k, n_outputs)`, an
ensemble: training takes the mean of the members' losses, evaluation the mean prediction (TabM's recipe).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchmetrics import MetricCollection

from src.models.fast_steps import FastSteps
from src.models.nets.build import build_net


class TabularModule(FastSteps):
    target_dtype = torch.float32  # what the task's metrics expect as targets

    def __init__(
        self,
        net: dict,
        optimizer: Callable[..., torch.optim.Optimizer] | None,
        n_num_features: int,
        cat_cardinalities: list[int] = (),
        n_outputs: int = 1,
        lr_schedule: str | None = None,
    ) -> None:
        super().__init__()
        # the optimizer factory is config, not state: keep checkpoints free of pickled callables
        # (the run logs its whole config to TensorBoard at the end, with the final metrics);
        # `net` is plain settings with its `_target_`, so a checkpoint rebuilds it with a weights_only load
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.net = build_net(net, n_num_features, list(cat_cardinalities), n_outputs)
        self.lr_schedule = lr_schedule
        self.track_metrics(self.make_metrics())

    # --- what a task defines -------------------------------------------------------------------------
    def make_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        """The net's raw outputs as predictions: values, the probability of class 1, or class probabilities."""
        return outputs

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of one mini-batch's predictions (after `link`), a mean over its rows."""
        raise NotImplementedError

    def output_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The same loss on one net's raw outputs `(batch, n_outputs)`; a task may compute it more stably."""
        return self.prediction_loss(self.link(outputs), target)

    def metric_inputs(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return preds.squeeze(1), target.squeeze(1).to(self.target_dtype)

    # --- the network -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The net's raw outputs: `(batch, n_outputs)`, or `(batch, k, n_outputs)` for an ensemble of k."""
        return self.net(x)

    def to_predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        preds = self.link(outputs)
        return preds.mean(dim=1) if preds.ndim == 3 else preds  # an ensemble predicts its members' mean

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """What a user sees for each row, `(batch, n_outputs)`: the ensemble's mean prediction where there is one."""
        return self.to_predictions(self(x))

    def loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Training loss: the mean of the ensemble members' losses (one net is an ensemble of one)."""
        if outputs.ndim == 3:
            k = outputs.size(1)
            return self.output_loss(outputs.flatten(0, 1), target.repeat_interleave(k, dim=0))
        return self.output_loss(outputs, target)

    def evaluation_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Validation and test loss: of the mean prediction; for one net the same computation as `loss`."""
        if outputs.ndim == 3:
            return self.prediction_loss(self.to_predictions(outputs), target)
        return self.output_loss(outputs, target)

    def score_members(self, outputs: torch.Tensor, target: torch.Tensor) -> dict[str, list[float]]:
        """Each member of an ensemble `(rows, k, n_outputs)` scored alone on the same rows: test_loss and every
        scalar metric, one value per member. What the mean prediction gains over its members."""
        scores: dict[str, list[float]] = {}
        for member in range(outputs.size(1)):
            preds = self.link(outputs[:, member])
            metrics = self.make_metrics().to(outputs.device)
            metrics.update(*self.metric_inputs(preds, target))
            values = {"test_loss": self.prediction_loss(preds, target), **{f"test_{k}": v for k, v in metrics.compute().items()}}
            for name, value in values.items():
                if value.numel() == 1:
                    scores.setdefault(name, []).append(float(value))
        return scores

    def configure_optimizers(self):
        optimizer = self.make_optimizer()
        if self.lr_schedule is None:
            return optimizer
        # one scheduler step per optimizer step: accumulation steps once every accumulate_grad_batches mini-batches
        steps_per_epoch = math.ceil(self.trainer.datamodule.n_batches("train") / self.step_settings.accumulate_grad_batches)
        total_steps = self.trainer.max_epochs * steps_per_epoch
        scheduler = self.make_lr_scheduler(optimizer, total_steps)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

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

    def non_scalar(self, name: str, value: torch.Tensor):
        """A metric with more than one value, as plain data: a matrix as nested lists (tasks may name classes)."""
        return value.tolist()

    # --- checkpoints ------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # plain strings, so eval and predict rebuild model and data from a weights_only load, without unpickling
        datamodule = self.trainer.datamodule
        checkpoint["rebuild"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "datamodule_class": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}" if datamodule else None,
        }
