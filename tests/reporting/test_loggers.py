"""Each logger of conf/logger/, read back with its own reader: the epoch scalars, the hyperparameters and the final
test metrics (TensorBoard's are read in test_tensorboard.py)."""

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from src.errors import UserError
from src.models import fast_steps
from src.reporting.loggers import build_loggers
from src.train import train
from tests.conftest import compose_config


def run(tmp_path, *overrides):
    cfg = compose_config("trainer.max_epochs=3", f"paths.log_dir={tmp_path / 'logs'}", *overrides, output_dir=tmp_path / "run")
    train(cfg)
    return Path(cfg.paths.output_dir), json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_csv_logger_holds_each_epoch_the_settings_and_the_final_metrics(tmp_path):
    run_dir, metrics = run(tmp_path, "logger=csv")
    table = pd.read_csv(run_dir / "csv" / "metrics.csv")
    epochs = table.dropna(subset=["val_loss"]).sort_values("step")
    assert epochs["step"].tolist() == [0, 1, 2]  # Lightning's step for each epoch's metrics
    assert epochs["train_loss"].tolist() == pytest.approx(metrics["train_loss"], rel=1e-6)
    assert epochs["val_loss"].tolist() == pytest.approx(metrics["val_loss"], rel=1e-6)
    [final] = table.dropna(subset=["hp/best_val_loss"]).to_dict("records")
    assert final["step"] == metrics["stopped_epoch"]
    assert final["hp/best_val_loss"] == pytest.approx(metrics["best_val_loss"], rel=1e-6)
    for name, value in metrics["test"].items():
        assert final[f"hp/{name}"] == pytest.approx(value, rel=1e-6)
    hparams = yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text())
    assert (
        hparams["model.optimizer.lr"] == 0.001
        and hparams["seed"] == 0
        and hparams["model.optimizer._target_"] == "torch.optim.Adam"
    )
    assert not (run_dir / "tensorboard").exists()


def test_the_loggers_get_the_epochs_at_least_once_a_second_and_every_epoch_when_training_ends(tmp_path, monkeypatch):
    ticks = itertools.count()  # a clock that moves 0.4 s an epoch
    monkeypatch.setattr(fast_steps, "time", SimpleNamespace(monotonic=lambda: 0.4 * next(ticks)))
    probe = ("+callbacks.seen._target_=tests.support.probes.LoggedSteps", f"+callbacks.seen.path={tmp_path / 'seen'}")
    run_dir, _ = run(tmp_path, "logger=csv", "trainer.max_epochs=6", *probe)
    seen = [json.loads(line) for line in (tmp_path / "seen").read_text().splitlines()]
    # the first epoch at once, then the epochs held while less than a second has passed, then the rest at the end
    assert seen == [[], [0], [0], [0], [0, 1, 2, 3], [0, 1, 2, 3]]
    epochs = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=["val_loss"])
    assert epochs["step"].tolist() == [0, 1, 2, 3, 4, 5]


