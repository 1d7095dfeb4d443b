"""A sweep through submitit's local executor, the SLURM launcher's code path: a job stopped by submitit's time-out
signal (SIGUSR2) keeps its last.ckpt; the same sweep submitted again with resume=latest continues that job in its
folder and does not run the finished one again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

SWEEP = [
    "-m", "hydra/launcher=submitit_local", "experiment=cancer", "seed=0,1", "torch_threads=1",
    "trainer.max_epochs=150", "callbacks.early_stopping.patience=1000", "trainer.plugins.0.flush_every_s=0",
    "trainer.enable_progress_bar=false",
]  # fmt: skip


def start(log_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "src.train", *SWEEP, f"paths.log_dir={log_dir}", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the sweep ended before {path} appeared:\n{process.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_stopped_job_resumes_and_finished_job_is_not_run_again(tmp_path):
    sweep = start(tmp_path)
    wait_for(tmp_path / "cancer" / "multiruns", sweep)
    (folder,) = (tmp_path / "cancer" / "multiruns").iterdir()
    killed, finished = folder / "1", folder / "0"
    wait_for(killed / "checkpoints" / "last.ckpt", sweep)
    os.kill(int((killed / ".lock").read_text()), signal.SIGUSR2)  # what submitit sends before SLURM's time limit
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode != 0, output[-3000:]  # a job that did not finish fails the sweep, as on SLURM

    stopped = json.loads((killed / "metrics.json").read_text())
    assert stopped["interrupted"] and stopped["interrupted_by"] == "SIGUSR2", stopped.get("stop_message")
    assert (killed / "checkpoints" / "last.ckpt").is_file()
    first = json.loads((finished / "metrics.json").read_text())
    assert not first["interrupted"] and first["stopped_epoch"] == 150
    first_mtime = (finished / "metrics.json").stat().st_mtime_ns

    again = start(tmp_path, "resume=latest")
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output[-3000:]
    assert [p.name for p in (tmp_path / "cancer" / "multiruns").iterdir()] == [folder.name]  # the same sweep folder
    assert (finished / "metrics.json").stat().st_mtime_ns == first_mtime  # not run again
    job_logs = "".join(log.read_text() for log in (folder / ".submitit").glob("*/*_log.err"))
    assert f"{finished.absolute()} had finished: its metrics.json is reported, not run again" in job_logs  # and says so
    resumed = json.loads((killed / "metrics.json").read_text())
    assert not resumed["interrupted"] and resumed["stopped_epoch"] == 150
    assert resumed["resumed_from"]["epoch"] == stopped["last_checkpoint_epoch"]
    assert "2 jobs" in output  # the summary covers both
