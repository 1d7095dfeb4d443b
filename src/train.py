"""Train and test one experiment: `python -m src.train [experiment=housing] [key=value ...]`."""

from __future__ import annotations

import math
import shlex
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import src.config  # noqa: F401  (registers the config's resolvers before Hydra composes anything)
from src.errors import user_errors_exit
from src.resume import ResumePoint
from src.run_dir import register_resolvers

register_resolvers()  # before @hydra.main composes: conf/train.yaml's hydra.run.dir calls them


def build_datamodule(cfg: DictConfig):
    from hydra.utils import instantiate

    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return datamodule


def build_model(cfg: DictConfig, n_features: int):
    from hydra.utils import instantiate

    return instantiate(cfg.model, n_features=n_features, _convert_="all")


def fit_with_lightning(cfg: DictConfig, datamodule, model, logger, resume: ResumePoint | None = None, extra_callbacks=()):
    import torch
    from hydra.utils import instantiate

    from src.callbacks.latest_checkpoint import LatestCheckpoint
    from src.callbacks.rng_state import RNGState
    from src.callbacks.stop_on_signal import StopOnSignal
    from src.reporting.history import LossHistory
    from src.reporting.results import RunResult

    start = time.perf_counter()
    history, stop = LossHistory(), StopOnSignal()
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None and "_target_" in c]
    # a run that early stopping had already stopped (killed while testing) only needs its testing and report
    limits = {"max_epochs": resume.epochs_done} if resume is not None and resume.training_done else {}
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, history, RNGState(), stop, *extra_callbacks], logger=logger, **limits)
    if resume is not None:  # the run's own checkpoints are there by design
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    with stopped_by_signal(stop):
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume.checkpoint if resume else None, weights_only=True)
    trainer.strategy.barrier()  # under DDP, rank 0 has written the checkpoint files before anyone reads them
    # read the fit's outcome first: testing from a checkpoint restores the callbacks' states saved in it
    checkpoint, early_stopping = trainer.checkpoint_callback, trainer.early_stopping_callback
    latest = next((c for c in trainer.callbacks if isinstance(c, LatestCheckpoint)), None)
    # a resumed run that took no snapshot of its own (interrupted early, or only testing) still has the one it resumed from
    last_checkpoint_epoch = (latest.epoch or (resume.epochs_done if resume else 0)) if latest is not None else None
    train_loss, val_loss = list(history.train_loss), list(history.val_loss)
    best_path = str(checkpoint.best_model_path)
    best_val_loss = float(checkpoint.best_model_score) if best_path else math.inf
    stopped_early = early_stopping is not None and early_stopping.stopped_epoch > 0
    best_epoch = torch.load(best_path, map_location="cpu", weights_only=True)["epoch"] + 1 if best_path else 0  # Lightning counts from 0
    test, matrices, tested = {}, {}, None
    # without a finite best val_loss there is no model worth testing (ModelCheckpoint never prefers a NaN or inf
    # val_loss to a finite one, so an earlier good best.ckpt is what gets tested after a non-finite epoch)
    if stop.signal is None and math.isfinite(best_val_loss):
        with stopped_by_signal(stop):
            trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)
            test, matrices, tested = dict(model.test_results), dict(model.matrices.get("test", {})), best_path
    return RunResult(
        runner="lightning",
        test=test,
        best_epoch=best_epoch,
        best_val_loss=best_val_loss,
        stopped_epoch=len(val_loss),
        wall_time_s=time.perf_counter() - start,
        train_loss=train_loss,
        val_loss=val_loss,
        matrices=matrices,
        tested_checkpoint=tested,
        stopped_early=stopped_early,
        interrupted=stop.signal is not None,
        interrupted_by=stop.signal.name if stop.signal is not None else None,
        interrupted_epoch=stop.epoch,
        last_checkpoint_epoch=last_checkpoint_epoch,
    )


