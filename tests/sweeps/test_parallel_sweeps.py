"""Multiruns as a user starts them: joblib gives the sequential numbers; folds and seeds get mean ± std."""

from __future__ import annotations

import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_module

TINY = ["experiment=cancer", "trainer.max_epochs=3", "trainer.enable_progress_bar=false", "torch_threads=1"]


def sweep_folder(log_dir: Path, name: str = "cancer") -> Path:
    (folder,) = (log_dir / name / "multiruns").iterdir()
    return folder


def metrics_by_seed(folder: Path) -> dict[str, dict]:
    out = {}
    for job in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        metrics = json.loads((job / "metrics.json").read_text())
        out[metrics["seed"]] = {"best_val_loss": metrics["best_val_loss"], **metrics["test"]}
    return out


@pytest.mark.slow
def test_joblib_sweep_gives_the_sequential_numbers(tmp_path):
    runs = {}
    for launcher in ("basic", "joblib"):
        log_dir = tmp_path / launcher
        done = run_module("src.train", "-m", *TINY, "seed=0,1,2,3", f"hydra/launcher={launcher}", f"paths.log_dir={log_dir}")
        assert done.returncode == 0, done.stderr[-2000:]
        folder = sweep_folder(log_dir)
        runs[launcher] = metrics_by_seed(folder)
        assert len(pd.read_csv(folder / "summary.csv")) == 4  # the sweep summary still appears
    assert len(runs["joblib"]) == 4
    assert runs["joblib"] == runs["basic"]


@pytest.mark.slow
def test_a_parallel_sweep_logs_every_job_to_a_new_mlflow_database(tmp_path):
    """docs/loggers.md's MLflow without a server, in a joblib sweep: the jobs that start together all create the
    SQLite database and the experiment (a job failed with 'table ... already exists')."""
    from mlflow.tracking import MlflowClient

    jobs = ["hydra/launcher=joblib", "seeds=4", "logger=mlflow", "importance.repeats=0"]
    done = run_module("src.train", "-m", *TINY, *jobs, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'logs' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("cancer").experiment_id])
    assert sorted(run.data.params["seed"] for run in runs) == ["0", "1", "2", "3"]


