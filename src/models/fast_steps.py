"""What makes the default path fast, in one place a model author never opens.

Lightning's per-step machinery (hooks, loop bookkeeping, the optimizer wrapper) costs more than a mini-batch of
the lesson's networks takes. So one Lightning step runs a group of mini-batches
(a whole epoch by default, see src/data/batches.py:BatchGroups) under manual optimization, and the Trainer flags
that Lightning refuses under manual optimization are applied here with Lightning's meaning:

- gradient_clip_val / gradient_clip_algorithm: `configure_gradient_clipping` (so `clip_gradients`) on the
  unscaled gradients right before each optimizer step, as Lightning's precision plugins do;
- accumulate_grad_batches: the loss divided by N, gradients zeroed on the first batch of each N and the optimizer
  stepped on the N-th and on the epoch's last batch (Lightning's `_should_accumulate`);
- precision: every forward runs inside Lightning's autocast context (training_step is called in it); 16-mixed
  scales the loss with the precision plugin's own GradScaler and unscales before clipping.

`build_trainer` takes those three keys off the trainer config (the Trainer would raise on them under manual
optimization) and hands them to the module. The last optimizer step of each group goes through Lightning's
`LightningOptimizer.step()` (hooks, precision plugin, `global_step`); the others step the wrapped torch optimizer
(`LightningOptimizer.optimizer`) directly, as the lesson does.

Validation computes what someone looks at: the loss and every monitored metric each epoch, the whole metric set
every `val_metrics_every_n_epochs` epochs from the first (for the loggers) and at test. Epoch scalars reach EarlyStopping and
ModelCheckpoint through `trainer.callback_metrics` (what `self.log(..., logger=False)` fills, without its per-call
bookkeeping) and the loggers in one `log_metrics` call an epoch.

Private Lightning state touched here or by the callbacks built on it is pinned in tests/models/test_fast_steps.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MetricCollection

from src.errors import UserError
from src.models.metrics import NON_SCALAR

# Trainer flags the Trainer refuses under manual optimization: applied by FastSteps instead.
STEP_FLAGS = ("gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches")
# Not a Trainer argument: how often the whole validation metric set is computed and logged.
METRICS_INTERVAL = "val_metrics_every_n_epochs"
CLIP_ALGORITHMS = ("norm", "value")


@dataclass
class StepSettings:
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None  # None is Lightning's "norm"
    accumulate_grad_batches: int = 1
    val_metrics_every_n_epochs: int = 1


def split_trainer_config(trainer_cfg: DictConfig) -> tuple[DictConfig, StepSettings]:
    """The trainer config without the keys FastSteps applies itself, and those keys' values."""
    plain = OmegaConf.to_container(trainer_cfg, resolve=True)
    taken = {key: plain.pop(key) for key in (*STEP_FLAGS, METRICS_INTERVAL) if key in plain}
    settings = StepSettings(**{k: v for k, v in taken.items() if v is not None})
    return OmegaConf.create(plain), settings


def build_trainer(trainer_cfg: DictConfig, model: L.LightningModule, **kwargs) -> L.Trainer:
    """The Trainer from its config; a FastSteps model gets the step flags, any other model the Trainer does."""
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import ProgressBar

    if not trainer_cfg.get("enable_progress_bar", True):  # the flag decides, whatever the callbacks config holds
        kwargs["callbacks"] = [c for c in kwargs.get("callbacks", []) if not isinstance(c, ProgressBar)]
    if not isinstance(model, FastSteps):
        plain = OmegaConf.to_container(trainer_cfg, resolve=True)
        plain.pop(METRICS_INTERVAL, None)
        return instantiate(OmegaConf.create(plain), **kwargs)
    trainer_cfg, model.step_settings = split_trainer_config(trainer_cfg)
    check_monitors(kwargs.get("callbacks", []), model)
    return instantiate(trainer_cfg, **kwargs)


def monitors(callbacks) -> list[tuple[str, str]]:
    """(callback class name, metric it monitors) for every callback with a `monitor`."""
    return [(type(c).__name__, c.monitor) for c in callbacks if getattr(c, "monitor", None)]


def check_monitors(callbacks, model: FastSteps) -> None:
    allowed = model.monitorable_metrics()
    for name, metric in monitors(callbacks):
        if metric not in allowed:
            raise UserError(
                f"{name} monitors {metric!r}, which this model does not log; it logs {', '.join(allowed)} "
                "(set e.g. callbacks.early_stopping.monitor=val_loss)"
            )