@contextmanager
def stopped_by_signal(stop) -> Iterator[None]:
    """Lightning ends fit or test with SystemExit after SIGTERM (SIGTERMException) and after Ctrl+C (exit 1), having
    written its checkpoints; when StopOnSignal saw the signal, the run goes on to report what it has."""
    try:
        yield
    except SystemExit:
        if stop.signal is None:
            raise


# `resume` is always None here (src.resume refuses runner=plain): the signature is the Lightning path's
def fit_with_plain_loop(cfg: DictConfig, datamodule, model, logger, resume: ResumePoint | None = None):
    import torch

    from src.callbacks.stop_on_signal import signals_raise_keyboard_interrupt
    from src.reference.plain_loop import train_plain
    from src.reporting.results import RunResult

    # the lesson's loop on the trainer's accelerator: model and every split on the device, shuffled there
    on_gpu = cfg.trainer.accelerator in ("gpu", "cuda") or (cfg.trainer.accelerator == "auto" and torch.cuda.is_available())
    datamodule.device = torch.device("cuda" if on_gpu else "cpu")
    model.to(datamodule.device)

    start = time.perf_counter()
    history = {"train_loss": [], "val_loss": []}  # kept here too: an interrupted loop returns nothing

    def log_epoch(metrics: dict, epoch: int) -> None:
        for name, losses in history.items():  # recorded before logging: a signal while logging keeps the epoch
            losses.append(metrics[name])
        logger.log_metrics(metrics, step=epoch)

    with signals_raise_keyboard_interrupt() as received:
        try:
            return train_plain(
                model,
                datamodule,
                max_epochs=cfg.trainer.max_epochs,
                patience=early_stopping.patience if (early_stopping := cfg.callbacks.get("early_stopping")) else None,
                log_epoch=log_epoch,
            )
        except KeyboardInterrupt:
            signal_name = received[0].name if received else "SIGINT"
    val_loss = history["val_loss"]
    finite = [loss for loss in val_loss if math.isfinite(loss)]
    best_val_loss = min(finite, default=math.inf)
    return RunResult(
        runner="plain",
        test={},
        best_epoch=val_loss.index(best_val_loss) + 1 if finite else 0,
        best_val_loss=best_val_loss,
        stopped_epoch=len(val_loss),
        wall_time_s=time.perf_counter() - start,
        train_loss=history["train_loss"],
        val_loss=val_loss,
        interrupted=True,
        interrupted_by=signal_name,
        interrupted_epoch=len(val_loss) + 1,
    )


