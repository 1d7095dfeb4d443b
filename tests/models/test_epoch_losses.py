"""An epoch's loss is the loss of all its rows: every mini-batch weighted by its rows, the smaller last one too."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from src.runs.fit import fit_with_lightning
from src.train import build_datamodule, build_model, train
from tests.conftest import needs_housing


@needs_housing
def test_test_loss_is_the_test_mse(make_config):
    result = train(make_config("experiment=housing", "trainer.max_epochs=2"))
    assert result.test["test_loss"] == pytest.approx(result.test["test_mse"], rel=1e-6)


def test_train_val_and_test_losses_are_the_loss_of_every_row(make_config):
    # lr 0: the weights stay as built, so each stage's loss is the model's loss on all the stage's rows at once
    cfg = make_config("experiment=cancer", "trainer.max_epochs=1", "model.optimizer.lr=0.0")
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    assert datamodule.n_batches("train") * datamodule.batch_size != len(datamodule.splits["train"][0])  # a smaller last batch
    result = fit_with_lightning(cfg, datamodule, model, [])
    model.eval()
    with torch.no_grad():
        whole = {stage: F.binary_cross_entropy(model.predict(x), y).item() for stage, (x, y) in datamodule.splits.items()}
    assert result.train_loss == pytest.approx([whole["train"]], rel=1e-5)
    assert result.val_loss == pytest.approx([whole["val"]], rel=1e-5)
    assert result.test["test_loss"] == pytest.approx(whole["test"], rel=1e-5)
