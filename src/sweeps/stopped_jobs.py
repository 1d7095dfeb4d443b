"""A sweep whose jobs SLURM stopped or training diverged (exit 1), a user mistake refused (exit 2) or Ctrl+C interrupted (exit 130) ends
with its summary and one line naming those jobs and how to continue, not in a traceback.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from src.runs.run_dir import job_state, numbered_jobs, without_start_keys

RESUME_HINT = (
    "Continue them with the same command and resume=latest (finished jobs are not run again; "
    "a longer hydra.launcher.timeout_min gives them more time)"
)
SEARCH_HINT = "Start the same command again: the search marks them failed and continues its study"


def end_sweep(config: Any, line: str, status: int) -> None:
    """The sweep summary of what the jobs left, then `line` on stderr, and exit with `status`."""
    from src.reporting.sweep_summary import SweepSummary

    SweepSummary().on_multirun_end(config=config)
    print(line, file=sys.stderr)
    sys.exit(status)


def report_stopped_jobs(exc: BaseException, config: Any, sweep_dir: Path, job_numbers: range, hint: str = RESUME_HINT) -> None:
    """For submitit's UncompletedJobError: write the summary, print one line, exit 1. Otherwise return."""
    if type(exc).__name__ == "FailedJobError" and str(exc).startswith("sbatch: error"):  # refused at submission
        refusal = "; ".join(line.removeprefix("sbatch: error: ") for line in str(exc).strip().splitlines())
        print(f"error: SLURM refused the jobs with these hydra.launcher settings: {refusal}", file=sys.stderr)
        sys.exit(2)
    if type(exc).__name__ != "UncompletedJobError":
        return
    if "SlurmLauncher" in str(config.hydra.launcher.get("_target_", "")):  # the launcher stopped at the first
        import submitit  # stopped job: the others may still be pending or running, and are reported once they end

        for job in Path(sweep_dir, ".submitit").glob("[0-9]*_*"):
            submitit.SlurmJob(config.hydra.launcher.submitit_folder, job.name).wait()
    stopped = {n: state for n in job_numbers if (state := job_state(sweep_dir / str(n))) is not None}
    if not stopped:
        return
    jobs = "; ".join(f"{sweep_dir / str(n)} ({state})" for n, state in stopped.items())
    what = f"{len(stopped)} of {len(job_numbers)} jobs did not finish (SLURM's time limit, preemption or scancel)"
    end_sweep(config, f"error: {what}: {jobs}. {hint}", 1)


def report_refused_jobs(config: Any, refused: dict[int, BaseException], n_jobs: int) -> None:
    """Jobs that a UserError refused (each printed its error: line): the sweep summary, one line, exit 2."""
    by_message: dict[str, list[str]] = {}
    for number, exc in refused.items():
        by_message.setdefault(str(exc), []).append(str(number))
    causes = "; ".join(f"job {', '.join(numbers)}: {message}" for message, numbers in by_message.items())
    others = ", the others ran" if len(refused) < n_jobs else ""
    end_sweep(config, f"error: {len(refused)} of {n_jobs} jobs were refused{others}: {causes}", 2)


def report_diverged_jobs(config: Any, diverged: list[int], n_jobs: int) -> None:
    """Jobs with no finite val_loss (each printed its error: line): the sweep summary, one line, exit 1 as a single run."""
    others = ", the others ran" if len(diverged) < n_jobs else ""
    jobs = ", ".join(map(str, diverged))
    what = "no epoch had a finite val_loss, so there is no model to test; lower model.optimizer.lr"
    end_sweep(config, f"error: {len(diverged)} of {n_jobs} jobs diverged{others}: job {jobs} ({what})", 1)


def report_interrupted_sweep(config: Any) -> None:
    """Ctrl+C while parallel workers ran the jobs: the summary of what they left, the command that continues, exit 130."""
    jobs = numbered_jobs(Path(config.hydra.sweep.dir))
    stopped = "; ".join(f"{job} ({state})" for job in jobs if (state := job_state(job)) is not None)
    command = shlex.join(["python", "-m", "src.train", *without_start_keys(sys.argv[1:]), "resume=latest"])
    where = f": {stopped}" if stopped else ""
    end_sweep(config, f"interrupted by SIGINT{where}. Continue the sweep with {command} (finished jobs are not run again)", 130)
