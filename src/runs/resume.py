"""How a run starts in its folder: new, continued from a checkpoint (`ckpt_path=<run>/checkpoints/last.ckpt` or
`resume=latest`, with the run's own settings), or a re-submitted sweep's job (finished: its metrics.json is reported;
with a last.ckpt: resumed; else started over)."""

from __future__ import annotations

import copy
import json
import os
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from src.atomic import write_text_atomically
from src.errors import UserError, first_line, require
from src.reporting.run_names import pasteable_argument
from src.runs.checkpoints.read import ResumePoint, checkpoint_file, read_resume_point
from src.runs.run_dir import RUN_FILES, START_KEYS, hold_run_dir, latest_run_dir, without_start_keys

if TYPE_CHECKING:
    from src.reporting.results import RunResult

# settings a resumed run may change without changing what it computes (logger.: where its scalars also go)
MAY_DIFFER = (
    *START_KEYS,
    "paths.",
    "logger.",
    "trainer.max_epochs",
    "trainer.enable_progress_bar",
    "data.source.data_home",  # where the data is found, not what it is
    "data.source.download",
)

TEMPORARY_RUN_PREFIX = "tabular-debug-"  # a run folder removed when the run ends (paths.output_dir: null)


@dataclass
class RunStart:
    cfg: DictConfig  # a read-only copy of the validated config
    run_dir: Path
    resume: ResumePoint | None = None  # the checkpoint this start continues from
    start_over: bool = False  # a re-submitted sweep's job that saved no snapshot: it starts again in its folder
    finished: RunResult | None = None  # a re-submitted sweep's job that had finished: nothing runs again

    @property
    def temporary(self) -> bool:
        return self.run_dir.name.startswith(TEMPORARY_RUN_PREFIX)


@contextmanager
def started_run(cfg: DictConfig) -> Iterator[RunStart]:
    """How this run starts, on a read-only copy of `cfg`, refusing a resume of another run. `paths.output_dir: null`
    (debug=fast) names a temporary folder, removed when the run ends."""
    cfg = copy.deepcopy(cfg)
    with ExitStack() as stack:
        if cfg.paths.output_dir is None:
            cfg.paths.output_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix=TEMPORARY_RUN_PREFIX))
        OmegaConf.set_readonly(cfg, True)
        yield run_start(cfg, Path(cfg.paths.output_dir))


def run_start(cfg: DictConfig, run_dir: Path) -> RunStart:
    resume = cfg.get("resume")
    if resubmitted_sweep_job(cfg):
        metrics = run_dir / "metrics.json"
        saved = json.loads(metrics.read_text()) if metrics.is_file() else {"interrupted": True}
        if not saved.get("interrupted", False):  # finished: the RunResult it reported
            from src.reporting.results import RunResult

            result = RunResult(**{f.name: saved[f.name] for f in fields(RunResult) if f.name in saved})
            return RunStart(cfg, run_dir, finished=result)
        if not (run_dir / "checkpoints" / "last.ckpt").is_file():  # killed before its first snapshot, or never started
            return RunStart(cfg, run_dir, start_over=True)
        resume = "latest"
    return RunStart(cfg, run_dir, resume=resume_point(cfg, resume))


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def requeued() -> bool:
    """SLURM started this job again after it had begun (its SLURM_RESTART_COUNT counts the restarts)."""
    return os.environ.get("SLURM_RESTART_COUNT", "").strip() not in ("", "0")


def resubmitted_sweep_job(cfg: DictConfig) -> bool:
    """A job of a sweep submitted again with resume=latest, or requeued by SLURM: it continues in its own folder."""
    return cfg.get("ckpt_path") is None and in_multirun() and (cfg.get("resume") == "latest" or requeued())


