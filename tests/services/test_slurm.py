"""Sweeps on a real SLURM cluster (one node, with accounting) through hydra/launcher=submitit_slurm, as
docs/scale.md and docs/sweeps.md show them: jobs run and are accounted, a job stopped before its time limit and
a requeued job continue from their checkpoints, and a DDP job over SLURM tasks trains as local DDP does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.services.conftest import finish, start, wait_for

pytestmark = pytest.mark.services

EPOCHS = 60
SWEEP = [
    "-m", "hydra/launcher=submitit_slurm", "experiment=cancer", "torch_threads=1", "trainer.enable_progress_bar=false",
    "callbacks.early_stopping.patience=1000", "trainer.plugins.0.flush_every_s=0", "hydra.launcher.mem_gb=2",
    "hydra.launcher.timeout_min=15",
]  # fmt: skip


def sweep_folder(log_dir: Path) -> Path:
    (folder,) = (log_dir / "cancer" / "multiruns").iterdir()
    return folder


def slurm_jobs(folder: Path) -> dict[str, str]:
    """SLURM's accounting of the sweep's jobs: {job id: state}."""
    ids = sorted({p.name.split("_")[0] for p in (folder / ".submitit").iterdir() if p.name[0].isdigit()})
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(ids)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("|")[:2] for line in out.splitlines() if line)


def job_id(folder: Path, job: int) -> str:
    """The SLURM job id of the sweep's job number `job` (an array task: <array id>_<index>; one job: no array)."""
    names = [p.name for p in (folder / ".submitit").iterdir() if p.name[0].isdigit()]
    (submitted,) = [n for n in names if n.endswith(f"_{job}")] or [n for n in names if "_" not in n]
    return submitted


def metrics(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())


def test_sweep_runs_as_slurm_jobs_that_accounting_sees_completed(services, tmp_path):
    sweep = start(*SWEEP, "seed=0,1", "trainer.max_epochs=5", f"paths.log_dir={tmp_path}")
    output = finish(sweep)
    assert sweep.returncode == 0, output[-3000:]
    folder = sweep_folder(tmp_path)
    # the launcher has each job's result as soon as it is written; SLURM accounts the job when its step has ended
    wait_for(
        lambda: not set(slurm_jobs(folder).values()) & {"PENDING", "RUNNING", "COMPLETING"}, "the jobs' end in sacct", timeout=60
    )
    states = slurm_jobs(folder)
    assert len(states) == 2 and set(states.values()) == {"COMPLETED"}, states
    assert (folder / "summary.csv").is_file() and "2 jobs" in output
    for job in ("0", "1"):
        assert metrics(folder / job)["stopped_epoch"] == 5


def test_a_partition_slurm_does_not_know_is_one_error(services, tmp_path):
    sweep = start(*SWEEP, "seed=0", "trainer.max_epochs=1", "hydra.launcher.partition=nope", f"paths.log_dir={tmp_path}")
    output = finish(sweep)
    assert sweep.returncode == 2 and "Traceback" not in output, output[-3000:]  # was sbatch's FailedJobError, exit 1
    assert output.strip().splitlines()[-1] == (
        "error: SLURM refused the jobs with these hydra.launcher settings: invalid partition specified: nope; "
        "Batch job submission failed: Invalid partition name specified"
    )


