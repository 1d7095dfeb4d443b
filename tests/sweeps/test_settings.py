"""Sweep settings are refused before any work, one line each; the shorthands expand to the sweeps they stand for."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from src.config import validate_cv_and_seeds
from src.errors import UserError
from src.sweeps.checks import validate_launcher
from src.sweeps.resolvers import parallel_jobs, sweep_overrides, usable_cores
from src.sweeps.sweeper import shorthand_sweeps

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"cv": {"folds": 1, "fold": None}}, "cv.folds must be null or an integer >= 2"),
        ({"cv": {"folds": None, "fold": 0}}, "cv.fold=0 needs cv.folds"),
        ({"cv": {"folds": 5, "fold": 5}}, r"cv.fold must be an integer in \[0, 4\]"),
        ({"seeds": 0}, "seeds must be null or an integer >= 1"),
    ],
)
def test_bad_cv_and_seeds_are_refused(settings, message):
    with pytest.raises(UserError, match=message):
        validate_cv_and_seeds(OmegaConf.create(settings))


def test_more_jobs_than_cores_is_refused():
    too_many = usable_cores() + 1
    with pytest.raises(UserError, match=rf"n_jobs={too_many} x torch_threads=1 = {too_many} threads exceeds"):
        validate_launcher(OmegaConf.create({"_target_": JOBLIB, "n_jobs": too_many}), torch_threads=1)
    with pytest.raises(UserError, match="exceeds"):
        validate_launcher(OmegaConf.create({"_target_": JOBLIB, "n_jobs": 2}), torch_threads=usable_cores())


def test_default_jobs_fill_the_cores_without_exceeding_them():
    assert parallel_jobs(1) == usable_cores()
    assert parallel_jobs(usable_cores() + 5) == 1
    assert parallel_jobs(None) == 1  # torch's default uses every core already
    validate_launcher(OmegaConf.create({"_target_": JOBLIB, "n_jobs": parallel_jobs(1)}), torch_threads=1)


def test_shorthands_expand_to_their_sweeps():
    cfg = OmegaConf.create({"seed": 3, "seeds": 4, "cv": {"folds": 5, "fold": None}})
    assert shorthand_sweeps(cfg, []) == ["cv.fold=range(0,5)", "seed=range(3,7)"]
    assert shorthand_sweeps(cfg, ["seed=1,2", "cv.fold=0,1"]) == []  # the command's own sweeps win
    # one value of seed is where the seeds start: `-m seeds=3 seed=5` ran seed 5 alone
    cfg = OmegaConf.create({"seed": 5, "seeds": 3, "cv": {"folds": None, "fold": None}})
    assert shorthand_sweeps(cfg, ["seeds=3", "seed=5"]) == ["seed=range(5,8)"]
    assert shorthand_sweeps(OmegaConf.create({"seed": 0, "seeds": None, "cv": {"folds": None, "fold": None}}), []) == []


def test_a_resubmitted_sweep_is_matched_by_its_overrides_not_by_how_it_starts():
    first = ["seed=0,1", "trainer.max_epochs=5"]
    again = ["-m", "trainer.max_epochs=5", "seed=0,1", "resume=latest", "hydra/launcher=submitit_local"]
    assert sweep_overrides(first) == sweep_overrides(again)
    # the docs' re-submission to another partition: hydra settings are not among the saved task overrides
    moved = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug", "hydra.launcher.timeout_min=5", *again]
    assert sweep_overrides(moved) == sweep_overrides(first)


def test_unopenable_storage_is_one_line():
    from src.sweeps.optuna_search import open_storage

    with pytest.raises(UserError, match=r"hydra.sweeper.storage=nosuchdb://x cannot be opened: "):
        open_storage("nosuchdb://x")


def test_a_sqlite_storage_gets_its_folder_or_one_line_saying_why_not(tmp_path):
    from src.sweeps.optuna_search import open_storage

    open_storage(f"sqlite:///{tmp_path}/new/folder/optuna.db")
    assert (tmp_path / "new" / "folder" / "optuna.db").is_file()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(UserError, match=r"hydra.sweeper.storage=sqlite:///\S+/a_file/optuna.db cannot be opened: "):
        open_storage(f"sqlite:///{tmp_path}/a_file/optuna.db")


def test_slurm_launcher_has_the_settings_people_change():
    from hydra import compose, initialize_config_dir

    from tests.conftest import CONF

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=submitit_slurm", "torch_threads=4"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    for key in ("partition", "timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes",
                "array_parallelism", "signal_delay_s"):  # fmt: skip
        assert key in launcher, key
    assert launcher.cpus_per_task == 4  # one core per torch thread


def test_a_job_slurm_started_again_counts_as_requeued(monkeypatch):
    from src.runs.resume import requeued

    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert not requeued()
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    assert not requeued()
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeued()


def test_mlflow_artifacts_go_to_the_server_when_there_is_one():
    from src.sweeps.resolvers import mlflow_artifact_location

    local = "logs/mlflow-artifacts/cancer"
    assert mlflow_artifact_location("sqlite:///logs/mlflow.db", local) == local
    assert mlflow_artifact_location("http://127.0.0.1:5000", local) is None
    assert mlflow_artifact_location(None, local) is None  # MLFLOW_TRACKING_URI decides


def test_a_slurm_time_limit_the_stop_signal_would_take_at_once_is_refused():
    slurm = {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", "signal_delay_s": 120}
    validate_launcher(OmegaConf.create({**slurm, "timeout_min": 4}), 1)
    with pytest.raises(UserError) as refused:  # SLURM sent USR2 as the job started: stopped, or a traceback
        validate_launcher(OmegaConf.create({**slurm, "timeout_min": 3}), 1)
    assert str(refused.value) == (
        "hydra.launcher.timeout_min=3 leaves no time to train: SLURM sends the stop signal hydra.launcher.signal_delay_s=120 s "
        "(and up to 60 s more) before it; use timeout_min >= 4"
    )


def test_storage_password_is_masked():
    from src.sweeps.optuna_search import masked, masked_in

    url = "postgresql+psycopg://optuna:s3cret@db.example.org:5432/optuna"
    assert masked(url) == "postgresql+psycopg://optuna:***@db.example.org:5432/optuna"
    assert "s3cret" not in masked_in(f"storage: {url}\n", url)
    assert masked("sqlite:///logs/x/optuna.db") == "sqlite:///logs/x/optuna.db"


@pytest.mark.parametrize("password", ["p@ss:w/rd%x", "p@ss"])
def test_a_storage_password_not_percent_encoded_is_one_error_that_shows_none_of_it(password):
    from src.sweeps.optuna_search import open_storage

    with pytest.raises(UserError) as refused:  # was "invalid literal for int()", or a host named after the password's end
        open_storage(f"postgresql+psycopg://optuna:{password}@127.0.0.1:5432/optuna")
    assert str(refused.value) == (
        "hydra.sweeper.storage=postgresql+psycopg://***@127.0.0.1:5432/optuna is not a URL as written: "
        "write @ : / % in the password as %40 %3A %2F %25, or leave it out and set PGPASSWORD"
    )


@pytest.mark.parametrize("written", ["p%40ss%3aw%2frd%25x", "p%40ss%3Aw%2Frd%25x", "a%20b", "a%21b"])
def test_storage_password_is_masked_however_it_is_percent_encoded(written):
    from src.sweeps.optuna_search import masked_in

    url = f"postgresql://optuna:{written}@db.example.org:5432/optuna"  # lowercase hex, %20 for a space, an unneeded %21
    assert masked_in(f"storage: {url}\n", url) == "storage: postgresql://optuna:***@db.example.org:5432/optuna\n"


def test_an_interrupted_optuna_trial_is_resumed_by_the_searchs_own_command_not_a_single_run(monkeypatch, tmp_path):
    # the single-run command a trial printed dropped the study's name and ran a new search whose trials all failed
    from types import SimpleNamespace

    import src.runs.resume as resume

    search = SimpleNamespace(sweeper=SimpleNamespace(_target_="hydra_plugins.tabular_sweeps.sweepers.ResumableOptunaSweeper"))
    monkeypatch.setattr(resume, "in_multirun", lambda: True)
    monkeypatch.setattr(resume.HydraConfig, "get", staticmethod(lambda: search))
    assert resume.resume_command(tmp_path) == (
        "the command that started the search, again (its study marks this trial failed and runs another)"
    )
