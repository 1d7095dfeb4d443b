"""Fitting one run with Lightning's Trainer, and testing its best model (the lesson's loop: src/reference/fit_plain.py)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import Logger
from lightning.pytorch.tuner import Tuner
from omegaconf import DictConfig, OmegaConf

from src.errors import UserError, require
from src.models.fast_steps import build_trainer
from src.reporting.history import LossHistory
from src.reporting.results import RunResult
from src.runs.checkpoints.latest import LatestCheckpoint
from src.runs.checkpoints.read import ResumePoint, checkpoint_epoch
from src.runs.rng_state import RNGState
from src.runs.stop_on_signal import StopOnSignal, hold_cluster_stops


def build_callbacks(nodes: DictConfig) -> list[Callback]:
    """The config's callbacks; a node that is not one is refused in one line naming `callbacks.<key>`."""
    callbacks = []
    for key, node in nodes.items():
        if node is None:  # left out, e.g. callbacks.early_stopping=null
            continue
        example = f"'+callbacks.{key}={{_target_: lightning.pytorch.callbacks.LearningRateMonitor}}'"
        require(OmegaConf.is_dict(node) and "_target_" in node, f"callbacks.{key} needs a _target_, e.g. {example}")
        try:
            callback = instantiate(node)
        except InstantiationException as exc:  # a misspelt class or a setting the callback refuses
            raise UserError(f"callbacks.{key}: {' '.join(str(exc.__cause__ or exc).split())}") from None
        require(isinstance(callback, Callback), f"callbacks.{key}._target_={node._target_} is not a Lightning Callback")
        callbacks.append(callback)
    return callbacks


def fit_with_lightning(
    cfg: DictConfig,
    datamodule,
    model,
    loggers: list[Logger],
    resume: ResumePoint | None = None,
    report: Callback | None = None,
    extra_callbacks=(),
) -> RunResult:
    """`report` (src/reporting/report.py's RunReport) writes what the tested model shows when testing ends."""
    start = time.perf_counter()
    history, stop = LossHistory(), StopOnSignal()
    callbacks = build_callbacks(cfg.callbacks)
    # a run that early stopping had already stopped (killed while testing) only needs its testing and report
    limits = {"max_epochs": resume.epochs_done} if resume is not None and resume.training_done else {}
    trainer = build_trainer(
        cfg.trainer,
        model,
        callbacks=[*callbacks, history, RNGState(), stop, *([report] if report else []), *extra_callbacks],
        logger=list(loggers) or False,
        **limits,
    )
    if resume is not None:  # the run's own checkpoints are there by design
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    elif cfg.trainer.get("lr_find"):
        find_learning_rate(cfg, datamodule, model)
    with stopped_by_signal(stop):
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume.checkpoint if resume else None, weights_only=True)
    if stop.signal is None and report is not None:  # until train.py has written metrics.json (results_written)
        hold_cluster_stops()
    trainer.strategy.barrier()  # under DDP, rank 0 has written the checkpoint files before anyone reads them
    # read the fit's outcome first: testing from a checkpoint restores the callbacks' states saved in it
    checkpoint, early_stopping = trainer.checkpoint_callback, trainer.early_stopping_callback
    latest = next((c for c in trainer.callbacks if isinstance(c, LatestCheckpoint)), None)
    # a resumed run that took no snapshot of its own (interrupted early, or only testing) still has the one it resumed from
    last_checkpoint_epoch = (latest.epoch or (resume.epochs_done if resume else 0)) if latest is not None else None
    train_loss, val_loss = list(history.train_loss), list(history.val_loss)
    seconds_before = history.seconds_before  # testing from best.ckpt restores the older seconds saved there
    stopped_early = early_stopping is not None and early_stopping.stopped_epoch > 0
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # trainer.max_time's
    out_of_time = timer is not None and (timer.time_remaining("train") or 0) <= 0
    best_path = str(checkpoint.best_model_path)
    best_epoch = (checkpoint_epoch(best_path) or 0) if best_path else 0
    # the val_loss of the epoch best.ckpt holds: its score is another metric when the checkpoint monitors one
    best_val_loss = val_loss[best_epoch - 1] if 0 < best_epoch <= len(val_loss) else math.inf
    test, matrices, tested = {}, {}, None
    # no finite best val_loss, no model worth testing (ModelCheckpoint never prefers a non-finite val_loss to a finite one)
    if stop.signal is None and math.isfinite(best_val_loss):
        with stopped_by_signal(stop):
            trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)
            test, matrices, tested = dict(model.test_results), dict(model.matrices.get("test", {})), best_path
    close_process_group()
    return RunResult.from_history(
        "lightning",
        train_loss,
        val_loss,
        start - seconds_before,  # a resumed run's wall time counts its training before the resume
        best_epoch=best_epoch,
        best_val_loss=best_val_loss,
        test=test,
        matrices=matrices,
        tested_checkpoint=tested,
        stopped_early=stopped_early,
        out_of_time=out_of_time,
        interrupted=stop.signal is not None,
        interrupted_by=stop.signal.name if stop.signal is not None else None,
        interrupted_epoch=stop.epoch,
        last_checkpoint_epoch=last_checkpoint_epoch,
    )


