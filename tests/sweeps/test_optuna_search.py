"""Optuna searches that survive a kill and can be shared: the study lives in SQLite in a folder that stays the same."""

from __future__ import annotations

import json
import logging
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_module

SEARCH = [
    "hparams_search=cancer_optuna", "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "torch_threads=1",
    "model.net.dropout=choice(0.0,1.5)",  # 1.5 is a user error: those trials fail, the search goes on
]  # fmt: skip


@pytest.fixture(autouse=True)
def optuna_logs_through_the_root_logger():
    """Optuna's own log handler writes to the sys.stderr of the moment it was made: made in an earlier test that
    captured its output, it writes to that test's closed stream, a '--- Logging error ---' in this test's stderr.
    Its records go to the root logger instead, where pytest keeps them."""
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def search_folder(log_dir: Path) -> Path:
    return log_dir / "cancer_optuna" / "searches" / "cancer_optuna"


def trials(log_dir: Path) -> list[dict]:
    return yaml.safe_load((search_folder(log_dir) / "optimization_results.yaml").read_text())["trials"]


def check_every_trial_kept(log_dir: Path) -> list[dict]:
    """Each trial's state follows from its parameters, and each complete one's value is its own folder's result."""
    found = trials(log_dir)
    assert sorted(t["number"] for t in found) == list(range(len(found)))  # no number twice, none lost
    for trial in found:
        if trial.get("abandoned") or trial["state"] == "FAIL" and trial["params"].get("model.net.dropout") != 1.5:
            continue  # killed while running
        assert trial["state"] == ("FAIL" if trial["params"]["model.net.dropout"] == 1.5 else "COMPLETE"), trial
        if trial["state"] == "COMPLETE":
            metrics = json.loads((search_folder(log_dir) / str(trial["number"]) / "metrics.json").read_text())
            assert metrics["best_val_loss"] == pytest.approx(trial["value"])
    return found