def test_a_resumed_run_keeps_the_csv_rows_of_its_earlier_epochs(tmp_path):
    run_dir, _ = run(tmp_path, "logger=csv", "trainer.max_epochs=2")
    (run_dir / "metrics.json").unlink()  # as a SIGKILL after epoch 2 leaves it
    train(compose_config("logger=csv", "trainer.max_epochs=4", f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    epochs = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=["val_loss"]).sort_values("step")
    assert epochs["step"].tolist() == [0, 1, 2, 3]
    assert epochs["val_loss"].tolist() == pytest.approx(metrics["val_loss"], rel=1e-6)


@pytest.mark.parametrize("override", ["logger=none", "~logger"])
def test_without_a_logger_nothing_is_logged_and_the_run_still_reports(override):
    assert build_loggers(compose_config(override, output_dir=Path("unused"))) == []


def test_without_a_logger_the_run_keeps_its_files(tmp_path):
    run_dir, metrics = run(tmp_path, "logger=none")
    assert metrics["stopped_epoch"] == 3 and metrics["test"]
    assert {p.name for p in run_dir.iterdir()} >= {"checkpoints", "figures", "metrics.json", "config.yaml"}
    assert not (run_dir / "tensorboard").exists() and not (run_dir / "csv").exists()


def test_many_is_every_logger():
    cfg = compose_config("logger=many", output_dir=Path("unused"))
    assert {name: node._target_.rsplit(".", 1)[-1] for name, node in cfg.logger.items()} == {
        "tensorboard": "TensorBoardLogger",
        "csv": "CSVLogger",
        "mlflow": "MLFlowLogger",
    }


def test_mlflow_tracking_uri_null_without_MLFLOW_TRACKING_URI_is_one_error(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = compose_config("logger=mlflow", "logger.mlflow.tracking_uri=null", output_dir=Path("unused"))
    with pytest.raises(UserError, match=r"^logger.mlflow.tracking_uri=null takes MLFLOW_TRACKING_URI, which is not set"):
        build_loggers(cfg)  # was Lightning's ./mlruns, which MLflow 3 refuses in a traceback


@pytest.mark.slow  # MLflow creates its SQLite tracking database on first use: ~10 s
def test_mlflow_tracking_uri_null_takes_MLFLOW_TRACKING_URI(tmp_path, monkeypatch):
    """docs/loggers.md: set MLFLOW_TRACKING_URI and pass logger.mlflow.tracking_uri=null."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'from_env.db'}")
    cfg = compose_config("logger=mlflow", "logger.mlflow.tracking_uri=null", output_dir=tmp_path / "run")
    [logger] = build_loggers(cfg)
    assert logger._tracking_uri == f"sqlite:///{tmp_path / 'from_env.db'}" and (tmp_path / "from_env.db").is_file()


def test_an_mlflow_file_store_refused_by_mlflow_gives_mlflows_reason(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    cfg = compose_config("logger=mlflow", f"logger.mlflow.tracking_uri=file:{tmp_path}/mlruns", output_dir=tmp_path / "run")
    with pytest.raises(UserError, match=r"cannot be used: The filesystem tracking backend .* `MLFLOW_ALLOW_FILE_STORE=true`"):
        build_loggers(cfg)  # the message ended at "Error in call to target '...MLFlowLogger':"


def test_an_mlflow_server_that_does_not_answer_is_one_error_before_training(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries take minutes
    cfg = compose_config("logger=mlflow", f"logger.mlflow.tracking_uri=http://me:pw@127.0.0.1:{port}", output_dir=Path("unused"))
    with pytest.raises(
        UserError, match=rf"^logger.mlflow.tracking_uri=http://\*\*\*@127.0.0.1:{port} cannot be used: .*refused"
    ) as e:
        build_loggers(cfg)  # was a traceback from inside trainer.fit, after the run folder was made
    assert "pw" not in str(e.value)


@pytest.mark.slow  # MLflow creates its SQLite tracking database on first use: ~10 s
def test_mlflow_logger_tracks_the_run_in_a_local_sqlite_store(tmp_path):
    from mlflow.tracking import MlflowClient

    run_dir, metrics = run(tmp_path, "logger=mlflow")
    assert (tmp_path / "logs" / "mlflow.db").is_file()  # no server: a file under the log folder
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'logs' / 'mlflow.db'}")
    [tracked] = client.search_runs([client.get_experiment_by_name("cancer").experiment_id])
    assert tracked.info.status == "FINISHED" and tracked.data.tags["run_dir"] == str(run_dir)
    for name in ("train_loss", "val_loss"):
        history = sorted(client.get_metric_history(tracked.info.run_id, name), key=lambda m: m.step)
        assert [m.step for m in history] == [0, 1, 2]  # Lightning's step for each epoch
        assert [m.value for m in history] == pytest.approx(metrics[name], rel=1e-6)
    params = tracked.data.params
    assert (
        params["model.optimizer.lr"] == "0.001"
        and params["seed"] == "0"
        and params["model.optimizer._target_"] == "torch.optim.Adam"
    )
    assert tracked.data.metrics["hp/best_val_loss"] == pytest.approx(metrics["best_val_loss"], rel=1e-6)
    for name, value in metrics["test"].items():
        assert tracked.data.metrics[f"hp/{name}"] == pytest.approx(value, rel=1e-6)
    figures = {Path(a.path).name for a in client.list_artifacts(tracked.info.run_id, "figures")}
    assert (
        figures
        == {p.name for p in (run_dir / "figures").iterdir()}
        == {"loss_curves.png", "confusion_matrix.png", "importance.png"}
    )


@pytest.mark.slow  # a subprocess run of the command, and MLflow's first use of its database
def test_runs_are_named_after_their_experiment_and_overrides_in_tensorboard_and_mlflow(tmp_path):
    from mlflow.tracking import MlflowClient

    from tests.conftest import run_module

    done = run_module(
        "src.train",
        "logger=many",
        "trainer.max_epochs=2",
        "model.optimizer.lr=0.01",
        "trainer.enable_progress_bar=false",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [run_dir] = (tmp_path / "logs" / "cancer" / "runs").iterdir()
    # TensorBoard names a run by its folder: the run's, then the overrides it was given
    [events_dir] = {p.parent for p in (run_dir / "tensorboard").rglob("events.out.tfevents.*")}
    assert events_dir.name == "trainer.max_epochs=2,model.optimizer.lr=0.01"
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'logs' / 'mlflow.db'}")
    [tracked] = client.search_runs([client.get_experiment_by_name("cancer").experiment_id])
    assert tracked.info.run_name == "cancer trainer.max_epochs=2,model.optimizer.lr=0.01"


@pytest.mark.slow  # MLflow creates its SQLite tracking database on first use: ~10 s
def test_parallel_jobs_that_create_the_same_mlflow_experiment_both_log(tmp_path, monkeypatch):
    """Two jobs of a parallel sweep start at once: the other job creates the experiment after this job's look-up."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    look_up = MlflowClient.get_experiment_by_name

    def the_other_job_creates_it_first(client, name):
        found = look_up(client, name)
        if found is None:
            MlflowClient(tracking_uri=uri).create_experiment(name)
        return found

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", the_other_job_creates_it_first)
    cfg = compose_config("logger=mlflow", f"logger.mlflow.tracking_uri={uri}", output_dir=tmp_path / "run")
    [logger] = build_loggers(cfg)  # was: error: ... cannot be used: Experiment ... already exists
    assert (
        logger.experiment_id
        == MlflowClient(tracking_uri=uri).get_experiment_by_name(cfg.logger.mlflow.experiment_name).experiment_id
    )


def test_a_tensorboard_folder_named_after_the_overrides_is_a_valid_name_on_every_system():
    from src.reporting.run_names import overrides_label

    swa = "+callbacks.swa={_target_: lightning.pytorch.callbacks.StochasticWeightAveraging, swa_lrs: 0.01}"
    label = overrides_label([swa, 'data.na_values=["?", "n/a"]'])
    assert not set(label) & set('<>:"/\\|?* ')  # Windows refuses the first nine in a folder name; a space is awkward
    assert (
        label
        == "+callbacks.swa={_target__lightning.pytorch.callbacks.StochasticWeightAveraging,_swa_lrs_0.01},data.na_values=[_,_n_a_]"
    )
