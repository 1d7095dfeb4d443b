"""What makes the default path fast: one Lightning step runs a group of mini-batches (a whole epoch by default,
src/data/batches.py:BatchGroups), so Lightning's fixed cost per step is paid once per group. Under manual optimization
the group's last optimizer step goes through Lightning (`manual_backward`, hooks, `global_step`), the others plain torch."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import GradientAccumulationScheduler, ProgressBar, StochasticWeightAveraging
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchmetrics import MetricCollection

from src.errors import UserError, first_line, require
from src.models.metrics import NON_SCALAR, RowWeightedMean, plain_matrix

# Trainer flags the Trainer refuses under manual optimization: applied here with Lightning's meaning
STEP_FLAGS = ("gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches")

Batches = list[tuple[torch.Tensor, torch.Tensor]]

# validation and test keep no activations for a backward pass: four batches in one forward take about the memory
# that training takes for one, and far fewer calls
EVAL_BATCHES_PER_FORWARD = 4

# the loggers get the epochs' scalars at most this often, and at the end: TensorBoard's writer wakes a thread per scalar
LOGGERS_EVERY_S = 1.0


# `self.log` of an epoch's scalars: callbacks read them; the loggers get every scalar from on_train_epoch_end
FOR_CALLBACKS = {"on_step": False, "on_epoch": True, "batch_size": 1, "logger": False, "sync_dist": True}


@dataclass
class StepSettings:
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None  # None is Lightning's "norm"
    accumulate_grad_batches: int = 1
    val_metrics_every_n_epochs: int = 1


def build_trainer(trainer_cfg: DictConfig, model: L.LightningModule, **kwargs) -> L.Trainer:
    """The Trainer from its config; a FastSteps model takes the step flags, any other model leaves them to the Trainer."""
    if not trainer_cfg.get("enable_progress_bar", True):  # the flag decides, whatever the callbacks config holds
        kwargs["callbacks"] = [c for c in kwargs.get("callbacks", []) if not isinstance(c, ProgressBar)]
    plain = OmegaConf.to_container(trainer_cfg, resolve=True)
    plain.pop("lr_find", None)  # not a Trainer argument: src/runs/fit.py runs the finder
    taken = {key: plain.pop(key) for key in (*STEP_FLAGS, "val_metrics_every_n_epochs") if key in plain}
    if isinstance(model, FastSteps):
        model.step_settings = StepSettings(**{k: v for k, v in taken.items() if v is not None})
    else:
        plain.update({k: v for k, v in taken.items() if k in STEP_FLAGS})
    try:
        # plain containers: Lightning reads e.g. max_time={seconds: 2} as a dict, and a DictConfig is not one
        return instantiate(OmegaConf.create(plain), **kwargs, _convert_="all")
    except InstantiationException as exc:  # settings Lightning refuses: two progress bars, an unknown accelerator, ...
        if isinstance(exc.__cause__, (MisconfigurationException, ValueError, TypeError)):
            raise UserError(f"the Trainer refuses these settings: {first_line(exc.__cause__)}") from None
        raise


def check_monitors(callback_nodes: Mapping[str, Any], model: FastSteps) -> None:
    """Each callback of the config that has a `monitor` watches a metric the model logs, the way it gets better."""
    val_metrics = dict(model.epoch_metrics["val"].items(keep_base=False, copy_state=False))
    allowed = ["train_loss", "val_loss", *(name for name in val_metrics if name.removeprefix("val_") not in NON_SCALAR)]
    for key, node in callback_nodes.items():
        metric = node.get("monitor") if isinstance(node, Mapping) else None  # not a callback's node: build_callbacks says
        if not metric:
            continue
        name, mode = str(node.get("_target_", key)).rsplit(".", 1)[-1], node.get("mode", "min")
        if metric not in allowed:
            raise UserError(
                f"{name} monitors {metric!r}, which this model does not log; it logs {', '.join(allowed)} "
                f"(set e.g. callbacks.{key}.monitor=val_loss)"
            )
        # a loss is better lower; a metric as torchmetrics says
        higher = False if metric.endswith("_loss") else getattr(val_metrics.get(metric), "higher_is_better", None)
        if higher is not None and mode == ("min" if higher else "max"):
            better = "max" if higher else "min"
            raise UserError(
                f"{name} monitors {metric!r} with mode={mode}, but a {'higher' if higher else 'lower'} "
                f"{metric} is better: it would keep the worst epoch (set its mode: callbacks.{key}.mode={better})"
            )


def check_step_callbacks(callback_nodes: Mapping[str, Any], model: FastSteps) -> None:
    """Callbacks that change how Lightning's automatic optimization steps, which the fast steps (manual) do not take.
    StochasticWeightAveraging's extra epoch only updates BatchNorm statistics, skipping its backward only under
    automatic optimization: the fast steps would train it as an ordinary epoch."""
    batch_norm = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm)
    for key, node in callback_nodes.items():
        kind = None
        with contextlib.suppress(Exception):  # a target that is not a class: Hydra says so when it is built
            kind = get_class(node["_target_"])
        if not isinstance(kind, type):
            continue
        require(
            not issubclass(kind, GradientAccumulationScheduler),
            f"callbacks.{key}: GradientAccumulationScheduler works under Lightning's automatic optimization only, and "
            "the fast steps optimize manually; use trainer.accumulate_grad_batches=<n> (one value for the whole run)",
        )
        if issubclass(kind, StochasticWeightAveraging) and any(isinstance(m, batch_norm) for m in model.modules()):
            raise UserError(
                f"callbacks.{key}: StochasticWeightAveraging's BatchNorm update epoch would be trained as an ordinary "
                "epoch by the fast steps; use a net without BatchNorm layers, or leave out the callback"
            )


def latest_scalars(trainer: L.Trainer, pl_module: L.LightningModule) -> Mapping[str, Any]:
    """The losses and metrics a FastSteps module computed in its latest epoch (it `self.log`s only what callbacks
    monitor); else what was logged."""
    return getattr(pl_module, "latest_scalars", None) or trainer.callback_metrics


class FastSteps(L.LightningModule):
    """Training, validation and test steps over groups of mini-batches; src/models/tabular_module.py defines the
    task's side (`loss`, `make_metrics`, ...) and calls `track_metrics(...)` in its constructor."""

    step_settings = StepSettings()
    loss_scale = 1.0  # backward's factor on the loss: a regressor on a standardised target sets it (src/models/tasks.py)

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.batch_in_epoch = 0
        self.every_metric = True  # every metric this epoch: set every n epochs by validation's start and the plain loop
        self.monitored: set[str] = set()  # validation metrics some callback watches: computed every epoch
        self.losses_on_bar = False  # logged for a Lightning progress bar
        self.for_loggers: dict[str, float] = {}  # this epoch's scalars, for the loggers at its end
        self.held_for_loggers: list[tuple[int, dict[str, float]]] = []  # (step, scalars) of epochs not yet handed over
        self.loggers_due = 0.0  # time.monotonic() from which the held epochs go to the loggers
        # the latest epoch's scalars, for callbacks: trainer.callback_metrics holds only what is monitored (`self.log` costs)
        self.latest_scalars: dict[str, float] = {}
        self.matrices: dict[str, dict] = {}  # non-scalar results (the confusion matrix) per stage
        self.member_outputs: Batches = []  # an ensemble's test outputs, scored per member
        self.test_results: dict[str, float] = {}

    def track_metrics(self, metrics: MetricCollection) -> None:
        """Each stage's loss and the task's metrics, in a plain dict rather than the module tree, which Lightning walks
        at every validation; they follow the outputs' device when updated."""
        losses = {f"{stage}_loss": RowWeightedMean() for stage in ("train", "val", "test")}
        self.epoch_metrics = {**losses, "val": metrics.clone(prefix="val_"), "test": metrics.clone(prefix="test_")}
        self.metrics_device = torch.device("cpu")

    def stage_metric(self, name: str, device: torch.device):
        if device != self.metrics_device:
            self.epoch_metrics = {key: metric.to(device) for key, metric in self.epoch_metrics.items()}
            self.metrics_device = device
        return self.epoch_metrics[name]

    def on_fit_start(self) -> None:
        # under manual optimization Lightning drops a scheduler config's "monitor" (with a warning), so nothing can step it
        plateau = any(isinstance(c.scheduler, ReduceLROnPlateau) for c in self.trainer.lr_scheduler_configs)
        require(
            not plateau,
            "configure_optimizers returns a ReduceLROnPlateau, which the fast steps cannot step (Lightning drops its monitor "
            "under manual optimization); use a scheduler that needs no metric (StepLR, CosineAnnealingLR, ...)",
        )
        self.monitored = {getattr(c, "monitor", None) for c in self.trainer.callbacks} - {None, "", "val_loss"}
        # Lightning's own bars (TQDMProgressBar, RichProgressBar) show what is logged with prog_bar=True; the epoch
        # bar (src/runs/progress.py) reads latest_scalars
        bar = self.trainer.progress_bar_callback
        self.losses_on_bar = bar is not None and not getattr(bar, "reads_latest_scalars", False)

    # --- one Lightning step = a group of mini-batches -----------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self.batch_in_epoch = 0
        # a new epoch's: the metrics that validation computes only every n epochs go. Not at the epoch's last step:
        # with trainer.val_check_interval < 1 epoch, this epoch's validations have run before it
        self.latest_scalars = {}
        losses = self.epoch_metrics["train_loss"]
        if losses.update_count:  # an epoch cut short (a learning-rate finder's) left its sums
            losses.reset()

    def training_step(self, batches: Batches) -> torch.Tensor:
        accumulate = self.step_settings.accumulate_grad_batches
        ends_epoch = self.trainer.is_last_batch  # the epoch's last batch always steps
        first = self.batch_in_epoch
        steps = {i for i in range(len(batches)) if (first + i + 1) % accumulate == 0 or (ends_epoch and i == len(batches) - 1)}
        # Lightning's precision plugin scales 16-bit losses at every backward and step; else it adds only hooks, skipped here
        every_batch_through_lightning = self.trainer.precision in ("16-mixed", "16")
        optimizers = {True: self.optimizers(), False: self.optimizers(use_pl_optimizer=False)}
        last_step, step_schedulers = max(steps, default=None), self.schedulers("step")
        losses = []
        for i, (x, y) in enumerate(batches):
            lightning = every_batch_through_lightning or i == last_step
            loss = self.loss(self(x), y)
            scaled = loss / accumulate if accumulate > 1 else loss
            if self.loss_scale != 1.0:
                scaled = scaled * self.loss_scale
            self.manual_backward(scaled) if lightning else scaled.backward()
            if i in steps:
                optimizer = optimizers[lightning]
                if not lightning:  # Lightning's optimizer clips in on_before_optimizer_step
                    self.clip(optimizer)
                optimizer.step()
                optimizer.zero_grad()
                for config in step_schedulers:
                    if (first + i + 1) % config.frequency == 0:  # Lightning's count: the epoch's mini-batches
                        config.scheduler.step()
            losses.append(loss.detach())
        self.batch_in_epoch += len(batches)
        group_loss = self.add_losses("train", torch.stack(losses), batches)
        if ends_epoch:
            for config in self.schedulers("epoch"):
                if (self.current_epoch + 1) % config.frequency == 0:
                    config.scheduler.step()
        return group_loss  # what Lightning's learning-rate finder reads

    def on_train_batch_end(self, outputs, batches: Batches, batch_idx: int) -> None:
        # the epoch's train_loss, before its validation and the callbacks' epoch end; also when the epoch ends early
        # (max_steps, or max_time or a stop with data.steps_per_execution=1: after the callbacks' on_train_batch_end)
        trainer = self.trainer
        if trainer.is_last_batch or 0 <= trainer.max_steps <= trainer.global_step or self.stops_now(trainer):
            results = self.epoch_results("train")
            self.keep_scalars(results)
            if "train_loss" in self.monitored or self.losses_on_bar:
                self.log("train_loss", results["train_loss"], prog_bar=self.losses_on_bar, **FOR_CALLBACKS)

    @staticmethod
    def stops_now(trainer: L.Trainer) -> bool:
        """A stop (max_time, a signal, EarlyStopping) ends the epoch here; before min_epochs or min_steps Lightning
        trains on with should_stop still set."""
        return (
            trainer.should_stop
            and trainer.current_epoch >= (trainer.min_epochs or 0)
            and trainer.global_step >= (trainer.min_steps or 0)
        )

    def schedulers(self, interval: str) -> list:
        """Manual optimization leaves schedulers to us: each steps at its config's interval and frequency, as under
        Lightning's own."""
        return [config for config in self.trainer.lr_scheduler_configs if config.interval == interval]

    def on_before_optimizer_step(self, optimizer) -> None:
        self.clip(optimizer)  # after Lightning's precision plugin unscaled the gradients

    def clip(self, optimizer) -> None:
        settings = self.step_settings
        if settings.gradient_clip_val:
            self.clip_gradients(optimizer, settings.gradient_clip_val, settings.gradient_clip_algorithm)

    # --- validation and test --------------------------------------------------------------------------------
    def add_losses(self, stage: str, losses: torch.Tensor, batches: Batches) -> torch.Tensor:
        """Add a group's mini-batch losses to the stage's epoch loss, each weighted by its rows; the group's loss."""
        rows = torch.tensor([len(y) for _, y in batches], device=losses.device)
        self.stage_metric(f"{stage}_loss", losses.device).update(losses, rows)
        return (losses * rows).sum() / rows.sum()

    def metrics_to_update(self, stage: str, device: torch.device | None = None) -> dict:
        collection = self.epoch_metrics[stage] if device is None else self.stage_metric(stage, device)
        every = stage == "test" or self.every_metric
        return {name: m for name, m in collection.items(keep_base=False, copy_state=False) if every or name in self.monitored}

    def evaluate_batches(self, batches: Batches, stage: str) -> None:
        """Loss per batch into the stage's epoch loss, predictions of the whole group into the metrics in use. The net
        takes `EVAL_BATCHES_PER_FORWARD` batches in one forward (in eval mode rows do not meet); losses stay per batch."""
        sizes, n = [len(y) for _, y in batches], EVAL_BATCHES_PER_FORWARD
        chunks = [self(torch.cat([x for x, _ in batches[k : k + n]])).split(sizes[k : k + n]) for k in range(0, len(batches), n)]
        outputs = [output for chunk in chunks for output in chunk]
        self.add_losses(stage, torch.stack([self.evaluation_loss(o, y) for o, (_, y) in zip(outputs, batches)]), batches)
        target = torch.cat([y for _, y in batches])
        if stage == "test" and outputs[0].ndim == 3:  # an ensemble: keep its members' outputs to score each alone
            self.member_outputs.append((torch.cat(outputs), target))
        metrics = self.metrics_to_update(stage, target.device)
        if metrics:
            inputs = self.metric_inputs(self.to_predictions(torch.cat(outputs)), target)
            for metric in metrics.values():
                metric.update(*inputs)

    def epoch_results(self, stage: str) -> dict[str, float]:
        """Compute and reset the stage's loss and the metrics updated this epoch (reduced over all ranks)."""
        losses = self.epoch_metrics[f"{stage}_loss"]
        results = {f"{stage}_loss": losses.compute()}
        losses.reset()
        if stage != "train":
            for name, metric in self.metrics_to_update(stage).items():
                value = metric.compute()
                metric.reset()
                if value.numel() == 1:
                    results[name] = value
                else:
                    # per class by class name, or the confusion matrix
                    self.matrices.setdefault(stage, {})[name] = plain_matrix(value, self.class_labels)
        return {k: float(v) for k, v in results.items()}

    def on_validation_epoch_start(self) -> None:
        # the first validated epoch of epochs 1..n, n+1..2n, ... (1, n + 1, ... when every epoch validates): a short run
        # still shows every metric once, and check_val_every_n_epoch=2 still shows them
        trainer, n = self.trainer, self.step_settings.val_metrics_every_n_epochs
        self.every_metric = trainer.sanity_checking or trainer.current_epoch % n < (trainer.check_val_every_n_epoch or 1)

    def validation_step(self, batches: Batches) -> None:
        self.evaluate_batches(batches, "val")

    def on_validation_epoch_end(self) -> None:
        results = self.epoch_results("val")
        if self.trainer.sanity_checking:
            return
        self.keep_scalars(results)
        watched = {k: v for k, v in results.items() if k == "val_loss" or k in self.monitored}
        # for EarlyStopping, ModelCheckpoint, ...
        self.log_dict(watched, prog_bar=self.losses_on_bar, **FOR_CALLBACKS)

    def keep_scalars(self, results: dict[str, float]) -> None:
        self.for_loggers.update(results)
        self.latest_scalars.update(results)

    def on_train_epoch_end(self) -> None:
        # after validation: held for the loggers at Lightning's step for an epoch's metrics, in line with LearningRateMonitor
        step = (self.current_epoch + 1) * self.trainer.num_training_batches - 1
        self.held_for_loggers.append((step, self.for_loggers))
        self.for_loggers = {}
        now = time.monotonic()
        if now >= self.loggers_due:
            self.hand_scalars_to_loggers()
            self.loggers_due = now + LOGGERS_EVERY_S

    def on_train_end(self) -> None:
        self.hand_scalars_to_loggers()

    def hand_scalars_to_loggers(self) -> None:
        for step, scalars in self.held_for_loggers:
            for logger in self.loggers:
                logger.log_metrics(scalars, step=step)
        self.held_for_loggers = []

    def test_step(self, batches: Batches) -> None:
        self.evaluate_batches(batches, "test")

    def on_test_epoch_start(self) -> None:
        self.member_outputs = []

    def on_test_epoch_end(self) -> None:
        self.test_results = self.epoch_results("test")
        self.log_dict(self.test_results, **FOR_CALLBACKS)  # loggers get them once: hp/test_*
        if self.member_outputs and self.trainer.world_size == 1:  # under DDP each rank holds only its share of the rows
            outputs, target = (torch.cat(parts) for parts in zip(*self.member_outputs))
            self.matrices.setdefault("test", {})["test_members"] = self.score_members(outputs, target)
        self.member_outputs = []