def close_process_group() -> None:
    """Under DDP each rank closes its process group when its last collective is done. Lightning 2.6 does so at exit
    for NCCL only; a gloo rank that exits with its group open can abort in the interpreter's finalization (SIGABRT,
    "terminate called without an active exception": pytorch/pytorch#179291), and its launcher then stops the others."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def find_learning_rate(cfg: DictConfig, datamodule, model) -> None:
    """Lightning's learning-rate finder (`trainer.lr_find=true`), one mini-batch per step on a Trainer of its own;
    saves lr_find.png in the run folder and prints the suggested rate."""
    import matplotlib

    matplotlib.use("Agg")  # before the finder's plot imports pyplot
    quiet = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False}
    # max_epochs=-1: its own steps (100) end it, not the run's epochs (3 epochs of 11 batches stopped it at 33)
    trainer = build_trainer(cfg.trainer, model, callbacks=[], **quiet, num_sanity_val_steps=0, max_epochs=-1)
    steps, datamodule.steps_per_execution = datamodule.steps_per_execution, 1  # each loss it records is one batch's
    # no schedule of the model's own: the finder replaces it, and one over max_epochs=-1 epochs cannot be built
    schedule, model.lr_schedule = model.lr_schedule, None
    try:
        finder = Tuner(trainer).lr_find(model, datamodule=datamodule, update_attr=False)
    finally:
        datamodule.steps_per_execution, model.lr_schedule = steps, schedule
    lrs, losses = finder.results["lr"], finder.results["loss"]
    steepest = steepest_fall(lrs, losses)
    figure = finder.plot()
    if steepest is not None:
        figure.axes[0].plot(lrs[steepest], losses[steepest], markersize=10, marker="o", color="red")
    plot = Path(cfg.paths.output_dir) / "lr_find.png"
    figure.savefig(plot, dpi=100)
    said = "no suggestion from these losses" if steepest is None else f"suggested model.optimizer.lr={lrs[steepest]:.3g}"
    print(f"learning-rate finder: {said}; plot: {plot}")


def steepest_fall(lrs: list[float], losses: list[float], skip_begin: int = 10, skip_end: int = 1) -> int | None:
    """Where the finder's loss falls fastest against log10(lr), its rates being log-spaced. Lightning 2.6.6's own
    suggestion() takes the slope against the rate itself (issue #21141), so a wobble among the tiny first rates
    outweighs the real fall near 0.1: it suggested 1.45e-06 for the cancer default."""
    kept = [i for i in range(skip_begin, len(lrs) - skip_end) if math.isfinite(losses[i])]
    if len(kept) < 2:
        return None
    slopes = np.gradient([losses[i] for i in kept], [math.log10(lrs[i]) for i in kept])
    return kept[int(np.argmin(slopes))]


@contextmanager
def stopped_by_signal(stop) -> Iterator[None]:
    """Lightning ends fit or test with SystemExit after SIGTERM and Ctrl+C, its checkpoints written; when StopOnSignal
    saw the signal, the run goes on to report what it has."""
    try:
        yield
    except SystemExit:
        if stop.signal is None:
            raise
