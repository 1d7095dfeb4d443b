"""A run logged to a real MLflow tracking server (logger.mlflow.tracking_uri=http://...), as docs/loggers.md and
docs/scale.md show it: its metric histories, parameters and figures read back through the server, the figures
stored under the server's --artifacts-destination; and the MLflow run page and TensorBoard opened in a real
(headless) browser show the run's metrics."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services.conftest import finish, start

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def tracked_run(services, tmp_path_factory):
    """One short cancer run with TensorBoard, CSV and MLflow (the server): (run_dir, metrics.json, MLflow run)."""
    from mlflow.tracking import MlflowClient

    log_dir = tmp_path_factory.mktemp("mlflow_run")
    experiment = f"services-{log_dir.name}-{time.time_ns()}"
    run = start("experiment=cancer", "trainer.max_epochs=3", "model.optimizer.lr=0.01", "torch_threads=1",
                "trainer.enable_progress_bar=false", "logger=many", f"paths.log_dir={log_dir}",
                f"logger.mlflow.tracking_uri={services['SERVICES_MLFLOW_URI']}",
                f"logger.mlflow.experiment_name={experiment}")  # fmt: skip
    output = finish(run)
    assert run.returncode == 0, output[-3000:]
    (run_dir,) = (log_dir / "cancer" / "runs").iterdir()
    client = MlflowClient(tracking_uri=services["SERVICES_MLFLOW_URI"])
    [tracked] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run_dir, json.loads((run_dir / "metrics.json").read_text()), tracked


def test_metrics_params_and_figures_read_back_through_the_server(services, tracked_run):
    from mlflow.tracking import MlflowClient

    run_dir, metrics, tracked = tracked_run
    client = MlflowClient(tracking_uri=services["SERVICES_MLFLOW_URI"])
    assert tracked.info.status == "FINISHED" and tracked.data.tags["run_dir"] == str(run_dir)
    for name in ("train_loss", "val_loss"):
        history = sorted(client.get_metric_history(tracked.info.run_id, name), key=lambda m: m.step)
        assert [m.value for m in history] == pytest.approx(metrics[name], rel=1e-6)
    assert tracked.data.params["seed"] == "0" and tracked.data.params["model.optimizer.lr"] == "0.01"
    assert tracked.data.metrics["hp/best_val_loss"] == pytest.approx(metrics["best_val_loss"], rel=1e-6)

    # bug D: the figures go through the server, into its --artifacts-destination, not to a path on the client's disk
    assert tracked.info.artifact_uri.startswith("mlflow-artifacts:/")
    figures = {Path(a.path).name for a in client.list_artifacts(tracked.info.run_id, "figures")}
    assert (
        figures
        == {p.name for p in (run_dir / "figures").iterdir()}
        >= {"loss_curves.png", "confusion_matrix.png", "importance.png"}
    )
    stored = Path(services["SERVICES_MLFLOW_ARTIFACTS"]) / tracked.info.experiment_id / tracked.info.run_id / "artifacts"
    for name in figures:
        assert (stored / "figures" / name).read_bytes() == (run_dir / "figures" / name).read_bytes()
    assert not (run_dir.parents[2] / "mlflow-artifacts").exists()


def page_text(services: dict, url: str) -> str:
    """The page's text once its scripts have run, from headless Chromium's --dump-dom."""
    dom = subprocess.run(
        [services["SERVICES_CHROMIUM"], "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def test_mlflow_run_page_in_a_browser_shows_the_run_metrics(services, tracked_run):
    _, metrics, tracked = tracked_run
    text = page_text(
        services, f"{services['SERVICES_MLFLOW_URI']}/#/experiments/{tracked.info.experiment_id}/runs/{tracked.info.run_id}"
    )
    assert f"hp/best_val_loss {metrics['best_val_loss']}" in text, text[:2000]
    for name, value in metrics["test"].items():
        assert f"hp/{name} {value:g}" in text or f"hp/{name} {value}" in text, name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_in_a_browser_shows_the_run_scalars(services, tracked_run):
    """TensorBoard opens on its Time Series dashboard, which draws the scalars; the older Scalars tab renders in
    shadow DOM, which --dump-dom does not serialize."""
    run_dir, _, _ = tracked_run
    port = free_port()
    tensorboard = subprocess.Popen(
        [str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(run_dir.parent), "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(60):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        text = page_text(services, f"http://127.0.0.1:{port}/#timeseries")
    finally:
        tensorboard.terminate()
        tensorboard.wait(30)
    assert f"{run_dir.name}/tensorboard" in text, text[:2000]
    for tag in ("train_loss", "val_loss", "val_acc"):  # the cards on screen; groups further down load on scrolling
        assert tag in text, tag
