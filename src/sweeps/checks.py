"""Sweep settings checked before any job starts, each mistake one `error:` line (src/errors.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.config import MAX_SEED, refuse_sweep_shorthands, validate_cv_and_seeds
from src.errors import UserError, is_int, user_errors_exit
from src.sweeps.resolvers import sweep_overrides, usable_cores
from src.sweeps.stopped_jobs import on_slurm
from src.sweeps.sweeper import swept_keys


def validate_launcher(launcher: DictConfig, torch_threads: int | None) -> None:
    """Under joblib, parallel jobs x torch threads must fit the cores: oversubscribed, tiny networks crawl. Under
    SLURM, the stop signal (signal_delay_s before the time limit, up to 60 s earlier) must leave time to train."""
    timeout, delay = launcher.get("timeout_min"), launcher.get("signal_delay_s")
    if on_slurm(launcher) and is_int(timeout) and is_int(delay) and timeout * 60 <= delay + 60:
        raise UserError(
            f"hydra.launcher.timeout_min={timeout} leaves no time to train: SLURM sends the stop signal "
            f"hydra.launcher.signal_delay_s={delay} s (and up to 60 s more) before it; use timeout_min >= {(delay + 60) // 60 + 1}"
        )
    if "joblib" not in str(launcher.get("_target_", "")):
        return
    cores = usable_cores()
    n_jobs = launcher.get("n_jobs")
    if not is_int(n_jobs) or n_jobs == 0 or n_jobs < -1:
        raise UserError(f"hydra.launcher.n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}")
    jobs = cores if n_jobs == -1 else n_jobs
    threads = torch_threads or cores
    if jobs * threads > cores:
        raise UserError(
            f"hydra.launcher.n_jobs={n_jobs} x torch_threads={torch_threads} = {jobs * threads} threads exceeds the {cores} "
            f"cores this process may use; use n_jobs <= {max(1, cores // threads)} (its default) or fewer torch_threads"
        )


class SweepChecks(Callback):
    """Checks a multirun's settings in the launching process, before the first job starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors_exit():
            validate_cv_and_seeds(config)
            grid = str(config.hydra.sweeper.get("_target_", "")).endswith("FoldsAndSeedsSweeper")
            if not grid:  # an Optuna search
                refuse_sweep_shorthands(config)
            sweep_dir = Path(config.hydra.sweep.dir)
            if grid and config.get("resume") == "latest" and not (sweep_dir / "multirun.yaml").is_file():
                raise UserError(  # as a single run's resume=latest with nothing to resume: not a new start in silence
                    f"resume=latest: no sweep under {sweep_dir.parent} was started with these overrides "
                    f"({' '.join(sweep_overrides(list(config.hydra.overrides.task)))}); leave out resume=latest to start one"
                )
            seeds = config.get("seeds")
            if seeds and "seed" in swept_keys(list(config.hydra.overrides.task)):
                raise UserError(
                    f"seeds={seeds} and a sweep of seed both choose the seeds; keep one: seeds={seeds} (seed, seed+1, ...) "
                    "or seed=<a>,<b>,..."
                )
            if seeds and is_int(seeds) and is_int(config.seed) and config.seed + seeds - 1 > MAX_SEED:
                raise UserError(
                    f"seeds={seeds} from seed={config.seed} would reach seed {config.seed + seeds - 1}, beyond the largest, "
                    f"{MAX_SEED}; start lower, e.g. seed={MAX_SEED - seeds + 1}"
                )
            validate_launcher(config.hydra.launcher, config.get("torch_threads"))