class FastSteps(L.LightningModule):
    """Training, validation and test steps over groups of mini-batches. A subclass defines `loss(preds, y)` and
    `make_metrics()`, and calls `set_metrics(...)` in its constructor."""

    step_settings = StepSettings()
    target_dtype = torch.float32  # what the task's metrics expect as targets
    # set by a subclass through set_metrics, kept out of the module tree (see _apply)
    METRIC_ATTRIBUTES = ("losses", "val_metrics", "test_metrics")
    non_scalar_metrics = NON_SCALAR  # reported as matrices, not monitorable

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.batch_in_epoch = 0
        self.matrices: dict[str, dict[str, list]] = {}  # non-scalar results (the confusion matrix) per stage
        self.member_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []  # an ensemble's test outputs, scored per member
        self.train_results: dict[str, float] = {}  # this epoch's scalars, written to the loggers at its end
        self.val_results: dict[str, float] = {}
        self.monitored: set[str] = set()  # validation metrics some callback watches: computed every epoch

    # --- metrics outside the module tree ----------------------------------------------------------------
    # Each validation run, Lightning records the train/eval mode of every submodule (a dict keyed by name, filled
    # through named_modules(), which hashes each module: a torchmetrics Metric hashes its whole state), switches
    # them to eval and back, and zeroes their gradients. The metrics have neither a mode that matters nor weights,
    # yet they were most of the modules walked: at the lesson's sizes that walk cost a noticeable part of an
    # epoch. So they are plain attributes, and device and dtype moves (`.to`, `.cuda`, ... all go through
    # `_apply`) reach them as they reach submodules. Their states were never in the state_dict (torchmetrics
    # states are not persistent), so checkpoints hold the same keys.
    def set_metrics(self, losses: nn.ModuleDict, val_metrics: MetricCollection, test_metrics: MetricCollection) -> None:
        """What a subclass's constructor calls: `losses` (a MeanMetric per `{stage}_loss`) and the prefixed
        metric collections of validation and test, kept as plain attributes."""
        self.__dict__.update(losses=losses, val_metrics=val_metrics, test_metrics=test_metrics)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        for name in self.METRIC_ATTRIBUTES:
            if name in self.__dict__:
                self.__dict__[name]._apply(fn)
        return self

    # --- what can be monitored ---------------------------------------------------------------------------
    def monitorable_metrics(self) -> list[str]:
        names = [f"val_{k}" for k in self.make_metrics() if k not in self.non_scalar_metrics]
        return ["train_loss", "val_loss", *names]

    def on_fit_start(self) -> None:
        self.monitored = {m for _, m in monitors(self.trainer.callbacks) if m not in ("train_loss", "val_loss")}

    def on_train_epoch_start(self) -> None:
        self.batch_in_epoch = 0

    # --- one Lightning step = a group of mini-batches -----------------------------------------------------
    def training_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        settings = self.step_settings
        accumulate = settings.accumulate_grad_batches
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)  # 16-mixed only
        ends_epoch = self.trainer.is_last_batch
        first = self.batch_in_epoch
        steps = [i for i in range(len(batches)) if (first + i + 1) % accumulate == 0 or (ends_epoch and i == len(batches) - 1)]
        losses = []
        for i, (x, y) in enumerate(batches):
            if (first + i) % accumulate == 0:  # Lightning zeroes gradients on the first batch of an accumulation
                optimizer.optimizer.zero_grad()
            loss = self.loss(self(x), y)
            losses.append(loss.detach())
            if accumulate > 1:
                loss = loss / accumulate
            (scaler.scale(loss) if scaler is not None else loss).backward()
            if steps and i == steps[-1]:
                # the group's last step goes through Lightning: hooks, precision plugin, global_step += 1;
                # clipping happens in on_before_optimizer_step, which the precision plugin calls after unscaling
                optimizer.step()
            elif i in steps:
                self.plain_step(optimizer.optimizer, scaler)
            if scheduler is not None and i in steps:  # manual optimization: Lightning leaves the stepping to us
                scheduler.step()
        self.batch_in_epoch += len(batches)
        self.losses["train_loss"].update(torch.stack(losses))
        if ends_epoch:
            # now, so every callback's on_train_epoch_end sees it
            self.train_results = self.epoch_results("train")
            self.show_callbacks(self.train_results)

    def plain_step(self, optimizer: torch.optim.Optimizer, scaler) -> None:
        """What Lightning's precision plugin does for a step, without its hooks."""
        if scaler is not None:
            scaler.unscale_(optimizer)
        self.clip(optimizer)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    def clip(self, optimizer) -> None:
        settings = self.step_settings
        if settings.gradient_clip_val:
            self.configure_gradient_clipping(
                optimizer, gradient_clip_val=settings.gradient_clip_val, gradient_clip_algorithm=settings.gradient_clip_algorithm
            )

    def on_before_optimizer_step(self, optimizer) -> None:
        self.clip(optimizer)  # after the precision plugin unscaled the gradients, as Lightning clips them

    # --- validation and test --------------------------------------------------------------------------------
    def full_metrics_epoch(self) -> bool:
        if self._trainer is None:  # the plain reference loop computes every metric every epoch
            return True
        # epochs 1, n + 1, 2n + 1, ...: a short run still shows every metric once
        return self.trainer.sanity_checking or self.current_epoch % self.step_settings.val_metrics_every_n_epochs == 0

    def metrics_to_update(self, stage: str) -> dict:
        full = stage == "test" or self.full_metrics_epoch()
        if not full and not self.monitored:  # most epochs: the loss is all anyone reads
            return {}
        collection = self.stage_metrics(stage)
        if full:
            return dict(collection.items(keep_base=False, copy_state=False))
        return {name: metric for name, metric in collection.items(keep_base=False, copy_state=False) if name in self.monitored}

    def evaluate_batches(self, batches: list[tuple[torch.Tensor, torch.Tensor]], stage: str) -> None:
        """Loss per batch into the stage's mean, predictions of the whole group into the metrics in use."""
        outputs = [self(x) for x, _ in batches]
        losses = torch.stack([self.evaluation_loss(o, y) for o, (_, y) in zip(outputs, batches)])
        self.losses[f"{stage}_loss"].update(losses)
        if stage == "test" and outputs[0].ndim == 3:  # an ensemble: keep its members' outputs to score each alone
            self.member_outputs.append((torch.cat(outputs), torch.cat([y for _, y in batches])))
        metrics = self.metrics_to_update(stage)
        if metrics:
            inputs = self.metric_inputs(self.to_predictions(torch.cat(outputs)), torch.cat([y for _, y in batches]))
            for metric in metrics.values():
                metric.update(*inputs)

    def stage_metrics(self, stage: str) -> MetricCollection:
        return self.val_metrics if stage == "val" else self.test_metrics

    def validation_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.evaluate_batches(batches, "val")

    def test_step(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.evaluate_batches(batches, "test")

    # --- once per epoch -------------------------------------------------------------------------------------
    def epoch_results(self, stage: str) -> dict[str, float]:
        """Compute and reset the stage's loss and the metrics updated this epoch (reduced over all ranks)."""
        results = {f"{stage}_loss": self.losses[f"{stage}_loss"].compute()}
        self.losses[f"{stage}_loss"].reset()
        if stage != "train":
            for name, metric in self.metrics_to_update(stage).items():
                value = metric.compute()
                metric.reset()
                if value.numel() == 1:
                    results[name] = value
                else:
                    self.matrices.setdefault(stage, {})[name] = self.non_scalar(name, value)
        return {k: float(v) for k, v in results.items()}

    def on_validation_epoch_end(self) -> None:
        results = self.epoch_results("val")
        if not self.trainer.sanity_checking:
            self.val_results = results  # for the loggers
            # for the callbacks: what they watch, fresh every epoch (the full set comes every n epochs only)
            self.show_callbacks({k: v for k, v in results.items() if k == "val_loss" or k in self.monitored})

    def show_callbacks(self, results: dict[str, float]) -> None:
        """What `self.log(name, value, logger=False)` does for an epoch's scalars already reduced over all
        ranks: put them in `trainer.callback_metrics`, where EarlyStopping and ModelCheckpoint read them."""
        for name, value in results.items():
            self.trainer.callback_metrics[name] = torch.tensor(value)

    def on_train_epoch_end(self) -> None:
        # Validation has run: the epoch's scalars go to the loggers in one call, with the 1-based epoch as step.
        scalars = {**self.train_results, **self.val_results}
        self.train_results, self.val_results = {}, {}
        for logger in self.loggers:
            logger.log_metrics(scalars, step=self.current_epoch + 1)

    # --- what a task module provides (src/models/tabular_module.py) ----------------------------------------
    def evaluation_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(outputs, target)

    def to_predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def metric_inputs(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return preds.squeeze(1), target.squeeze(1).to(self.target_dtype)

    def non_scalar(self, name: str, value: torch.Tensor):
        return value.tolist()

    def score_members(self, outputs: torch.Tensor, target: torch.Tensor) -> dict[str, list[float]]:
        return {}

    def on_test_epoch_end(self) -> None:
        self.test_results = self.epoch_results("test")
        self.log_dict(self.test_results)
        if self.member_outputs and self.trainer.world_size == 1:  # under DDP each rank holds only its share of the rows
            outputs, target = (torch.cat(parts) for parts in zip(*self.member_outputs))
            self.matrices.setdefault("test", {})["test_members"] = self.score_members(outputs, target)
        self.member_outputs = []

    def on_test_epoch_start(self) -> None:
        self.member_outputs = []
