"""Wall time of one multirun, run sequentially (Hydra's basic launcher) and in parallel (hydra/launcher=joblib).

The joblib launcher starts `(cores // torch_threads)` processes by default (conf/hydra/launcher/joblib.yaml), so
on a machine with at least `jobs` cores the parallel sweep should take about 1/jobs of the sequential one plus
one process start-up. Both sweeps run the same command as a user types it, start-up and summary included.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep_seconds(launcher: str, jobs: int, epochs: int, log_dir: str) -> float:
    command = [
        sys.executable, "-m", "src.train", "-m", f"hydra/launcher={launcher}", f"seeds={jobs}", "experiment=cancer",
        f"trainer.max_epochs={epochs}", "callbacks.early_stopping.patience=100000", "trainer.enable_progress_bar=false",
        "torch_threads=1", f"paths.log_dir={log_dir}",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def time_sweeps(jobs: int = 4, epochs: int = 120) -> dict[str, float]:
    """Seconds of a `jobs`-job cancer sweep (one job per seed) under each launcher."""
    with tempfile.TemporaryDirectory() as tmp:
        return {launcher: sweep_seconds(launcher, jobs, epochs, f"{tmp}/{launcher}") for launcher in ("basic", "joblib")}


def sweep_lines(jobs: int = 4, epochs: int = 120) -> list[str]:
    """The benchmark's lines: each launcher's wall time and the speed-up of the parallel one."""
    from src.sweeps.resolvers import parallel_jobs

    seconds = time_sweeps(jobs, epochs)
    return [
        f"{'sweep':<10} {'basic':<10} {seconds['basic']:>15.2f}  s: {jobs} jobs of {epochs} epochs, one after another",
        f"{'sweep':<10} {'joblib':<10} {seconds['joblib']:>15.2f}  s: the same, {min(jobs, parallel_jobs(1))} at a time",
        f"{'sweep':<10} {'speed-up':<10} {seconds['basic'] / seconds['joblib']:>15.2f}  x",
    ]
