"""Re-submitting a sweep with resume=latest, or SLURM starting a job again (requeue): each job finds its own folder
and continues from where it stopped.

The sweep folder is the earlier start's (hydra.sweep.dir: src/sweeps/resolvers.py), and a job's folder is
`<sweep>/<job number>`, which the same command gives the same job again. In its folder a job then finds:
- metrics.json of a run that was not interrupted: it has finished; its result is reported, nothing runs again;
- checkpoints/last.ckpt: it resumes from there, like any run with resume=latest (src/runs/resume.py);
- neither (killed before its first snapshot, or never started): it starts over in that folder.
A job that SLURM requeues (preemption with PreemptMode=REQUEUE, node failure, `scontrol requeue`) runs the same
command again in the same folder, with SLURM_RESTART_COUNT > 0: it does the same as with resume=latest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig

FINISHED, RESUME, START_OVER = "finished", "resume", "start_over"


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def requeued() -> bool:
    """SLURM started this job again after it had begun (its SLURM_RESTART_COUNT counts the restarts)."""
    return (os.environ.get("SLURM_RESTART_COUNT") or "0").strip() not in ("", "0")


def sweep_job_state(cfg: DictConfig, run_dir: Path) -> str | None:
    """What a job of a re-submitted or requeued sweep does in its folder; None when this is not such a job."""
    if cfg.get("ckpt_path") is not None or not in_multirun():
        return None
    if cfg.get("resume") != "latest" and not requeued():
        return None
    metrics = run_dir / "metrics.json"
    if metrics.is_file() and not json.loads(metrics.read_text()).get("interrupted", False):
        return FINISHED
    return RESUME if (run_dir / "checkpoints" / "last.ckpt").is_file() else START_OVER


def finished_result(run_dir: Path):
    """The RunResult a finished job reported in its metrics.json."""
    from dataclasses import fields

    from src.reporting.results import RunResult

    saved = json.loads((run_dir / "metrics.json").read_text())
    return RunResult(**{f.name: saved[f.name] for f in fields(RunResult) if f.name in saved})