def resume_point(cfg: DictConfig, resume: str | None) -> ResumePoint | None:
    """The checkpoint this run continues from, or None for a new run; a UserError for anything else."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None and resume is None:
        return None
    if resume not in (None, "latest"):
        raise UserError(
            f"resume must be null or latest; got {resume!r} (to resume a given run, use ckpt_path=<run>/checkpoints/last.ckpt)"
        )
    if ckpt_path is not None and resume is not None:
        raise UserError(f"set ckpt_path or resume, not both; got ckpt_path={ckpt_path} and resume={resume}")
    if cfg.runner != "lightning":
        raise UserError(f"runner={cfg.runner} keeps no checkpoints to resume from; resuming needs runner=lightning")

    run_dir = Path(cfg.paths.output_dir).absolute()
    given = run_dir if resume == "latest" else Path(ckpt_path).absolute()
    if resume == "latest" and not (run_dir / "checkpoints" / "last.ckpt").is_file():
        runs = Path(cfg.paths.log_dir) / cfg.name / "runs"
        finished = latest_run_dir(runs, finished_too=True)  # resume=latest passes over finished runs
        require(
            finished is None,
            f"resume=latest: every {cfg.name} run under {runs} that saved a checkpoint has finished (the newest: {finished}), "
            "so there is nothing to resume (a run stopped before its first checkpoint has none); leave out resume=latest "
            "to start a new run",
        )
        raise UserError(f"resume=latest: no {cfg.name} run with checkpoints/last.ckpt under {runs}")
    require(given.exists(), f"ckpt_path={ckpt_path}: no such file")
    # hydra.run.dir is the checkpoint's own run folder (src/runs/run_dir.py) when it is inside one
    if given != run_dir and given.parent != run_dir / "checkpoints":
        raise UserError(
            f"ckpt_path={ckpt_path} is not in this run's folder ({run_dir}/checkpoints/): a run resumes in its own "
            "folder, so the checkpoint must be <run>/checkpoints/<file>.ckpt of a run that has <run>/config.yaml"
        )
    check_same_settings(cfg, run_dir)  # first: a checkpoint of other data says so, finished or not
    check_not_finished(run_dir)
    checkpoint = checkpoint_file(given, "last.ckpt")  # a run's folder: its last.ckpt
    point = read_resume_point(checkpoint)
    check_epochs_left(cfg, run_dir, point)
    return point


def check_not_finished(run_dir: Path) -> None:
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return  # killed before it could write one
    try:
        result = json.loads(metrics.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{metrics} is not readable ({exc}); move it aside to resume the run from its last.ckpt") from None
    if not result.get("interrupted", False):
        raise UserError(
            f"the run in {run_dir} has finished (stopped at epoch {result.get('stopped_epoch')}, "
            f"{result.get('stop_reason', 'completed')}); its results are in metrics.json and there is nothing to resume"
        )


def check_epochs_left(cfg: DictConfig, run_dir: Path, point: ResumePoint) -> None:
    """A resumed trainer.max_epochs must leave epochs to train, unless the run's training was over (early stopping
    had stopped it, or it had trained its own max_epochs) and only its testing is left; else Lightning refuses the
    checkpoint with a traceback after the loggers have made their folders."""
    max_epochs = cfg.trainer.max_epochs
    own = read_run_config(run_dir).get("trainer", {}).get("max_epochs")
    if point.training_done or max_epochs > point.epochs_done or max_epochs == point.epochs_done == own:
        return
    raise UserError(
        f"trainer.max_epochs={max_epochs} is not above the {point.epochs_done} epochs {run_dir} has trained; "
        "resume with a larger trainer.max_epochs"
    )


def check_same_settings(cfg: DictConfig, run_dir: Path) -> None:
    saved = flatten_config(read_run_config(run_dir))
    now = flatten_config(cfg)
    missing = "<unset>"
    # a learning-rate schedule spans trainer.max_epochs, so with one the number of epochs is part of the run
    fixed = ("trainer.max_epochs",) if saved.get("model.lr_schedule") is not None else ()
    trained_in = saved.get("paths.output_dir")
    if trained_in is not None and Path(trained_in).resolve() != Path(str(now.get("paths.output_dir"))).resolve():
        # its checkpoints name the folder, and ModelCheckpoint forgets its best score in another: the best model would be lost
        raise UserError(
            f"{run_dir} was trained in {trained_in} and has been moved or copied since; its checkpoints keep that folder, "
            "so it resumes only there (move it back to resume it, or leave out ckpt_path to start a new run)"
        )
    other_data = [key for key in ("data.source._target_", "data.path", "data.target") if saved.get(key) != now.get(key)]
    if other_data:  # the first thing to say: this checkpoint belongs to another dataset
        trained = ", ".join(f"{key}={saved.get(key, missing)}" for key in other_data)
        given = ", ".join(f"{key}={now.get(key, missing)}" for key in other_data)
        raise UserError(
            f"{run_dir} was trained on other data ({trained}), not on this run's ({given}); resume it with its own "
            f"overrides (in {run_dir}/.hydra/overrides.yaml), or leave out ckpt_path to start a new run"
        )
    keys = [
        key
        for key in sorted(saved.keys() | now.keys())
        if saved.get(key, missing) != now.get(key, missing) and (key in fixed or not key.startswith(MAY_DIFFER))
    ]
    # data.seed: ${seed} differs because seed does; named alone, it would send the user to the wrong override
    derived = {k for k, v in flatten_config(OmegaConf.to_container(cfg)).items() if str(v).startswith("${")}
    keys = [key for key in keys if key not in derived] or keys
    differ = [f"{key}={saved.get(key, missing)} (run) vs {now.get(key, missing)} (now)" for key in keys]
    if differ:
        shown = "; ".join(differ[:4]) + (f"; and {len(differ) - 4} more" if len(differ) > 4 else "")
        raise UserError(
            f"a run resumes with its own settings, but these differ from {run_dir}/config.yaml: {shown} "
            f"(pass the run's overrides again: they are in {run_dir}/.hydra/overrides.yaml)"
        )


def flatten_config(cfg: DictConfig | dict) -> dict[str, Any]:
    """Every leaf of the config under its dotted key (`a.b.c: value`); lists stay lists."""
    node = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in flatten_config(value).items()})
        else:
            flat[str(key)] = value
    return flat


def read_run_config(run_dir: Path) -> dict:
    """The run's config.yaml as plain data; a damaged one is a one-line error, not a YAML traceback."""
    path = run_dir / "config.yaml"
    try:
        saved = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as exc:  # unreadable, truncated or not YAML
        raise UserError(
            f"{path} is not a readable run config ({first_line(exc)}); the run cannot be checked, so it is not resumed"
        ) from None
    if not isinstance(saved, dict) or "name" not in saved:
        raise UserError(
            f"{path} is not a run's config (empty, or no experiment name in it); the run cannot be checked, so it is not resumed"
        )
    return saved


