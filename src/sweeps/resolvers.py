"""Config resolvers: how many parallel jobs fit the cores, which folder a resumed sweep continues in, where MLflow
artifacts go."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from src.runs.run_dir import START_KEYS


def usable_cores() -> int:
    """The cores this process may run on (a SLURM allocation or taskset limits them, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def parallel_jobs(torch_threads: int | None) -> int:
    """`hydra.launcher.n_jobs` by default: as many jobs as the cores hold at torch_threads each."""
    return max(1, usable_cores() // (torch_threads or usable_cores()))


def sweep_overrides(overrides: list[str]) -> list[str]:
    """The overrides that define a sweep's jobs, sorted, without START_KEYS and Hydra's own settings (multirun.yaml
    keeps those apart, and a re-submission may change them: another partition, a longer time limit)."""
    return sorted(o for o in overrides if not o.startswith("-") and not starts_only(o.split("=")[0].lstrip("+~")))


def starts_only(key: str) -> bool:
    """A key that says how a sweep starts or runs, not what its jobs are."""
    return key in START_KEYS or key == "hydra" or key.startswith(("hydra.", "hydra/"))


def sweep_dir(sweeps_root: str, stamp: str, resume: str | None) -> str:
    """`hydra.sweep.dir`: a new `<root>/<stamp>`, or with resume=latest the newest earlier sweep started with the same
    overrides, so each of its jobs finds its own folder (`<sweep>/<job number>`) again."""
    if resume == "latest":
        wanted = sweep_overrides(sys.argv[1:])
        for multirun_file in sorted(Path(sweeps_root).glob("*/multirun.yaml"), reverse=True):  # newest first
            saved = yaml.safe_load(multirun_file.read_text()) or {}
            if sweep_overrides(saved.get("hydra", {}).get("overrides", {}).get("task", [])) == wanted:
                return str(multirun_file.parent)
    return str(Path(sweeps_root) / stamp)


def mlflow_artifact_location(tracking_uri: str | None, local: str) -> str | None:
    """conf/logger/mlflow.yaml's artifact_location: the folder beside a local tracking database; None (the server's
    choice) for a tracking server, which would resolve a path on its own disk, or when MLFLOW_TRACKING_URI decides."""
    if tracking_uri is None or "://" in tracking_uri and not tracking_uri.startswith(("sqlite:", "file:")):
        return None
    return local


def register_resolvers() -> None:
    # cached: Hydra resolves hydra.sweep.dir in the launching process and again for every job; the answer must not change
    OmegaConf.register_new_resolver("parallel_jobs", parallel_jobs, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("sweep_dir", sweep_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("mlflow_artifact_location", mlflow_artifact_location, replace=True)
