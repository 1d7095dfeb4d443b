"""Checkpoints are plain data (weights_only loads), and anything that is not one of ours is refused by name."""

import pytest
import torch

from src.errors import UserError
from src.models.tasks import BinaryModule, RegressionModule
from src.runs.checkpoints.read import load_saved_run


@pytest.mark.parametrize("run, model_class", [("cancer_run", BinaryModule), ("housing_run", RegressionModule)])
@pytest.mark.parametrize("name", ["best.ckpt", "last.ckpt"])
def test_checkpoints_load_with_weights_only_and_rebuild_the_model(request, run, model_class, name):
    run_dir, result = request.getfixturevalue(run)
    path = run_dir / "checkpoints" / name
    checkpoint = torch.load(path, weights_only=True)  # raises if anything in it needs arbitrary unpickling
    assert checkpoint["rebuild"]["model_class"] == f"{model_class.__module__}.{model_class.__qualname__}"

    saved = load_saved_run(path)
    assert type(saved.model) is model_class
    assert saved.epoch == checkpoint["epoch"] + 1
    assert saved.epoch == (result.best_epoch if name == "best.ckpt" else result.stopped_epoch)
    for key, weights in checkpoint["state_dict"].items():
        torch.testing.assert_close(saved.model.state_dict()[key], weights, rtol=0, atol=0)
    datamodule = saved.build_datamodule()
    assert datamodule.scaler_mean == checkpoint["TabularDataModule"]["scaler_mean"]


class Payload:  # unpickling an object like this would run code chosen by the file's author
    pass


def broken_checkpoints(best_path, tmp_path):
    good = torch.load(best_path, weights_only=True)
    whole = best_path.read_bytes()

    def saved(name, obj):
        path = tmp_path / name
        torch.save(obj, path)
        return path

    def written(name, data: bytes):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    hparams = good["hyper_parameters"]
    wrong_shape = {**good, "hyper_parameters": {**hparams, "net": {**hparams["net"], "hidden": [7]}}}
    foreign_class = {**good, "rebuild": {**good["rebuild"], "model_class": "os.system"}}
    foreign_net = {**good, "hyper_parameters": {**hparams, "net": {**hparams["net"], "_target_": "torch.nn.Linear"}}}
    unknown_setting = {**good, "hyper_parameters": {**hparams, "net": {**hparams["net"], "activation": "tanh"}}}
    return [
        (tmp_path / "missing.ckpt", "checkpoint not found"),
        (written("text.ckpt", b"not a checkpoint"), "is not a readable checkpoint"),
        (written("truncated.ckpt", whole[: len(whole) // 2]), "is not a readable checkpoint"),
        (saved("object.ckpt", {"state_dict": Payload()}), "would unpickle arbitrary objects"),
        (saved("foreign.ckpt", {"state_dict": {}, "epoch": 3}), "is not a checkpoint of this project"),
        (saved("no_rebuild.ckpt", {k: v for k, v in good.items() if k != "rebuild"}), "is not a checkpoint of this project"),
        (saved("no_data.ckpt", {k: v for k, v in good.items() if k != "TabularDataModule"}), "no feature names or scaler"),
        (saved("foreign_class.ckpt", foreign_class), "class 'os.system' is not in src.models"),
        (saved("wrong_shape.ckpt", wrong_shape), "is corrupt: its weights do not fit"),
        (saved("foreign_net.ckpt", foreign_net), "class 'torch.nn.Linear' is not in src"),
        (saved("unknown_setting.ckpt", unknown_setting), "is corrupt: its weights do not fit"),
    ]


def test_anything_but_our_checkpoints_is_refused_with_the_reason(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    for path, reason in broken_checkpoints(run_dir / "checkpoints" / "best.ckpt", tmp_path):
        with pytest.raises(UserError) as info:
            load_saved_run(path)
        message = str(info.value)
        assert reason in message and str(path) in message and "\n" not in message, (path.name, message)
