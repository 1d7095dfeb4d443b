"""What every task module shares: the network, the optimizer and the epoch loop's bookkeeping.

The network comes from the `model.net` config node (src/models/nets/), built once the data's shape is known
and stored in the checkpoint as plain settings. Its outputs are raw (logits for classification); a task module
says how they become predictions (`link`) and what its loss is. A net may return `(batch, k, n_outputs)`, an
ensemble of k members: training takes the mean of the members' losses, and validation, test and predict the
mean prediction (TabM's recipe), so early stopping and checkpoints follow the ensemble.

Training uses manual optimization over a group of mini-batches per Lightning step (see BatchGroups): the
per-batch work is exactly the lesson's zero_grad / backward / step, while Lightning's per-step machinery runs
once per group. Epoch losses are the lesson's: the unweighted mean of the batch losses.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, MetricCollection

from src.models.nets.build import build_net


class TabularModule(L.LightningModule):
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
        self.automatic_optimization = False
        self.optimizer_factory = optimizer
        self.net = build_net(net, n_num_features, list(cat_cardinalities), n_outputs)
        self.lr_schedule = lr_schedule
        # Each update takes the vector of batch losses: the mean over all updates is the lesson's epoch loss.
        # (Not update(mean, weight=n): torchmetrics 1.9 drops the weights under nan_strategy="disable",
        # and "disable" is what lets a NaN loss reach EarlyStopping(check_finite) instead of raising here.)
        self.losses = nn.ModuleDict({f"{stage}_loss": MeanMetric(nan_strategy="disable") for stage in ("train", "val", "test")})
        self.val_metrics = self.make_metrics().clone(prefix="val_")
        self.test_metrics = self.make_metrics().clone(prefix="test_")
        self.matrices: dict[str, dict[str, list]] = {}  # non-scalar results (the confusion matrix) per stage
        self.train_results: dict[str, float] = {}  # this epoch's scalars, written to the loggers at its end
        self.val_results: dict[str, float] = {}

    # --- what a task defines -------------------------------------------------------------------------
    def make_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def link(self, outputs: torch.Tensor) -> torch.Tensor:
        """The net's raw outputs as predictions: values, the probability of class 1, or class probabilities."""
        return outputs

    def output_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The task's loss on one net's raw outputs `(batch, n_outputs)`."""
        raise NotImplementedError

    def prediction_loss(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The same loss on predictions (after `link`): what an ensemble's mean prediction is scored with."""
        raise NotImplementedError

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

    def configure_optimizers(self):
        optimizer = self.make_optimizer()
        if self.lr_schedule is None:
            return optimizer
        total_steps = self.trainer.max_epochs * self.trainer.datamodule.n_batches("train")
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

    # --- one Lightning step = a group of mini-batches ---------------------------------------------------
    def training_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        losses = []
        for i, (x, y) in enumerate(batches):
            loss = self.loss(self(x), y)
            if i == len(batches) - 1:
                # The group's last step goes through Lightning (hooks, precision plugin, global_step += 1) ...
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            else:
                # ... the others are the lesson's plain step: Lightning's wrappers cost ~0.5 ms per step here
                optimizer.optimizer.zero_grad()
                loss.backward()
                optimizer.optimizer.step()
            if scheduler is not None:  # manual optimization: Lightning leaves the stepping to us
                scheduler.step()
            losses.append(loss.detach())
        self.losses["train_loss"].update(torch.stack(losses))
        if self.trainer.is_last_batch:
            # now, so every callback's on_train_epoch_end sees it
            self.train_results = self.epoch_results("train")
            self.show_callbacks("train_loss", self.train_results["train_loss"])

    def evaluate_batches(self, batches: list[tuple[torch.Tensor, torch.Tensor]], stage: str) -> torch.Tensor:
        """Loss per batch into the stage's mean, predictions of the whole group into its metrics."""
        outputs = [self(x) for x, _ in batches]
        losses = torch.stack([self.evaluation_loss(o, y) for o, (_, y) in zip(outputs, batches)])
        self.losses[f"{stage}_loss"].update(losses)
        target = torch.cat([y for _, y in batches])
        preds = self.to_predictions(torch.cat(outputs))
        self.stage_metrics(stage).update(*self.metric_inputs(preds, target))
        return preds

    def stage_metrics(self, stage: str) -> MetricCollection:
        return self.val_metrics if stage == "val" else self.test_metrics

    def validation_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.evaluate_batches(batches, "val")

    def test_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.evaluate_batches(batches, "test")

    # --- once per epoch ---------------------------------------------------------------------------------
    def epoch_results(self, stage: str) -> dict[str, float]:
        """Compute and reset the stage's loss and metrics (reduced over all ranks); scalars as floats."""
        results = {f"{stage}_loss": self.losses[f"{stage}_loss"].compute()}
        self.losses[f"{stage}_loss"].reset()
        if stage == "train":
            return {k: float(v) for k, v in results.items()}
        metrics = self.stage_metrics(stage)
        computed = metrics.compute()
        metrics.reset()
        results.update({k: v for k, v in computed.items() if v.numel() == 1})
        self.matrices[stage] = {k: self.non_scalar(k, v) for k, v in computed.items() if v.numel() > 1}
        return {k: float(v) for k, v in results.items()}

    def non_scalar(self, name: str, value: torch.Tensor):
        """A metric with more than one value, as plain data: a matrix as nested lists (tasks may name classes)."""
        return value.tolist()

    def on_validation_epoch_end(self) -> None:
        results = self.epoch_results("val")
        if not self.trainer.sanity_checking:
            self.val_results = results
            self.show_callbacks("val_loss", results["val_loss"])

    def show_callbacks(self, name: str, value: float) -> None:
        """What `self.log(name, value, logger=False)` does for an epoch's scalar already reduced over all ranks:
        put it in `trainer.callback_metrics`, where EarlyStopping and ModelCheckpoint read what they monitor.
        Without `self.log`'s bookkeeping (it deep-copies its metadata on every call), ~1 ms an epoch less."""
        self.trainer.callback_metrics[name] = torch.tensor(value)

    def on_train_epoch_end(self) -> None:
        # Validation has run: the epoch's scalars go to the loggers in one call, with the 1-based epoch as step.
        scalars = {**self.train_results, **self.val_results}
        self.train_results, self.val_results = {}, {}
        for logger in self.loggers:
            logger.log_metrics(scalars, step=self.current_epoch + 1)

    def on_test_epoch_end(self) -> None:
        self.test_results = self.epoch_results("test")
        self.log_dict(self.test_results)

    # --- checkpoints ------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # plain strings, so eval and predict rebuild model and data from a weights_only load, without unpickling
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        checkpoint["rebuild"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "datamodule_class": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}" if datamodule else None,
        }
