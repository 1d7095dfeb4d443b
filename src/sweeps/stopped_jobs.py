"""A sweep whose jobs SLURM stopped or training diverged (exit 1), a user mistake refused (exit 2) or Ctrl+C interrupted (exit 130) ends
with its summary and one line naming those jobs and how to continue, not in a traceback.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from src.runs.run_dir import job_state, numbered_jobs, without_start_keys

RESUME_HINT = (
    "Continue them with the same command and resume=latest (finished jobs are not run again; "
    "a longer hydra.launcher.timeout_min gives them more time)"
)
SEARCH_HINT = "Their trials are marked FAIL; the same command again continues the study and replaces them"
UNKNOWN_WAIT_S = 120  # how long a job that SLURM's accounting does not know may keep the sweep waiting


def submitted_jobs(exc: BaseException, config: Any, sweep_dir: Path) -> list:
    """The jobs of the SLURM array whose stopped job raised `exc`: the launcher's submission, not the earlier ones
    the same sweep folder keeps (before resume=latest). [] for another launcher."""
    found = re.match(r"Job (\d+)_", str(exc))
    if "SlurmLauncher" not in str(config.hydra.launcher.get("_target_", "")) or found is None:
        return []
    import submitit

    folders = Path(sweep_dir, ".submitit").glob(f"{found[1]}_*")
    jobs = [submitit.SlurmJob(config.hydra.launcher.submitit_folder, f.name) for f in folders]
    return sorted(jobs, key=lambda job: int(job.job_id.rpartition("_")[2]))


def wait_for_submission(jobs: list) -> None:
    """The launcher stopped at the first stopped job: wait for the others, which may still be pending or running,
    to report them once they end; not for ever on jobs whose state SLURM cannot tell (UNKNOWN)."""
    unknown_since = None
    while waiting := [job for job in jobs if not job.done()]:
        if all(job.state == "UNKNOWN" for job in waiting):
            unknown_since = unknown_since or time.monotonic()
            if time.monotonic() - unknown_since > UNKNOWN_WAIT_S:
                return
        else:
            unknown_since = None
        time.sleep(1)


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
    wait_for_submission(submitted_jobs(exc, config, sweep_dir))
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
