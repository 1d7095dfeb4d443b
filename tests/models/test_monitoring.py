"""Any logged metric can be monitored; a monitor naming nothing logged is refused before training."""

import json

import pytest

from src.errors import UserError
from src.train import train
from tests.conftest import needs_housing


def test_early_stopping_and_the_best_checkpoint_can_watch_validation_accuracy(make_config):
    cfg = make_config(
        "trainer.max_epochs=40",
        "model.optimizer.lr=0.01",
        "callbacks.early_stopping.monitor=val_acc",
        "callbacks.early_stopping.mode=max",
        "callbacks.early_stopping.patience=3",
        "callbacks.model_checkpoint.monitor=val_auroc",
        "callbacks.model_checkpoint.mode=max",
    )
    result = train(cfg)
    assert result.stopped_early and result.stopped_epoch < 40  # val_acc stops improving long before val_loss does
    metrics = json.loads((cfg_path(cfg) / "metrics.json").read_text())
    assert metrics["test"]["test_acc"] > 0.8
    # "best val_loss" is the val_loss of the checkpoint chosen by val_auroc, not its val_auroc
    assert metrics["best_val_loss"] == result.val_loss[result.best_epoch - 1]


@needs_housing
def test_a_checkpoint_on_validation_r2(make_config):
    result = train(
        make_config(
            "experiment=housing",
            "trainer.max_epochs=4",
            "callbacks.model_checkpoint.monitor=val_r2",
            "callbacks.model_checkpoint.mode=max",
        )
    )
    assert result.tested_checkpoint is not None


def test_a_monitor_that_names_nothing_logged_is_an_error_before_training(make_config, tmp_path):
    cfg = make_config("callbacks.early_stopping.monitor=val_accuracy")
    with pytest.raises(
        UserError,
        match=r"EarlyStopping monitors 'val_accuracy', which this model does not log; it logs train_loss, val_loss, val_acc",
    ):
        train(cfg)
    assert not any((tmp_path / "run").glob("checkpoints/*.ckpt"))
    added = "+callbacks.es2={_target_:lightning.pytorch.callbacks.EarlyStopping,monitor:my_metric}"
    with pytest.raises(UserError, match=r"\(set e.g. callbacks.es2.monitor=val_loss\)$"):  # it named early_stopping
        train(make_config(added))


def cfg_path(cfg):
    from pathlib import Path

    return Path(cfg.paths.output_dir)


def test_a_run_that_validates_every_second_epoch_trains_tests_and_reports(make_config):
    result = train(make_config("trainer.max_epochs=4", "trainer.check_val_every_n_epoch=2", "model.optimizer.lr=0.01"))
    assert result.stopped_epoch == 4 and result.best_epoch in (2, 4)  # checkpoints are judged where validation ran
    assert result.val_loss[0] != result.val_loss[0]  # NaN: nothing validated yet
    assert result.val_loss[2] == result.val_loss[1]  # epoch 3 keeps epoch 2's val_loss, as the callbacks saw it
    assert result.test


@pytest.mark.parametrize(
    ("overrides", "better"),
    [
        pytest.param(("callbacks.model_checkpoint.monitor=val_auroc",), "max", id="auroc-with-the-default-mode-min"),
        # what the hint said when early stopping alone watched val_auroc: best.ckpt became the highest val_loss
        pytest.param(("callbacks.model_checkpoint.mode=max",), "min", id="val_loss-with-mode-max"),
        pytest.param(
            ("experiment=housing", "callbacks.early_stopping.monitor=val_mae", "callbacks.early_stopping.mode=max"),
            "min",
            marks=needs_housing,
            id="mae-with-mode-max",
        ),
    ],
)
def test_a_monitor_watched_the_wrong_way_is_an_error_before_training(make_config, tmp_path, overrides, better):
    with pytest.raises(UserError, match=rf"would keep the worst epoch \(set its mode: callbacks\.\w+\.mode={better}\)$"):
        train(make_config(*overrides))
    assert not any((tmp_path / "run").glob("checkpoints/*.ckpt"))


def test_early_stopping_can_watch_the_training_loss(make_config):
    patience = 3
    cfg = make_config(
        "trainer.max_epochs=200",
        "model.optimizer.lr=0.05",
        "callbacks.early_stopping.monitor=train_loss",
        f"callbacks.early_stopping.patience={patience}",
    )
    result = train(cfg)
    best = min(range(len(result.train_loss)), key=result.train_loss.__getitem__) + 1
    assert result.stopped_early
    assert result.stopped_epoch == best + patience == len(result.train_loss)  # its patience ran out on train_loss
    assert min(result.val_loss[best:]) < result.val_loss[best - 1]  # not on val_loss, which still improved
