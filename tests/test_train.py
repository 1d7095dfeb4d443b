"""Both experiments end to end for a few epochs, and the overrides a user can get wrong."""

import json

import pytest
import torch

from src.train import train
from tests.conftest import needs_housing, run_module
from tests.support.checkpoints import evaluate_test_loss


def check_run_outputs(run_dir, result, epochs: int):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "config.yaml").is_file()
    # the test split is evaluated with the best checkpoint, not the last weights
    assert metrics["tested_checkpoint"].endswith("best.ckpt")
    assert metrics["stopped_epoch"] == epochs == len(metrics["val_loss"]) == len(metrics["train_loss"])
    assert metrics["best_val_loss"] == min(metrics["val_loss"])
    assert metrics["val_loss"][metrics["best_epoch"] - 1] == metrics["best_val_loss"]
    assert metrics["wall_time_s"] > 0
    best = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] + 1 == metrics["best_epoch"]
    return metrics


def test_cancer_end_to_end(make_config):
    cfg = make_config("trainer.max_epochs=4")
    result = train(cfg)
    metrics = check_run_outputs(cfg_dir(cfg), result, epochs=4)
    assert set(metrics["test"]) == {"test_loss", "test_acc", "test_precision", "test_recall", "test_f1", "test_auroc"}
    assert sum(map(sum, metrics["matrices"]["test_confusion_matrix"])) == 114
    assert 0.5 < metrics["test"]["test_acc"] <= 1


@needs_housing
def test_housing_end_to_end(make_config):
    cfg = make_config("experiment=housing", "trainer.max_epochs=3")
    result = train(cfg)
    metrics = check_run_outputs(cfg_dir(cfg), result, epochs=3)
    assert set(metrics["test"]) == {"test_loss", "test_mse", "test_rmse", "test_mae", "test_r2"}
    assert metrics["test"]["test_rmse"] == pytest.approx(metrics["test"]["test_mse"] ** 0.5, rel=1e-5)


def test_best_checkpoint_is_tested_not_the_last_weights(make_config):
    # a high learning rate overfits the small training split within a few dozen epochs
    cfg = make_config("trainer.max_epochs=40", "model.optimizer.lr=0.01", "callbacks.early_stopping.patience=100")
    result = train(cfg)
    assert result.best_epoch < result.stopped_epoch, "the run needs a best epoch before its last to show anything"
    checkpoints = cfg_dir(cfg) / "checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] + 1 == result.stopped_epoch
    assert result.test["test_loss"] == pytest.approx(evaluate_test_loss(checkpoints / "best.ckpt", cfg), rel=1e-6)
    assert result.test["test_loss"] != pytest.approx(evaluate_test_loss(checkpoints / "last.ckpt", cfg), rel=1e-3)


def cfg_dir(cfg):
    from pathlib import Path

    return Path(cfg.paths.output_dir)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("no_such_key=1", "no_such_key"),
        ("experiment=nope", "experiment/nope"),
        ("data.batch_size=0", "data.batch_size must be an integer >= 1 or auto; got 0"),
        ("data.val_fraction=1.2", "data.val_fraction must be in (0, 1); got 1.2"),
    ],
)
def test_bad_overrides_are_rejected_before_any_work(tmp_path, override, expected):
    proc = run_module("src.train", override, f"paths.log_dir={tmp_path}")
    assert proc.returncode != 0
    assert expected in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow  # a subprocess run of the command
def test_housing_without_cache_exits_with_the_fix(tmp_path):
    proc = run_module(
        "src.train",
        "experiment=housing",
        "data.source.download=false",
        f"paths.log_dir={tmp_path}",
        env={"SCIKIT_LEARN_DATA": str(tmp_path / "empty")},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: California housing is not in scikit-learn's cache")
    assert "Traceback" not in proc.stderr