@pytest.mark.slow
def test_cross_validation_summary_is_the_mean_of_the_folds(tmp_path):
    # the documented command as a user runs it: the default, relative logs/ under the working folder
    done = run_module("src.train", "-m", *TINY, "cv.folds=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = sweep_folder(tmp_path / "logs")
    assert "3 jobs, best val_loss first" in done.stdout
    folds = [json.loads((folder / str(i) / "metrics.json").read_text()) for i in range(3)]
    (summary,) = pd.read_csv(folder / "summary_mean_std.csv").to_dict("records")
    assert summary["n"] == 3
    assert summary["best_val_loss_mean"] == pytest.approx(statistics.fmean(f["best_val_loss"] for f in folds))
    assert summary["best_val_loss_std"] == pytest.approx(statistics.stdev(f["best_val_loss"] for f in folds))
    for metric in ("test_loss", "test_acc", "test_auroc"):
        assert summary[f"{metric}_mean"] == pytest.approx(statistics.fmean(f["test"][metric] for f in folds))
    assert len(pd.read_csv(folder / "summary.csv")) == 3  # each fold's row
    # every non-test row once in the out-of-fold predictions: 569 rows, 114 of them the lesson's test rows
    oof = pd.read_csv(folder / "oof_predictions.csv")
    assert sorted(oof["row"]) == sorted(set(oof["row"])) and len(oof) == 569 - 114
    assert sorted(oof["fold"].unique()) == [0, 1, 2]


@pytest.mark.slow
def test_seeds_shorthand_runs_one_job_per_seed_and_groups_them(tmp_path):
    done = run_module("src.train", "-m", *TINY, "seeds=2", "model.optimizer.lr=0.001,0.01", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = sweep_folder(tmp_path / "logs")
    assert "4 jobs, best val_loss first" in done.stdout
    assert len(pd.read_csv(folder / "summary.csv")) == 4
    groups = pd.read_csv(folder / "summary_mean_std.csv")
    assert sorted(groups["model.optimizer.lr"]) == [0.001, 0.01] and list(groups["n"]) == [2, 2]
    assert "mean ± std over seed" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_refused_job_ends_the_sweep_with_its_summary_and_one_line(tmp_path, launcher):
    # a traceback and no summary.csv before, though the other job had finished
    args = ["data.val_fraction=1.2,0.2", f"hydra/launcher={launcher}", f"paths.log_dir={tmp_path}"]
    done = run_module("src.train", "-m", *TINY, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "Error executing job" not in done.stderr  # Hydra's repeat of the error: line, as a Python list
    assert done.stderr.strip().splitlines()[-1] == (
        "error: 1 of 2 jobs were refused, the others ran: job 0: data.val_fraction must be in (0, 1); got 1.2"
    )
    summary = pd.read_csv(sweep_folder(tmp_path) / "summary.csv")
    assert list(summary["data.val_fraction"]) == [0.2, 1.2] and summary["best_val_loss"].notna().tolist() == [True, False]


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_on_the_default_launcher_ends_with_its_summary_and_the_sweeps_command(tmp_path):
    # the job's own command (no -m, its last.ckpt) was printed: it resumed that job and left the sweep's others unrun
    ctrl_c = ["+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterEpoch", "+callbacks.ctrl_c.epoch=2"]
    args = [*TINY, "seeds=2", *ctrl_c, f"paths.log_dir={tmp_path}"]
    done = run_module("src.train", "-m", "hydra/launcher=basic", *args)
    assert done.returncode == 130, done.stderr[-2000:]
    (line,) = [line for line in (done.stdout + done.stderr).splitlines() if "resume with: " in line]
    command = shlex.split(line.split("resume with: ")[1])
    assert command == ["python", "-m", "src.train", "-m", "hydra/launcher=basic", *args, "resume=latest"]
    assert not (sweep_folder(tmp_path) / "1").exists()  # the job the sweep had not started yet
    assert (sweep_folder(tmp_path) / "summary.csv").is_file()
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"interrupted by SIGINT: {sweep_folder(tmp_path)}/0 (stopped by SIGINT at epoch 2"), last
    assert last.endswith(f"Continue the sweep with {shlex.join(command)} (finished jobs are not run again)"), last


def test_the_command_that_continues_an_interrupted_sweep_drops_its_start_overrides_however_written(tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf

    from src.sweeps.stopped_jobs import report_interrupted_sweep

    argv = ["-m", "seed=0,1", "+ckpt_path=/old/last.ckpt", "~resume", "hydra/launcher=joblib", "resume=latest"]
    monkeypatch.setattr(sys, "argv", ["src/train.py", *argv])
    with pytest.raises(SystemExit) as stop:
        report_interrupted_sweep(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    assert stop.value.code == 130
    command = "python -m src.train -m seed=0,1 hydra/launcher=joblib resume=latest"
    assert (
        capsys.readouterr().err.strip()
        == f"interrupted by SIGINT. Continue the sweep with {command} (finished jobs are not run again)"
    )
    with pytest.raises(SystemExit) as stop:  # a cluster's SIGTERM keeps its own name and exit status
        report_interrupted_sweep(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}), 143)
    assert stop.value.code == 143 and capsys.readouterr().err.startswith("interrupted by SIGTERM. Continue the sweep with")


@pytest.mark.slow
def test_ctrl_c_in_a_joblib_sweep_ends_with_its_summary_and_one_line_not_a_traceback(tmp_path):
    marker = tmp_path / "epochs"
    args = [*TINY, "trainer.max_epochs=100000", "seeds=2", "+callbacks.marker._target_=tests.support.probes.EpochMarker"]
    args += [f"+callbacks.marker.path={marker}", "hydra/launcher=joblib", f"paths.log_dir={tmp_path}"]
    # a session of its own: Ctrl+C in a terminal signals the whole foreground group, the workers and this process
    proc = subprocess.Popen(
        [sys.executable, "-m", "src.train", "-m", *args],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (marker.is_file() and int(marker.read_text() or 0) >= 3) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"interrupted by SIGINT: {sweep_folder(tmp_path)}/0 (stopped"), last  # each unfinished job named
    assert ". Continue the sweep with python -m src.train -m " in last
    assert stderr.strip().endswith("resume=latest (finished jobs are not run again)")
    assert (sweep_folder(tmp_path) / "summary.csv").is_file()


@pytest.mark.slow
def test_resume_latest_of_a_sweep_never_started_is_refused_not_started_anew(tmp_path):
    # it started a new sweep in silence: a resubmission with another trainer.max_epochs trained every job from epoch 1
    done = run_module("src.train", "-m", *TINY, "seeds=2", "resume=latest", f"paths.log_dir={tmp_path}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: resume=latest: no sweep under {tmp_path}/cancer/multiruns was started with these overrides (")
    )
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