def resume_command(run_dir: Path, checkpoint: str = "last.ckpt") -> str:
    """The command line that resumes this run: its own overrides and its last.ckpt (or the checkpoint named); for a
    job of a grid sweep, the sweep's own command with resume=latest, which also runs the jobs it had not started; for
    a trial of an Optuna search, which continues its study, the search's own command."""
    sweeper = HydraConfig.get().sweeper._target_ if checkpoint == "last.ckpt" and in_multirun() else ""
    sweep_file = Path(HydraConfig.get().sweep.dir) / "multirun.yaml" if "FoldsAndSeeds" in sweeper else None
    if sweep_file is not None and sweep_file.is_file():  # the grid sweep as it was started
        saved = OmegaConf.load(sweep_file).hydra.overrides
        launcher = [o for o in saved.hydra if not o.startswith("hydra.mode=")]  # hydra/launcher=joblib, say
        return shlex.join(["python", "-m", "src.train", "-m", *launcher, *without_start_keys(saved.task), "resume=latest"])
    if "Optuna" in sweeper:
        return "the command that started the search, again (its study marks this trial failed and runs another)"
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    path = run_dir.absolute() / "checkpoints" / checkpoint
    return (
        shlex.join(["python", "-m", "src.train", *without_start_keys(overrides)])
        + " "
        + pasteable_argument("ckpt_path", str(path))
    )


@contextmanager
def run_folder(run: RunStart, writes_files: bool) -> Iterator[None]:
    """Around fitting and reporting: the folder held and a new run's config.yaml written (only rank 0 writes)."""
    if not writes_files:
        yield
        return
    config, wrote_config = run.run_dir / "config.yaml", False
    try:
        with hold_run_dir(run.run_dir, resuming=run.resume is not None or run.start_over):
            if run.resume is None:
                write_text_atomically(config, OmegaConf.to_yaml(run.cfg, resolve=True))
                wrote_config = True
            yield
    except UserError:  # refused before training wrote anything (the Trainer's settings): the folder goes, as before it
        # only what this start wrote: a refusal by hold_run_dir leaves the other run's folder as it is
        if wrote_config and not any((run.run_dir / name).exists() for name in RUN_FILES if name != "config.yaml"):
            config.unlink(missing_ok=True)
            (run.run_dir / ".lock").unlink(missing_ok=True)
        raise
