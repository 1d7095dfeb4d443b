"""Train and test one experiment: `python -m src.train [experiment=housing] [key=value ...]`.

Compose the config, validate it, build the DataModule, the model and the loggers, fit, test, report. Fitting is in
src/runs/fit.py, what keeps a run safe (its folder, checkpoints, resume, signals) in src/runs/, the report in
src/reporting/.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import src.config  # noqa: F401  (registers the config's resolvers before Hydra composes anything)
from src.errors import user_errors_exit
from src.reporting.results import RunResult
from src.runs.fit import fit_with_lightning, fit_with_plain_loop
from src.runs.resume import ResumePoint
from src.runs.run_dir import register_resolvers

register_resolvers()  # before @hydra.main composes: conf/train.yaml's hydra.run.dir calls them

__all__ = ["build_datamodule", "build_model", "fit_with_lightning", "fit_with_plain_loop", "train"]


def build_datamodule(cfg: DictConfig):
    from hydra.utils import instantiate

    datamodule = instantiate(cfg.data, _recursive_=False)  # data.source is called in setup, not while composing
    datamodule.setup("fit")
    cfg.data.task = datamodule.task  # null in the config means inferred from the data; the model config reads it
    return datamodule


def build_model(cfg: DictConfig, datamodule):
    from src.models.tasks import build_for_data

    return build_for_data(cfg.model, datamodule)


def quiet_known_noise() -> None:
    """Silence messages that say nothing about the user's run."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")  # we test the first: best
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # Lightning vs torch 2.13
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda record: "litlogger" not in record.getMessage())
    # logger=mlflow: the tracking database's set-up, line by line, and a notice for each new experiment
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.loggers.mlflow").addFilter(
        lambda record: "not found. Creating it" not in record.getMessage()
    )


def train(cfg: DictConfig) -> RunResult:
    """Compose-validate-build-fit-test-report; returns the RunResult."""
    from src.config import validate_config
    from src.runs.resume import resume_point

    validate_config(cfg)
    if cfg.paths.output_dir is None:  # debug=fast: every file of the run goes into a temporary folder, removed at the end
        with tempfile.TemporaryDirectory(prefix="tabular-debug-") as tmp:
            cfg.paths.output_dir = tmp
            return train(cfg)
    from src.sweeps import job_resume

    job = job_resume.sweep_job_state(cfg, Path(cfg.paths.output_dir))  # a re-submitted sweep's job, in its own folder
    if job == job_resume.FINISHED:
        return job_resume.finished_result(Path(cfg.paths.output_dir))
    if job in (job_resume.RESUME, job_resume.START_OVER):  # resume=latest, or SLURM requeued the job
        cfg.resume = "latest" if job == job_resume.RESUME else None
    resume = resume_point(cfg)  # a resume that would not continue the same run is refused before any work
    quiet_known_noise()
    from lightning.pytorch.utilities import rank_zero_only

    from src.runs.atomic import write_text_atomically
    from src.runs.faults import files_kept_on_write_failure
    from src.runs.run_dir import hold_run_dir

    run_dir = Path(cfg.paths.output_dir)
    if rank_zero_only.rank != 0:  # under DDP only rank 0 writes
        return fit_and_report(cfg, resume, run_dir, writes_files=False)
    # a file that cannot be written (disk full, read-only folder) ends the run in one line naming the checkpoints kept
    with files_kept_on_write_failure(run_dir), hold_run_dir(run_dir, resuming=resume is not None or job == job_resume.START_OVER):
        if resume is None:  # a resumed run keeps the config.yaml it started with (and checked against it)
            write_text_atomically(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
        return fit_and_report(cfg, resume, run_dir, writes_files=True)


def fit_and_report(cfg: DictConfig, resume: ResumePoint | None, run_dir: Path, writes_files: bool) -> RunResult:
    import lightning as L
    import torch

    from src.reporting.loggers import build_loggers
    from src.reporting.report import report_run

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    loggers = build_loggers(cfg)
    fit = fit_with_plain_loop if cfg.runner == "plain" else fit_with_lightning
    result = fit(cfg, datamodule, model, loggers, resume)
    if writes_files:
        report_run(cfg, run_dir, result, model, datamodule, loggers, resume)
        if result.test and getattr(datamodule, "cv", None):  # one fold of a cv.folds sweep: its out-of-fold predictions
            from src.reporting.cross_validation import write_fold_predictions

            write_fold_predictions(run_dir / "val_predictions.csv", model, datamodule)
    return result


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
