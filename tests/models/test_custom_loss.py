"""docs/extending.md's custom loss: the guide's class, copied as a reader would, trains, checkpoints and reloads."""

import importlib
import os
import re
import sys

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT, needs_housing

GUIDE = ROOT / "docs" / "extending.md"


@pytest.fixture
def huber_module():
    """The guide's Huber class under a name no other file uses; the file is removed afterwards."""
    section = GUIDE.read_text().split("## A loss of your own", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    name = f"huber_test_{os.getpid()}"
    path = ROOT / "src" / "models" / f"{name}.py"
    path.write_text(code)
    importlib.invalidate_caches()
    try:
        yield f"src.models.{name}.HuberRegression"
    finally:
        path.unlink()
        sys.modules.pop(f"src.models.{name}", None)


@needs_housing
def test_a_huber_loss_is_one_method_and_trains(huber_module, make_config, tmp_path):
    from src.runs.checkpoints.read import load_saved_run
    from src.train import train

    result = train(make_config("experiment=housing", "trainer.max_epochs=3", f"+model.module={huber_module}"))
    assert result.val_loss[-1] < result.val_loss[0]  # it learns
    saved = load_saved_run(tmp_path / "run" / "checkpoints" / "best.ckpt")
    assert f"{type(saved.model).__module__}.{type(saved.model).__name__}" == huber_module
    datamodule = saved.build_datamodule()
    datamodule.setup("test")
    x, y = datamodule.splits["test"]
    with torch.no_grad():
        huber = F.huber_loss(saved.model.eval().predict(x), y).item()
    assert result.test["test_loss"] == pytest.approx(huber, rel=1e-5)
    assert result.test["test_loss"] < result.test["test_mse"]  # a Huber loss, not the squared error


def test_a_module_that_is_not_the_tasks_is_refused_in_one_line(make_config):
    from src.errors import UserError
    from src.train import train

    with pytest.raises(
        UserError,
        match=r"model.module must name a subclass of src.models.tasks.BinaryModule under src.; got 'src.models.tasks.RegressionModule'",
    ):
        train(make_config("trainer.max_epochs=1", "+model.module=src.models.tasks.RegressionModule"))


FOCAL = """
import torch

from src.models.tasks import MulticlassModule


class FocalMulticlass(MulticlassModule):
    gamma = 2.0

    def prediction_loss(self, preds, target):
        p = preds.gather(1, target.reshape(-1, 1).long()).squeeze(1).clamp_min(1e-12)
        return (-((1 - p) ** self.gamma) * torch.log(p)).mean()
"""


def test_a_multiclass_loss_of_ones_own_is_the_loss_trained_and_reported(make_config):
    # MulticlassModule computed cross-entropy on the logits whatever prediction_loss said: the same numbers with it
    from src.train import train

    name = f"focal_test_{os.getpid()}"
    path = ROOT / "src" / "models" / f"{name}.py"
    path.write_text(FOCAL)
    importlib.invalidate_caches()
    try:
        settings = ["experiment=penguins", "trainer.max_epochs=3", "importance.repeats=0"]
        plain = train(make_config(*settings, subdir="plain"))
        focal = train(make_config(*settings, f"+model.module=src.models.{name}.FocalMulticlass", subdir="focal"))
    finally:
        path.unlink()
        sys.modules.pop(f"src.models.{name}", None)
    assert focal.train_loss[0] != plain.train_loss[0]  # trained on it, not on cross-entropy
    assert focal.test["test_loss"] < plain.test["test_loss"]  # a focal loss is below cross-entropy on the same rows
