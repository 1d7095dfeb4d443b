"""Every run gets its own folder, and no run ever writes into a folder that holds another run's files."""

import json
import subprocess
import sys

import pytest

from src.errors import UserError
from src.runs.run_dir import latest_run_dir, new_run_dir
from src.train import train
from tests.conftest import ROOT, compose_config, run_module


def test_a_taken_folder_name_gets_a_suffix(tmp_path):
    stamp = "2026-01-01_00-00-00_000000"
    names = []
    for _ in range(3):  # as three runs would, each creating the folder it was given
        names.append(new_run_dir(tmp_path, stamp).name)
        (tmp_path / names[-1]).mkdir()
    assert names == [stamp, f"{stamp}-2", f"{stamp}-3"]
    assert latest_run_dir(tmp_path) is None  # no run has a last.ckpt yet


@pytest.mark.slow  # two whole processes at once; test_a_taken_folder_name_gets_a_suffix is the fast check
def test_two_runs_started_at_the_same_moment_get_separate_folders(tmp_path):
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "src.train",
                f"paths.log_dir={tmp_path}",
                f"seed={seed}",
                "trainer.max_epochs=2",
                "trainer.enable_progress_bar=false",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
    runs = sorted((tmp_path / "cancer" / "runs").iterdir())
    assert len(runs) == 2
    seeds = sorted(json.loads((d / "metrics.json").read_text())["seed"] for d in runs)
    assert seeds == [1, 2]  # each folder holds one whole run: its own metrics next to its own checkpoints
    for d in runs:
        assert (d / "checkpoints" / "best.ckpt").is_file() and (d / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow  # a subprocess run of the command
def test_a_new_run_pointed_at_an_earlier_runs_folder_is_refused_and_changes_nothing(tmp_path):
    first = run_module("src.train", f"paths.log_dir={tmp_path}", "trainer.max_epochs=2")
    assert first.returncode == 0, first.stderr[-3000:]
    [run_dir] = (tmp_path / "cancer" / "runs").iterdir()
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}

    with pytest.raises(UserError, match="already holds a run"):
        train(compose_config("trainer.max_epochs=2", "seed=5", output_dir=run_dir))
    proc = run_module("src.train", f"hydra.run.dir={run_dir}", "trainer.max_epochs=2", "seed=5")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: {run_dir} already holds a run (config.yaml, metrics.json, checkpoints)")
    )
    assert "Traceback" not in proc.stderr

    # Hydra starts before the refusal: it adds its copy of the refused command beside the run's .hydra/ files
    # and lines to train.log; every file the run wrote is as it was
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    log = run_dir / "train.log"
    assert {p: after[p] for p in files if p != log} == {p: b for p, b in files.items() if p != log}
    assert after[log].startswith(files[log])
    assert "seed=5" not in (run_dir / ".hydra" / "overrides.yaml").read_text()


def test_resume_latest_picks_the_newest_unfinished_run_that_has_a_last_checkpoint(tmp_path):
    finished, interrupted = json.dumps({"interrupted": False}), json.dumps({"interrupted": True})
    for name, files in [
        ("2026-01-01_00-00-00_000000", {"config.yaml": "", "checkpoints/last.ckpt": ""}),  # killed: no metrics.json
        ("2026-01-02_00-00-00_000000", {"config.yaml": "", "checkpoints/last.ckpt": "", "metrics.json": interrupted}),
        ("2026-01-03_00-00-00_000000", {"config.yaml": "", "checkpoints/last.ckpt": "", "metrics.json": finished}),
        ("2026-01-04_00-00-00_000000", {"config.yaml": ""}),  # stopped before its first epoch ended
        ("2026-01-05_00-00-00_000000", {}),  # a folder Hydra made for a rejected command
    ]:
        (tmp_path / name).mkdir()
        for f, text in files.items():
            (tmp_path / name / f).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / f).write_text(text)
    # every finished run has a last.ckpt too: the newest one is passed over
    assert latest_run_dir(tmp_path).name == "2026-01-02_00-00-00_000000"
    assert latest_run_dir(tmp_path, finished_too=True).name == "2026-01-03_00-00-00_000000"
    (tmp_path / "2026-01-02_00-00-00_000000" / "metrics.json").write_text(finished)
    assert latest_run_dir(tmp_path).name == "2026-01-01_00-00-00_000000"
    assert latest_run_dir(tmp_path / "missing") is None


def test_a_refused_run_removes_only_a_folder_that_holds_nothing_but_hydras_files(tmp_path):
    from src.runs.run_dir import remove_refused_run_dir

    refused, kept = tmp_path / "logs" / "x" / "runs" / "refused", tmp_path / "logs" / "x" / "runs" / "kept"
    for run in (refused, kept):
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "config.yaml").write_text("{}")
        (run / "train.log").write_text("")
    (kept / "checkpoints").mkdir()
    remove_refused_run_dir(refused)
    remove_refused_run_dir(kept)
    assert not refused.exists() and kept.is_dir() and (kept / ".hydra" / "config.yaml").is_file()
    # a refused resume in an earlier run's folder: only its own copy of the config goes
    (kept / ".hydra" / "resumed_1").mkdir()
    remove_refused_run_dir(kept, ".hydra/resumed_1")
    assert not (kept / ".hydra" / "resumed_1").exists() and (kept / "checkpoints").is_dir()
    remove_refused_run_dir(kept.parent / "gone")  # nothing there: nothing to do


def test_a_new_run_refused_at_another_runs_folder_leaves_that_runs_config_and_lock(tmp_path):
    from src.runs.run_dir import hold_run_dir

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("seed: 0\n")  # a run killed before its first checkpoint
    with pytest.raises(UserError, match="already holds a run"):
        train(compose_config("trainer.max_epochs=1", output_dir=run_dir))
    assert (run_dir / "config.yaml").read_text() == "seed: 0\n"
    with hold_run_dir(run_dir, resuming=True):  # as its live training process holds it, early in its first epoch
        with pytest.raises(UserError, match="in use by another training process"):
            train(compose_config("trainer.max_epochs=1", output_dir=run_dir))
        assert (run_dir / "config.yaml").read_text() == "seed: 0\n" and (run_dir / ".lock").is_file()