def quiet_known_noise() -> None:
    """Silence messages that say nothing about the user's run."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")  # we test the first: best
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # Lightning vs torch 2.13
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda record: "litlogger" not in record.getMessage())


def train(cfg: DictConfig):
    """Compose-validate-build-fit-test-report; returns the RunResult."""
    from src.config import validate_config
    from src.resume import resume_point

    validate_config(cfg)
    if cfg.paths.output_dir is None:  # debug=fast: every file of the run goes into a temporary folder, removed at the end
        with tempfile.TemporaryDirectory(prefix="tabular-debug-") as tmp:
            cfg.paths.output_dir = tmp
            return train(cfg)
    from src.sweeps import job_resume

    job = job_resume.sweep_job_state(cfg, Path(cfg.paths.output_dir))  # a re-submitted sweep's job, in its own folder
    if job == job_resume.FINISHED:
        return job_resume.finished_result(Path(cfg.paths.output_dir))
    if job == job_resume.START_OVER:
        cfg.resume = None
    resume = resume_point(cfg)  # a resume that would not continue the same run is refused before any work
    quiet_known_noise()
    from lightning.pytorch.utilities import rank_zero_only

    from src.run_dir import hold_run_dir

    run_dir = Path(cfg.paths.output_dir)
    if rank_zero_only.rank != 0:  # under DDP only rank 0 writes
        return fit_and_report(cfg, resume, run_dir, writes_files=False)
    with hold_run_dir(run_dir, resuming=resume is not None or job == job_resume.START_OVER):
        if resume is None:  # a resumed run keeps the config.yaml it started with (and checked against it)
            OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        return fit_and_report(cfg, resume, run_dir, writes_files=True)


def fit_and_report(cfg: DictConfig, resume: ResumePoint | None, run_dir: Path, writes_files: bool):
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from src.reporting.report import write_test_report
    from src.reporting.results import print_metrics_table, write_metrics_json
    from src.reporting.stops import stop_message, stop_reason

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule.n_features)
    logger = instantiate(cfg.logger)
    fit = fit_with_plain_loop if cfg.runner == "plain" else fit_with_lightning
    result = fit(cfg, datamodule, model, logger, resume)
    result.stop_reason = stop_reason(result)
    if not math.isfinite(result.best_val_loss):  # no epoch had a finite val_loss: no model is worth testing
        result.test, result.matrices = {}, {}
    if not writes_files:
        return result
    if result.test:  # an interrupted run, or one without a finite val_loss, tested nothing to report on
        # the model now holds the tested (best) weights: figures, test predictions and the constant-guess check
        diagnosis = write_test_report(run_dir, model, datamodule, result.matrices, logger, step=result.stopped_epoch, history=result)
        result.warnings, result.diagnostics = diagnosis.warnings, diagnosis.details
        if getattr(datamodule, "cv", None):  # one fold of a cv.folds sweep: its part of the out-of-fold predictions
            from src.reporting.cross_validation import write_fold_predictions

            write_fold_predictions(run_dir / "val_predictions.csv", model, datamodule)

    if not result.interrupted:
        logger.log_hyperparams(
            flat_config(cfg), metrics={"hp/best_val_loss": result.best_val_loss, **{f"hp/{k}": v for k, v in result.test.items()}}
        )
    logger.finalize("success")
    message = stop_message(result, resume_command(run_dir))
    extra = {"experiment": cfg.name, "seed": cfg.seed, "stop_message": message}
    if resume is not None:
        extra["resumed_from"] = {"checkpoint": str(resume.checkpoint), "epoch": resume.epochs_done}
    write_metrics_json(run_dir / "metrics.json", result, extra=extra)
    print_metrics_table(result, title=f"{cfg.name} ({cfg.runner}) test metrics — {run_dir}")
    if message:
        print(message, file=sys.stderr)
    return result


def resume_command(run_dir: Path) -> str:
    """The command line that resumes this run: its own overrides and its last.ckpt."""
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [o for o in overrides if o.split("=")[0].lstrip("+~") not in ("ckpt_path", "resume")]
    last = run_dir.absolute() / "checkpoints" / "last.ckpt"
    return shlex.join(["python", "-m", "src.train", *kept, f"ckpt_path={last}"])


def flat_config(cfg: DictConfig) -> dict:
    """The run's settings as flat key: value pairs for TensorBoard's hyperparameter tab."""
    flat = {}

    def walk(node, prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, f"{name}.")
            elif key == "_target_" or not str(key).startswith("_"):  # the class names matter, _partial_ does not
                flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from src.sweeps.job_resume import in_multirun

    if in_multirun():  # a job's user error or diverged run is a failed job (Hydra, Optuna), and the sweep goes on
        from src.errors import UserError

        try:
            result = train(cfg)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise
        if result.interrupted:  # a signal stops the sweep too (Ctrl+C, or the cluster's end of time)
            sys.exit(128 + signal.Signals[result.interrupted_by])
        return result.best_val_loss
    try:
        with user_errors_exit():
            result = train(cfg)
    except KeyboardInterrupt:  # Ctrl+C before training started: nothing to keep
        print("interrupted before training started", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)
    if result.interrupted:
        sys.exit(128 + signal.Signals[result.interrupted_by])  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    if not math.isfinite(result.best_val_loss):
        sys.exit(1)
    return result.best_val_loss


if __name__ == "__main__":
    main()