def test_job_stopped_before_its_time_limit_resumes_on_another_partition_setting(services, tmp_path):
    """scancel --signal=USR2 is what submitit asks SLURM to send before the time limit. Re-submitted with
    resume=latest and a changed hydra.launcher setting, the same sweep continues the stopped job (bug A) and
    reaches what an uninterrupted run of that job gives."""
    sweep = start(*SWEEP, "seed=0,1", f"trainer.max_epochs={EPOCHS}", f"paths.log_dir={tmp_path}")
    wait_for(lambda: (tmp_path / "cancer" / "multiruns").is_dir(), "the sweep folder", sweep)
    folder = sweep_folder(tmp_path)
    wait_for(lambda: (folder / "1" / "checkpoints" / "last.ckpt").is_file(), "job 1's last.ckpt", sweep)
    subprocess.run(["scancel", "--signal=USR2", job_id(folder, 1)], check=True)
    output = finish(sweep)
    assert sweep.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "resume=latest" in output.splitlines()[-1], output[-3000:]
    assert (folder / "summary.csv").is_file()  # what finished is summarised
    stopped = metrics(folder / "1")
    assert stopped["interrupted"] and stopped["stopped_epoch"] < EPOCHS

    again = start(*SWEEP, "seed=0,1", f"trainer.max_epochs={EPOCHS}", f"paths.log_dir={tmp_path}", "resume=latest",
                  "hydra.launcher.timeout_min=20")  # fmt: skip
    output = finish(again)
    assert again.returncode == 0, output[-3000:]
    assert [p.name for p in (tmp_path / "cancer" / "multiruns").iterdir()] == [folder.name]  # the same sweep
    resumed = metrics(folder / "1")
    assert not resumed["interrupted"] and resumed["resumed_from"]["epoch"] == stopped["last_checkpoint_epoch"]

    alone = start("experiment=cancer", "seed=1", f"trainer.max_epochs={EPOCHS}", "torch_threads=1",
                  "trainer.enable_progress_bar=false", "callbacks.early_stopping.patience=1000",
                  f"paths.log_dir={tmp_path / 'alone'}")  # fmt: skip
    output = finish(alone)
    assert alone.returncode == 0, output[-3000:]
    (run_dir,) = (tmp_path / "alone" / "cancer" / "runs").iterdir()
    uninterrupted = metrics(run_dir)
    assert resumed["val_loss"] == pytest.approx(uninterrupted["val_loss"], rel=1e-6)
    assert resumed["test"] == pytest.approx(uninterrupted["test"], rel=1e-6)


def test_a_cancelled_job_is_reported_after_the_sweeps_other_jobs_end(services, tmp_path):
    """scancel of job 0 while job 1 waits (array_parallelism=1): the sweep waits for job 1, which then finishes,
    and names only job 0 (it ended at once, naming job 1 "stopped before its first checkpoint" while it ran)."""
    sweep = start(*SWEEP, "seed=0,1", "trainer.max_epochs=300", "hydra.launcher.array_parallelism=1",
                  f"paths.log_dir={tmp_path}")  # fmt: skip
    wait_for(lambda: (tmp_path / "cancer" / "multiruns").is_dir(), "the sweep folder", sweep)
    folder = sweep_folder(tmp_path)
    wait_for(lambda: (folder / "0" / "checkpoints" / "last.ckpt").is_file(), "job 0's last.ckpt", sweep)
    subprocess.run(["scancel", job_id(folder, 0)], check=True)
    output = finish(sweep)
    assert sweep.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert output.splitlines()[-1].startswith(
        f"error: 1 of 2 jobs did not finish (SLURM's time limit, preemption or scancel): {folder / '0'} ("
    )
    assert metrics(folder / "1")["stopped_epoch"] == 300 and not metrics(folder / "1")["interrupted"]
    assert (folder / "summary.csv").read_text().count("\n") == 3  # the header, job 0 (stopped), job 1


def test_requeued_job_continues_from_its_checkpoint(services, tmp_path):
    """SLURM requeues a job on preemption (PreemptMode=REQUEUE), node failure or scontrol requeue; the job starts
    again with the same command in the same folder and must continue its own run there (bug B)."""
    sweep = start(*SWEEP, "seed=0", f"trainer.max_epochs={EPOCHS}", f"paths.log_dir={tmp_path}")
    wait_for(lambda: (tmp_path / "cancer" / "multiruns").is_dir(), "the sweep folder", sweep)
    folder = sweep_folder(tmp_path)
    wait_for(lambda: (folder / "0" / "checkpoints" / "last.ckpt").is_file(), "job 0's last.ckpt", sweep)
    job = job_id(folder, 0)
    subprocess.run(["scontrol", "requeue", job], check=True)

    def pending() -> bool:
        return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip() == "PENDING"

    # SLURM holds a requeued job back for a while before it may start again; on a real cluster that is the wait
    # for a free node. Here: let it start at once.
    wait_for(pending, "the requeued job pending", sweep, timeout=120)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
    output = finish(sweep, timeout=600)
    assert sweep.returncode == 0, output[-3000:]
    result = metrics(folder / "0")
    assert not result["interrupted"] and result["stopped_epoch"] == EPOCHS
    assert "resumed_from" in result and 0 < result["resumed_from"]["epoch"] < EPOCHS


