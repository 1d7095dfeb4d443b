"""What a user sees in TensorBoard, read back with TensorBoard's own readers: scalars, figures, the HParams tab."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.train import train

CLASSIFIER_SCALARS = ["train_loss", "val_loss", "val_acc", "val_precision", "val_recall", "val_f1", "val_auroc"]


def read_events(run_dir):
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    return accumulator.Reload()


def check_one_value_per_epoch(events, metrics, metrics_every=1):
    """train_loss and val_loss every epoch; the other validation metrics every `metrics_every` epochs from the first
    (trainer.val_metrics_every_n_epochs, in both runners)."""
    epochs = metrics["stopped_epoch"]
    for tag in CLASSIFIER_SCALARS:
        steps = [event.step for event in events.Scalars(tag)]
        every = 1 if tag in ("train_loss", "val_loss") else metrics_every
        assert steps == list(range(0, epochs, every)), f"{tag}: steps {steps}"  # Lightning's 0-based epoch steps
    # the curves are the run's history, not some other aggregate of the batches
    for tag in ("train_loss", "val_loss"):
        assert [e.value for e in events.Scalars(tag)] == pytest.approx(metrics[tag], rel=1e-6)


def test_lightning_run_logs_one_scalar_per_epoch_and_its_figures(cancer_run):
    run_dir, _ = cancer_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    events = read_events(run_dir)
    check_one_value_per_epoch(events, metrics, metrics_every=10)
    assert {"figures/loss_curves", "figures/confusion_matrix", "figures/importance"} <= set(events.Tags()["images"])
    # each metric once: the test metrics as hp/test_* (the HParams tab's), no bare test_* copy, no `epoch` scalar
    scalars = set(events.Tags()["scalars"])
    assert "hp/test_acc" in scalars and not {s for s in scalars if s.startswith("test_")} and "epoch" not in scalars


def test_plain_runner_logs_the_same_scalars_and_figures(make_config):
    cfg = make_config("runner=plain", "trainer.max_epochs=3")
    train(cfg)
    run_dir = cfg_dir(cfg)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    check_one_value_per_epoch(read_events(run_dir), metrics, metrics_every=10)  # the default, as the Lightning run's
    assert {p.name for p in (run_dir / "figures").iterdir()} == {"loss_curves.png", "confusion_matrix.png", "importance.png"}
    assert {"figures/loss_curves", "figures/confusion_matrix"} <= set(read_events(run_dir).Tags()["images"])


def test_validation_every_second_epoch_still_logs_every_validation_metric(make_config):
    # the metrics were computed at epochs where epoch % 10 == 0, none of which validates: val_acc, ... never appeared
    cfg = make_config("trainer.max_epochs=24", "trainer.check_val_every_n_epoch=2")
    train(cfg)
    events = read_events(cfg_dir(cfg))
    for tag in CLASSIFIER_SCALARS[2:]:
        assert [e.step for e in events.Scalars(tag)] == [1, 11, 21], tag  # epochs 2, 12, 22: the first validated of each 10


def hparams_sessions(logdir):
    """The HParams tab's table, as TensorBoard's HParams plugin computes it for the frontend."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    plugin_context = backend_context.Context(
        base_plugin.TBContext(data_provider=provider, logdir=str(logdir), multiplexer=multiplexer)
    )
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=list(api_pb2.Status.values()))
    groups = list_session_groups.Handler(context.RequestContext(), plugin_context, "", request).run().session_groups
    return {
        group.name: (
            {name: value.ListFields()[0][1] for name, value in group.hparams.items()},
            {metric.name.tag: metric.value for metric in group.metric_values},
        )
        for group in groups
    }


def test_hparams_tab_compares_runs_by_settings_and_final_metrics(tmp_path):
    from tests.conftest import compose_config

    runs = {}
    for lr in (0.01, 0.002):
        cfg = compose_config("trainer.max_epochs=2", f"model.optimizer.lr={lr}", output_dir=tmp_path / f"lr{lr}")
        train(cfg)
        runs[lr] = json.loads((cfg_dir(cfg) / "metrics.json").read_text())

    sessions = hparams_sessions(tmp_path)
    assert len(sessions) == 2
    by_lr = {hparams["model.optimizer.lr"]: (hparams, metrics) for hparams, metrics in sessions.values()}
    assert set(by_lr) == set(runs)
    for lr, (hparams, metrics) in by_lr.items():
        assert hparams["model.net.hidden"] == "[25, 20, 15, 10, 5]" and hparams["seed"] == 0
        assert hparams["model.optimizer._target_"] == "torch.optim.Adam"
        assert metrics["hp/best_val_loss"] == pytest.approx(runs[lr]["best_val_loss"], rel=1e-6)
        for name, value in runs[lr]["test"].items():
            assert metrics[f"hp/{name}"] == pytest.approx(value, rel=1e-6)


def cfg_dir(cfg):
    from pathlib import Path

    return Path(cfg.paths.output_dir)
