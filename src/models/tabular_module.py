"""What every task module shares: the net (`model.net`, built for the data's shape), the optimizer and its schedule.
A task defines `link` (raw outputs to predictions) and `prediction_loss`. A net may return `(batch, k, n_outputs)`, an
ensemble: training takes the mean of the members' losses, evaluation the mean prediction (TabM's recipe)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchmetrics import MetricCollection

from src.errors import require
from src.models.fast_steps import FastSteps
from src.models.nets.build import build_net


class TabularModule(FastSteps):
    target_dtype = torch.float32  # what the task's metrics expect as targets
    class_labels: tuple[str, ...] = ()  # a classifier sets the names of its classes, by class code

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
        # no pickled optimizer factory in checkpoints; `net` is plain settings, rebuilt from a weights_only load
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.net = build_net(net, n_num_features, list(cat_cardinalities), n_outputs)
        self.lr_schedule = lr_schedule
        self.track_metrics(self.make_metrics())

    def make_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs  # values; a classifier's the probability of class 1, or class probabilities

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # a task may compute the loss on raw outputs more stably
        return self.prediction_loss(self.link(outputs), target)

    def metric_inputs(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return preds.squeeze(1), target.squeeze(1).to(self.target_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def check_output_shape(self, outputs: torch.Tensor, rows: int) -> None:
        """The net's outputs for `rows` rows are (batch, n_outputs), or an ensemble's (batch, k, n_outputs)."""
        n, shape = self.hparams.n_outputs, tuple(outputs.shape)
        require(
            len(shape) in (2, 3) and shape[0] == rows and shape[-1] == n,
            f"model.net._target_={self.hparams.net.get('_target_')} returned outputs of shape {shape} for {rows} row(s); "
            f"expected (batch, n_outputs) = ({rows}, {n}), or (batch, k, n_outputs) for an ensemble",
        )

    def to_predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        preds = self.link(outputs)
        return preds.mean(dim=1) if preds.ndim == 3 else preds  # an ensemble predicts its members' mean

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_predictions(self(x))

    def loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if outputs.ndim == 3:
            return self.output_loss(outputs.flatten(0, 1), target.repeat_interleave(outputs.size(1), dim=0))
        return self.output_loss(outputs, target)

    def evaluation_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Validation and test loss: of an ensemble's mean prediction."""
        if outputs.ndim == 3:
            return self.prediction_loss(self.to_predictions(outputs), target)
        return self.output_loss(outputs, target)

    def score_members(self, outputs: torch.Tensor, target: torch.Tensor) -> dict[str, list[float]]:
        """test_loss and every scalar metric of each ensemble member alone, to show what the mean prediction gains."""
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
        batches = self.trainer.datamodule.n_batches("train")
        # trainer.limit_train_batches (also set by overfit_batches, fast_dev_run), allowed only with
        # data.steps_per_execution=1 where a step is one mini-batch: Lightning's rule, an int counts, a float is a fraction
        limit = self.trainer.limit_train_batches
        batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
        steps_per_epoch = math.ceil(batches / self.step_settings.accumulate_grad_batches)
        scheduler = self.make_lr_scheduler(optimizer, self.trainer.max_epochs * steps_per_epoch)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def make_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(params=self.parameters())

    def make_lr_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        if self.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        if self.lr_schedule == "onecycle":  # warm up to the optimizer's lr, then anneal: Smith's 1cycle policy
            max_lr = [group["lr"] for group in optimizer.param_groups]
            momentum = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, cycle_momentum=momentum)
        return None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # plain strings, so eval and predict rebuild model and data from a weights_only load
        datamodule = self.trainer.datamodule
        checkpoint["rebuild"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "datamodule_class": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}" if datamodule else None,
        }
