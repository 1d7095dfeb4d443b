"""Train and test one experiment: `python -m src.train [experiment=housing] [key=value ...]`.
Validate, build the DataModule, model and loggers, fit (src/runs/fit.py or src/reference/), test, report.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from src.config import check_command_line, validate_config  # importing it registers the resolvers Hydra composes with
from src.errors import UserError, first_line
from src.reporting.results import RunResult
from src.runs.faults import files_kept_on_write_failure
from src.runs.resume import flatten_config, in_multirun, resume_command, run_folder, started_run
from src.runs.run_dir import remove_refused_run_dir


def build_datamodule(cfg: DictConfig):
    try:
        datamodule = instantiate(cfg.data, _recursive_=False)  # data.source is called in setup, not while composing
    except InstantiationException as exc:  # `+data.foo=1`: the DataModule's TypeError names the key
        raise UserError(f"data: {first_line(exc.__cause__ or exc)}") from None
    datamodule.setup("fit")  # data.task null: inferred from the data, and read from the DataModule from here on
    return datamodule


def build_model(cfg: DictConfig, datamodule):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from src.models.fast_steps import FastSteps, check_monitors, check_step_callbacks
    from src.models.tasks import build_for_data

    model = build_for_data(cfg.model, datamodule)
    # an example row: the model summary shows each layer's sizes and FLOPs, when torch's FLOP counter can follow the net
    example, outputs = torch.zeros(1, datamodule.n_features), None
    with contextlib.suppress(AssertionError, RuntimeError), torch.no_grad(), FlopCounterMode(display=False):
        outputs = model.eval()(example)
        model.example_input_array = example
    model.train()
    if outputs is not None:  # a user's net of the wrong shape: refused now, not after an epoch on a broadcast loss
        model.check_output_shape(outputs, rows=len(example))
    # refused here, before the run's folder is used: what the callbacks watch, and a GPU that is not there
    if cfg.runner == "lightning" and isinstance(model, FastSteps):
        check_monitors(cfg.callbacks, model)
        check_step_callbacks(cfg.callbacks, model)
    accelerator = str(cfg.trainer.get("accelerator"))
    mps = accelerator == "gpu" and torch.backends.mps.is_available()  # Lightning's "gpu" is CUDA or Apple's MPS
    if accelerator in ("gpu", "cuda") and not (torch.cuda.is_available() or mps):
        raise UserError(f"trainer.accelerator={accelerator}, but torch sees no GPU on this machine; use trainer.accelerator=cpu")
    return model


# log lines that repeat what the run's own output says (or say nothing on a CPU machine), by the logger that writes them
KNOWN_NOISE = {
    "lightning.pytorch.utilities.rank_zero": (
        "litlogger",
        "GPU available: False",
        "TPU available: False",
        "`Trainer(val_check_interval=1.0)` was configured",
        "Restoring states from the checkpoint path",  # the table says which checkpoint was tested
        "Loaded model weights from the checkpoint",
        ".lr_find_",  # trainer.lr_find=true: the finder's own temporary checkpoint, restored and deleted
        "`Trainer.fit` stopped:",  # the progress bar's last line and the report say where and why
    ),
    "lightning.pytorch.trainer.connectors.checkpoint_connector": ("`weights_only` was not set",),  # the finder's own
    "lightning.pytorch.loggers.mlflow": ("not found. Creating it",),  # logger=mlflow: a notice for each new experiment
}


def quiet_known_noise() -> None:
    warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")  # we test the first: best
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # Lightning vs torch 2.13
    warnings.filterwarnings("ignore", message=r"Precision .* is not supported by the model summary")  # bf16: its MB estimate
    if "SLURM_JOB_ID" not in os.environ:  # not under SLURM: Lightning's hint to use srun only because srun is installed
        warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system")
    for name, lines in KNOWN_NOISE.items():
        logging.getLogger(name).addFilter(lambda record, lines=lines: not any(line in record.getMessage() for line in lines))
    # logger=mlflow: the tracking database's set-up, line by line
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def train(cfg: DictConfig) -> RunResult:
    """Validate; the data and the model; then, in the run's folder, fit, test and report. Returns the RunResult."""
    validate_config(cfg)  # before torch and Lightning are imported: a mistake is reported in about a second
    import lightning as L
    import torch
    from lightning.pytorch.utilities import rank_zero_only

    from src.reporting.loggers import build_loggers, hyperparameters
    from src.reporting.report import RunReport
    from src.runs.stop_on_signal import results_written

    with started_run(cfg) as run:  # a read-only copy of cfg; a resume that would not continue the same run is refused
        if run.finished is not None:  # a re-submitted sweep's job that had finished
            print(f"{run.run_dir} had finished: its metrics.json is reported, not run again", file=sys.stderr)
            return run.finished
        cfg, run_dir = run.cfg, run.run_dir
        flat = flatten_config(cfg)
        quiet_known_noise()
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        L.seed_everything(cfg.seed, verbose=False)
        datamodule = build_datamodule(cfg)  # a mistake in the data or the net is refused before the folder is used
        model = build_model(cfg, datamodule)
        writes_files = rank_zero_only.rank == 0  # under DDP only rank 0 writes
        if cfg.runner == "plain":  # the lesson's loop, kept apart from the Lightning path
            from src.reference.fit_plain import fit_with_plain_loop as fit
        else:
            from src.runs.fit import fit_with_lightning as fit
        settings = hyperparameters(flat)
        loggers = build_loggers(cfg)  # a logger's mistake too is refused before the folder is used
        command = None if run.temporary else resume_command(run_dir)
        report = RunReport(run_dir, cfg.name, cfg.seed, loggers, settings, cfg.get("importance"), run.resume, command)
        with files_kept_on_write_failure(run_dir), run_folder(run, writes_files), results_written():
            result = fit(cfg, datamodule, model, loggers, run.resume, report)
            if writes_files:
                report.finish(result, datamodule)
        return result


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    multirun = in_multirun()  # a job's user error or diverged run is a failed job (Hydra, Optuna), and the sweep goes on
    try:
        result = train(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if multirun:
            raise
        # one line, and no run folder left behind when nothing of the run was written
        remove_refused_run_dir(Path(HydraConfig.get().runtime.output_dir), HydraConfig.get().output_subdir)
        sys.exit(2)
    except KeyboardInterrupt:
        if multirun:
            raise
        print("interrupted before training started", file=sys.stderr)  # nothing to keep
        sys.exit(128 + signal.SIGINT)
    if result.interrupted:  # a signal stops a sweep too (Ctrl+C, or the cluster's end of time)
        sys.exit(128 + signal.Signals[result.interrupted_by])  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    if not (multirun or math.isfinite(result.best_val_loss)):
        sys.exit(1)
    return result.best_val_loss


if __name__ == "__main__":
    check_command_line("train")
    main()
