"""A sweep whose jobs SLURM stopped or training diverged (exit 1), a user mistake refused (exit 2) or Ctrl+C
interrupted (exit 130) ends with its summary and one line naming those jobs and how to continue, not a traceback."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from src.errors import NO_MODEL, UserError
from src.runs.run_dir import job_state, numbered_jobs, without_start_keys

RESUME_HINT = (
    "Continue them with the same command and resume=latest (finished jobs are not run again; "
    "a longer hydra.launcher.timeout_min gives them more time)"
)
SEARCH_HINT = "Their trials are marked FAIL; the same command again continues the study and replaces them"
UNKNOWN_WAIT_S = 120  # how long a job that SLURM's accounting does not know may keep the sweep waiting


def on_slurm(launcher: Any) -> bool:
    return "SlurmLauncher" in str(launcher.get("_target_", ""))


def stopped_by_cluster(exc: BaseException) -> bool:
    """Whether the launcher raised because SLURM stopped a job (submitit's UncompletedJobError)."""
    return type(exc).__name__ == "UncompletedJobError"


def wait_for_stopped_batch(exc: BaseException, config: Any, sweep_dir: Path) -> None:
    """After SLURM stopped a job, wait until the launcher's other jobs of that array have ended, to report them all
    (those whose state SLURM cannot tell, UNKNOWN, for UNKNOWN_WAIT_S at most)."""
    found = re.match(r"Job (\d+)_", str(exc))
    if not stopped_by_cluster(exc) or found is None or not on_slurm(config.hydra.launcher):
        return
    import submitit

    folders = Path(sweep_dir, ".submitit").glob(f"{found[1]}_*")
    jobs = [submitit.SlurmJob(config.hydra.launcher.submitit_folder, f.name) for f in folders]
    unknown_since = None
    while waiting := [job for job in jobs if not job.done()]:
        if all(job.state == "UNKNOWN" for job in waiting):
            unknown_since = unknown_since or time.monotonic()
            if time.monotonic() - unknown_since > UNKNOWN_WAIT_S:
                break
        else:
            unknown_since = None
        time.sleep(1)


def job_value(result: Any) -> Any:
    """A launched job's `return_value`. Hydra's getter writes "Error executing job with overrides: [...]" before it
    raises a failed job's exception; a job's own mistake (UserError) has printed its error: line, so that is held back."""
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            return result.return_value
    except BaseException as exc:
        if not isinstance(exc, UserError):
            sys.stderr.write(held.getvalue())
        raise


def end_sweep(config: Any, line: str, status: int) -> None:
    """The sweep summary of what the jobs left, then `line` on stderr, and exit with `status`."""
    from src.reporting.sweep_summary import SweepSummary

    SweepSummary().on_multirun_end(config=config)
    print(line, file=sys.stderr)
    sys.exit(status)


def report_stopped_jobs(exc: BaseException, config: Any, sweep_dir: Path, job_numbers: range, hint: str = RESUME_HINT) -> None:
    """Jobs SLURM refused: one line, exit 2. Jobs it stopped, after wait_for_stopped_batch: the summary, one line,
    exit 1. Otherwise return."""
    if type(exc).__name__ == "FailedJobError" and str(exc).startswith("sbatch: error"):  # refused at submission
        refusal = "; ".join(line.removeprefix("sbatch: error: ") for line in str(exc).strip().splitlines())
        print(f"error: SLURM refused the jobs with these hydra.launcher settings: {refusal}", file=sys.stderr)
        sys.exit(2)
    if not stopped_by_cluster(exc):
        return
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
    end_sweep(config, f"error: {len(diverged)} of {n_jobs} jobs diverged{others}: job {jobs}: {NO_MODEL}", 1)


def by_signal(exc: SystemExit) -> bool:
    """A job's exit on a stop signal (src/train.py: 128 + the signal's number)."""
    return isinstance(exc.code, int) and exc.code - 128 in set(signal.Signals)


def report_interrupted_sweep(config: Any, status: int = 128 + signal.SIGINT) -> None:
    """Ctrl+C (or SIGTERM) during a sweep: the summary of what its jobs left, the command that continues, exit 130
    (or 143)."""
    jobs = numbered_jobs(Path(config.hydra.sweep.dir))
    stopped = "; ".join(f"{job} ({state})" for job in jobs if (state := job_state(job)) is not None)
    command = shlex.join(["python", "-m", "src.train", *without_start_keys(sys.argv[1:]), "resume=latest"])
    where = f": {stopped}" if stopped else ""
    line = f"interrupted by {signal.Signals(status - 128).name}{where}. Continue the sweep with {command}"
    end_sweep(config, f"{line} (finished jobs are not run again)", status)
