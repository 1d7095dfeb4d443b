"""An Optuna search whose study lives in a real PostgreSQL database, as docs/sweeps.md shows it for several
machines: workers share the study, and a killed worker's trial is marked failed by the next start."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.services.conftest import finish, start, wait_for

pytestmark = pytest.mark.services

SEARCH = ["hparams_search=cancer_optuna", "trainer.max_epochs=3", "trainer.enable_progress_bar=false", "torch_threads=1"]


def load(services: dict, study_name: str):
    import optuna

    return optuna.load_study(study_name=study_name, storage=services["SERVICES_OPTUNA_STORAGE"])


def search(services: dict, study_name: str, log_dir: Path, n_trials: int):
    return start(
        *SEARCH, f"hydra.sweeper.storage={services['SERVICES_OPTUNA_STORAGE']}", f"hydra.sweeper.study_name={study_name}",
        f"hydra.sweeper.n_trials={n_trials}", f"paths.log_dir={log_dir}",
    )  # fmt: skip


def test_two_workers_share_one_study(services, tmp_path):
    study_name = f"shared-{tmp_path.name}-{os.getpid()}"
    first = search(services, study_name, tmp_path / "a", n_trials=6)  # two machines: each its own log folder
    time.sleep(3)
    second = search(services, study_name, tmp_path / "b", n_trials=6)
    outputs = [finish(first), finish(second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n".join(o[-2000:] for o in outputs)

    trials = load(services, study_name).trials
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert 6 <= len(trials) <= 7  # like MaxTrialsCallback, workers asking at the same moment may run one more
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # none duplicated, none lost
    workers = {t.user_attrs["worker"] for t in trials}
    assert workers == {f"{os.uname().nodename}:{first.pid}", f"{os.uname().nodename}:{second.pid}"}
    password = services["SERVICES_OPTUNA_STORAGE"].split("@")[0].rsplit(":", 1)[1]
    assert "postgresql+psycopg://optuna:***@" in outputs[0] and password not in "".join(outputs)
    written = [p for p in (tmp_path / "a").rglob("*") if p.is_file() and p.suffix in (".yaml", ".log", ".json", ".csv")]
    assert written and not [p for p in written if password in p.read_text(errors="replace")]


def test_killed_worker_trial_is_marked_failed_and_the_study_goes_on(services, tmp_path):
    study_name = f"killed-{tmp_path.name}-{os.getpid()}"
    folder = tmp_path / "cancer_optuna" / "searches" / study_name
    worker = search(services, study_name, tmp_path, n_trials=3)
    wait_for(lambda: (folder / "1" / "checkpoints" / "last.ckpt").is_file(), "trial 1 training", worker)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert [t.state.name for t in load(services, study_name).trials] == ["COMPLETE", "RUNNING"]

    again = search(services, study_name, tmp_path, n_trials=3)
    output = finish(again)
    assert again.returncode == 0, output[-3000:]
    assert "1 abandoned by killed processes marked FAIL" in output
    trials = load(services, study_name).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]  # 3 counted, the killed one not


def test_missing_postgres_driver_is_named(services, tmp_path):
    url = services["SERVICES_OPTUNA_STORAGE"].replace("+psycopg://", "+psycopg2://")  # psycopg2 is not installed
    run = start(*SEARCH, f"hydra.sweeper.storage={url}", f"paths.log_dir={tmp_path}")
    output = finish(run)
    assert run.returncode == 2
    assert output.strip().splitlines()[-1].startswith("error: hydra.sweeper.storage=postgresql+psycopg2://optuna:***@")
    assert "'psycopg2'" in output and "Traceback" not in output
    assert "pip install -e" not in output  # the postgres extra installs psycopg 3, not psycopg2