def test_ddp_over_two_slurm_tasks_gives_the_local_ddp_losses(services, tmp_path):
    common = ["experiment=cancer", "seed=0", "trainer=ddp_cpu", "trainer.max_epochs=4", "torch_threads=1",
              "trainer.enable_progress_bar=false"]  # fmt: skip
    sweep = start("-m", "hydra/launcher=submitit_slurm", "hydra.launcher.tasks_per_node=2", "hydra.launcher.mem_gb=2",
                  *common, f"paths.log_dir={tmp_path / 'slurm'}")  # fmt: skip
    output = finish(sweep)
    assert sweep.returncode == 0, output[-3000:]
    on_slurm = metrics(sweep_folder(tmp_path / "slurm") / "0")

    local = start(*common, f"paths.log_dir={tmp_path / 'local'}")
    output = finish(local)
    assert local.returncode == 0, output[-3000:]
    (run_dir,) = (tmp_path / "local" / "cancer" / "runs").iterdir()
    here = metrics(run_dir)
    assert on_slurm["train_loss"] == pytest.approx(here["train_loss"], rel=1e-5)
    assert on_slurm["val_loss"] == pytest.approx(here["val_loss"], rel=1e-5)


def test_a_stopped_job_is_reported_without_waiting_on_an_earlier_submissions_job_slurm_forgot(services, tmp_path):
    """The sweep folder keeps the jobs of earlier submissions (before resume=latest). One that SLURM's accounting no
    longer knows (state UNKNOWN for ever) kept the report of this submission's stopped job waiting for ever."""
    sweep = start(*SWEEP, "seed=0", "trainer.max_epochs=300", f"paths.log_dir={tmp_path}")
    wait_for(lambda: (tmp_path / "cancer" / "multiruns").is_dir(), "the sweep folder", sweep)
    folder = sweep_folder(tmp_path)
    wait_for(lambda: (folder / "0" / "checkpoints" / "last.ckpt").is_file(), "job 0's last.ckpt", sweep)
    (job,) = [p.name for p in (folder / ".submitit").iterdir() if p.name[0].isdigit()]
    (folder / ".submitit" / "999999_0").mkdir()  # an earlier submission's job, long gone from accounting
    subprocess.run(["scancel", job], check=True)
    try:
        output = finish(sweep, timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(sweep.pid, signal.SIGKILL)
        pytest.fail("the sweep still waits, 4 minutes after its only job was cancelled")
    assert sweep.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert output.splitlines()[-1].startswith(
        f"error: 1 of 1 jobs did not finish (SLURM's time limit, preemption or scancel): {folder / '0'} ("
    )


def test_an_optuna_batch_with_a_job_slurm_stopped_keeps_its_finished_trial_and_replaces_the_stopped_one(services, tmp_path):
    """Two trials in one SLURM array; scancel of trial 0 while trial 1 runs. Both stayed RUNNING in the study, and the
    next start marked both FAIL and ran them again (trial 1's result lost): trial 1 is COMPLETE with its value, trial 0
    FAIL, and the same command again replaces trial 0 only. The study is in PostgreSQL: no trial's saved settings
    keep the storage's password (they did after a stopped batch)."""
    from sqlalchemy.engine import make_url

    storage, study = services["SERVICES_OPTUNA_STORAGE"], f"slurm-stop-{tmp_path.name}-{os.getpid()}"
    search = [
        "hparams_search=cancer_optuna", "hydra/launcher=submitit_slurm", *SWEEP[3:], "trainer.max_epochs=300",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", f"paths.log_dir={tmp_path}",
        f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={study}",
    ]  # fmt: skip
    first = start(*search)
    folder = tmp_path / "cancer_optuna" / "searches" / study
    wait_for(lambda: (folder / "0" / "checkpoints" / "last.ckpt").is_file(), "trial 0's last.ckpt", first)
    subprocess.run(["scancel", job_id(folder, 0)], check=True)
    output = finish(first)
    assert first.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert output.splitlines()[-1].startswith("error: 1 of 2 jobs did not finish"), output[-3000:]

    def states() -> dict:
        results = yaml.safe_load((folder / "optimization_results.yaml").read_text())
        return {t["number"]: (t["state"], t["value"], t.get("abandoned", False)) for t in results["trials"]}

    trial_1 = ("COMPLETE", pytest.approx(metrics(folder / "1")["best_val_loss"]), False)
    assert states() == {0: ("FAIL", None, True), 1: trial_1}
    saved = [copy.read_text() for copy in folder.glob("[01]/.hydra/*.yaml")]
    assert saved and not any(make_url(storage).password in text for text in saved)

    again = start(*search)
    output = finish(again)
    assert again.returncode == 0, output[-3000:]
    assert states() == {
        0: ("FAIL", None, True),
        1: trial_1,
        2: ("COMPLETE", pytest.approx(metrics(folder / "2")["best_val_loss"]), False),
    }
