"""A loss that becomes NaN or inf stops training with one line naming the epoch; the best model from before it is tested."""

import json
import math
import re

import pytest
import torch

from src.train import train
from tests.conftest import needs_housing, run_module
from tests.support.checkpoints import evaluate_test_loss

# plain SGD on a linear regressor with a step size past its stability limit: the loss grows ~1e4-fold per epoch
# until it overflows to inf (here at epoch 9); a higher rate overflows in the first epoch
DIVERGING = ("experiment=housing", "model.net.hidden=[]", "model.optimizer._target_=torch.optim.SGD", "trainer.max_epochs=50")


@needs_housing
@pytest.mark.parametrize("runner", ["lightning", "plain"])
def test_a_non_finite_loss_stops_training_and_the_best_model_before_it_is_tested(make_config, tmp_path, capsys, runner):
    cfg = make_config(*DIVERGING, "model.optimizer.lr=0.5", f"runner={runner}")
    result = train(cfg)

    losses = result.val_loss
    assert result.stop_reason == "non_finite_loss" and result.stopped_epoch < 50
    assert not math.isfinite(losses[-1]) and all(math.isfinite(v) for v in losses[:-1]) and len(losses) >= 2
    assert result.best_val_loss == min(losses[:-1]) and losses[result.best_epoch - 1] == result.best_val_loss
    assert result.test and all(math.isfinite(v) for v in result.test.values())

    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("stopped:")]
    assert line.startswith(f"stopped: val_loss became inf at epoch {result.stopped_epoch}; tested ")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["stop_reason"] == "non_finite_loss" and metrics["stop_message"] == line

    if runner == "lightning":  # best.ckpt was not replaced by the diverged model, and it is what was tested
        checkpoints = tmp_path / "run" / "checkpoints"
        assert torch.load(checkpoints / "best.ckpt", weights_only=True)["epoch"] + 1 == result.best_epoch
        assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] + 1 == result.stopped_epoch
        assert result.test["test_loss"] == pytest.approx(evaluate_test_loss(checkpoints / "best.ckpt", cfg), rel=1e-6)


@needs_housing
@pytest.mark.slow  # a subprocess run of the command
def test_a_loss_that_is_never_finite_exits_with_one_line_and_no_test(tmp_path):
    proc = run_module(
        "src.train", *DIVERGING, "model.optimizer.lr=1", f"paths.log_dir={tmp_path}", "trainer.enable_progress_bar=false"
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: val_loss became inf at epoch 1 and no epoch had a finite val_loss: there is no model to test "
        "(lower model.optimizer.lr)"
    )
    assert "Traceback" not in proc.stderr
    [metrics_file] = tmp_path.rglob("metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["stop_reason"] == "non_finite_loss" and metrics["stopped_epoch"] == 1 and metrics["test"] == {}
    assert metrics["best_epoch"] == 0  # best.ckpt held epoch 1 with its inf: no epoch was best (it said 1)
    assert re.search(r"best epoch\s*│\s*none: no epoch had a finite val_loss", proc.stdout)
    assert "housing (lightning) run, not tested" in proc.stdout  # the table's title said "test metrics"


@pytest.mark.parametrize("class_weights", ["null", "balanced"])
def test_a_diverged_binary_classifier_stops_and_tests_the_model_before_it(make_config, capsys, class_weights):
    # its sigmoid gives NaN probabilities, which binary cross-entropy refuses: the run stops as a regressor's does
    result = train(make_config("model.optimizer.lr=1e6", "trainer.max_epochs=20", f"model.class_weights={class_weights}"))
    assert result.stop_reason == "non_finite_loss" and math.isnan(result.val_loss[-1]) and result.stopped_epoch < 20
    assert result.test and math.isfinite(result.best_val_loss)
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("stopped:")]
    assert line.startswith(f"stopped: val_loss became nan at epoch {result.stopped_epoch}; tested ")


@needs_housing
@pytest.mark.slow  # a subprocess run of a sweep
def test_a_sweep_with_a_job_that_never_had_a_finite_loss_ends_with_its_summary_and_exit_1(tmp_path):
    # the sweep exited 0 though that job, run alone, exits 1
    args = (
        "model.optimizer.lr=1,0.001",
        "hydra/launcher=basic",
        f"paths.log_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
    )
    proc = run_module("src.train", "-m", *DIVERGING[:-1], "trainer.max_epochs=2", *args)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: 1 of 2 jobs diverged, the others ran: job 0: no epoch had a finite val_loss: there is no model to test "
        "(lower model.optimizer.lr)"
    )
    assert "2 jobs, best val_loss first" in proc.stdout  # the summary came first