@pytest.mark.slow
def test_search_started_again_continues_the_same_study(tmp_path):
    log_dir = f"paths.log_dir={tmp_path}"
    first = run_module("src.train", *SEARCH, "hydra.sweeper.n_trials=3", log_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "A new study created" in first.stdout and "\x1b[" not in first.stdout + first.stderr  # Optuna's colours in a log
    before = check_every_trial_kept(tmp_path)
    assert len(before) == 3

    again = run_module("src.train", *SEARCH, "hydra.sweeper.n_trials=5", log_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    after = check_every_trial_kept(tmp_path)
    assert len(after) == 5 and after[:3] == before  # two more, the first three kept as they were
    results = yaml.safe_load((search_folder(tmp_path) / "optimization_results.yaml").read_text())
    complete = [t for t in after if t["state"] == "COMPLETE"]
    assert results["best_value"] == min(t["value"] for t in complete)
    summary = (search_folder(tmp_path) / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 5  # a header and every trial
    # the same study with other fixed settings: its best trial would be one trained under other settings
    other = [a.replace("trainer.max_epochs=2", "trainer.max_epochs=3") for a in SEARCH]
    refused = run_module("src.train", *other, "hydra.sweeper.n_trials=6", log_dir)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "error: study cancer_optuna was started with other fixed settings" in refused.stderr
    assert "trainer.max_epochs=2 (study) vs 3 (now)" in refused.stderr
    assert len(check_every_trial_kept(tmp_path)) == 5  # no trial ran


@pytest.mark.slow
def test_killed_search_continues_and_counts_its_finished_trials(tmp_path):
    command = [sys.executable, "-m", "src.train", *SEARCH, "hydra.sweeper.n_trials=4", f"paths.log_dir={tmp_path}"]
    search = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (search_folder(tmp_path) / "2").is_dir():  # trials 0 and 1 are done, 2 has started
        assert search.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    search.send_signal(signal.SIGKILL)
    search.wait()

    again = run_module("src.train", *SEARCH, "hydra.sweeper.n_trials=4", f"paths.log_dir={tmp_path}")
    assert again.returncode == 0, again.stderr[-3000:]
    found = check_every_trial_kept(tmp_path)
    assert found[2]["state"] == "FAIL"  # abandoned by the killed process, not counted
    assert len([t for t in found if t["number"] != 2]) == 4


@pytest.mark.slow
def test_two_processes_share_one_study(tmp_path):
    command = [sys.executable, "-m", "src.train", *SEARCH, "hydra.sweeper.n_trials=6", f"paths.log_dir={tmp_path}"]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    found = check_every_trial_kept(tmp_path)
    # like optuna's MaxTrialsCallback, two workers asking at the same moment may run one trial beyond n_trials
    assert 6 <= len(found) <= 7
    folders = {p.name for p in search_folder(tmp_path).iterdir() if p.is_dir() and p.name.isdigit()}
    assert folders == {str(t["number"]) for t in found}


def test_sqlite_storage_opens_again_with_its_trials(tmp_path):
    """Pins why open_storage stamps optuna's schema version itself (src/sweeps/optuna_search.py): optuna 2.10 under
    SQLAlchemy 2 never commits its own stamp, so a storage it has just created fails its own check. When this test
    fails there (a newer optuna), stamp_schema_version can go."""
    import optuna
    from optuna.storages import RDBStorage

    from src.sweeps.optuna_search import open_storage

    with pytest.raises(AssertionError):  # optuna's own stamp of the schema version was never committed
        RDBStorage(f"sqlite:///{tmp_path}/plain.db")
    url = f"sqlite:///{tmp_path}/search/optuna.db"  # the folder does not exist yet
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    study.tell(study.ask(), 1.0)
    again = optuna.load_study(study_name="s", storage=open_storage(url))
    assert [t.value for t in again.trials] == [1.0]


def open_and_create(url: str, start, results) -> None:
    import optuna

    from src.sweeps.optuna_search import open_storage

    start.wait()
    try:
        optuna.create_study(study_name="s", storage=open_storage(url), load_if_exists=True)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test shows what went wrong
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_storage_at_once_all_get_it(tmp_path):
    """Workers started together on a search's new SQLite file all create or find its tables; none fails on
    another's schema stamp (`UNIQUE constraint failed: alembic_version`, seen once in test_two_processes_share_one_study;
    eight workers at once hit it within a few tries without the lock)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path}/{attempt}/optuna.db"
        start, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=open_and_create, args=(url, start, results)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert sorted(results.get(timeout=5) for _ in workers) == ["ok"] * 8


class FakeLauncher:
    """Runs no job: each trial's value is its width, as a job's return value would be."""

    def __init__(self):
        self.job_numbers = []

    def launch(self, overrides, initial_job_idx):
        from types import SimpleNamespace

        self.job_numbers += range(initial_job_idx, initial_job_idx + len(overrides))
        return [SimpleNamespace(return_value=float(dict(o.split("=") for o in trial)["search.width"])) for trial in overrides]


def fake_sweeper(tmp_path, sampler, n_trials, n_jobs=1, direction="minimize", width="choice(8, 16, 32)"):
    from omegaconf import OmegaConf

    from src.sweeps.optuna_search import ResumableOptunaSearch

    sweeper = ResumableOptunaSearch(
        sampler=sampler, direction=direction, storage=f"sqlite:///{tmp_path}/optuna.db", study_name="s",
        n_trials=n_trials, n_jobs=n_jobs, max_failure_rate=1.0, search_space=None, custom_search_space=None,
        params=OmegaConf.create({"search.width": width}),
    )  # fmt: skip
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    sweeper.launcher = FakeLauncher()
    return sweeper


def test_n_trials_counts_the_whole_study_and_job_numbers_are_trial_numbers(tmp_path):
    import optuna

    first = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=2)
    first.sweep([])
    again = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=5)
    again.sweep([])
    assert first.launcher.job_numbers == [0, 1] and again.launcher.job_numbers == [2, 3, 4]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert len(results["trials"]) == 5 and results["best_value"] == min(t["value"] for t in results["trials"])


def test_a_study_with_all_its_trials_says_how_to_continue_it(tmp_path, caplog):
    import optuna

    fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=2).sweep([])
    again = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=2)
    with caplog.at_level(logging.INFO):
        again.sweep([])
    assert again.launcher.job_numbers == []
    assert "2 of 2 trials done or running; a higher hydra.sweeper.n_trials (e.g. 4) continues it" in caplog.text


def test_grid_sampler_runs_the_grid_once(tmp_path):
    import functools

    import optuna

    sweeper = fake_sweeper(tmp_path, functools.partial(optuna.samplers.GridSampler), n_trials=10)
    sweeper.sweep([])
    assert sweeper.launcher.job_numbers == [0, 1, 2]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert sorted(t["params"]["search.width"] for t in results["trials"]) == [8, 16, 32]


@pytest.mark.parametrize(
    "settings, arguments, expected",
    [
        # n_jobs=0 asked for no trial at a time, for ever; -1 is joblib's "every core", not Optuna's
        ({"n_jobs": 0}, [], "error: hydra.sweeper.n_jobs must be an integer >= 1 (trials asked for at once); got 0"),
        ({"n_jobs": -1}, [], "error: hydra.sweeper.n_jobs must be an integer >= 1 (trials asked for at once); got -1"),
        (
            {},
            ["model.optimizer.lr=tag(log,interval(0,0.01))"],
            "error: model.optimizer.lr=tag(log,interval(0,0.01)): The `low` value must be larger than 0 for a log distribution (low=0.0, high=0.01).",
        ),
        (
            {"direction": "maximise"},
            [],
            "error: hydra.sweeper.direction must be one direction, minimize or maximize; got maximise",
        ),
        # a grid sweep's way to continue: an Optuna search continues its study without it
        ({}, ["resume=latest"], "error: resume=latest is for a grid sweep; an Optuna search continues its study when the same"),
    ],
)
def test_a_search_setting_optuna_cannot_take_is_one_line(tmp_path, capsys, settings, arguments, expected):
    import optuna

    sweeper = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=2, **settings)
    with pytest.raises(SystemExit) as exit_info:
        sweeper.sweep(arguments)
    assert exit_info.value.code == 2 and sweeper.launcher.job_numbers == []
    assert capsys.readouterr().err.strip().startswith(expected)


def test_a_second_start_with_another_search_space_is_refused_and_leaves_no_trial_behind(tmp_path, capsys):
    import optuna

    fake_sweeper(tmp_path, optuna.samplers.TPESampler(seed=0), n_trials=3).sweep([])
    wider = fake_sweeper(tmp_path, optuna.samplers.TPESampler(seed=0), n_trials=6, width="choice(8, 16, 32, 128)")
    with pytest.raises(SystemExit):
        wider.sweep([])
    assert capsys.readouterr().err.startswith("error: study s was started with another search space (search.width differ)")
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3  # no trial left RUNNING for ever


class FailingLauncher(FakeLauncher):
    """Each trial with `search.width` in `failing` fails, as a job with a user error or a diverged run does."""

    def __init__(self, failing):
        super().__init__()
        self.failing = failing

    def launch(self, overrides, initial_job_idx):
        from types import SimpleNamespace

        returns = super().launch(overrides, initial_job_idx)
        return [SimpleNamespace(return_value=math.nan) if r.return_value in self.failing else r for r in returns]


@pytest.mark.parametrize(
    "failing, max_failure_rate, expected",
    [
        ({8.0, 16.0, 32.0}, 1.0, "error: no trial of study s completed (each failed trial's reason is above)"),
        ({16.0}, 0.0, "error: 1 of 1 trials failed, more than hydra.sweeper.max_failure_rate=0.0 allows"),
    ],
)
def test_a_search_that_fails_more_than_it_may_ends_with_status_2(tmp_path, capsys, failing, max_failure_rate, expected):
    import optuna

    sweeper = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=6)
    sweeper.launcher, sweeper.max_failure_rate = FailingLauncher(failing), max_failure_rate
    (tmp_path / "0" / ".hydra").mkdir(parents=True)  # a trial's folder, as Hydra makes it
    with pytest.raises(SystemExit) as exit_info:
        sweeper.sweep([])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip().startswith(expected)
    assert (tmp_path / "summary.csv").is_file()  # Hydra calls no callback after a sweeper raises: there was no summary
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())  # written before it ends
    assert {t["params"]["search.width"] for t in results["trials"] if t["state"] == "FAIL"} <= {int(w) for w in failing}


def test_a_search_with_a_completed_trial_goes_on_past_failed_ones_by_default(tmp_path):
    import optuna

    sweeper = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=6)
    sweeper.launcher = FailingLauncher({16.0})
    sweeper.sweep([])
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert len(results["trials"]) == 6 and results["best_value"] in (8.0, 32.0)


def test_max_failure_rate_outside_0_to_1_is_one_line(tmp_path, capsys):
    import optuna

    sweeper = fake_sweeper(tmp_path, optuna.samplers.RandomSampler(seed=0), n_trials=2)
    sweeper.max_failure_rate = 1.5
    with pytest.raises(SystemExit):
        sweeper.sweep([])
    assert capsys.readouterr().err.strip() == "error: hydra.sweeper.max_failure_rate must be in [0, 1]; got 1.5"
