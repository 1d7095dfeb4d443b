"""debug=fast runs the whole pipeline on a couple of batches and keeps nothing; debug=overfit shows the model can fit."""

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from src.train import train
from tests.conftest import ROOT, compose_config, run_module


def test_fast_runs_two_batches_of_each_split_and_removes_its_folder():
    cfg = compose_config("debug=fast")  # output_dir stays null: the run picks a temporary folder itself
    before = OmegaConf.to_yaml(cfg)
    result = train(cfg)
    assert OmegaConf.to_yaml(cfg) == before  # the run works on a read-only copy: the caller's config is untouched
    assert result.stopped_epoch == 1 and len(result.train_loss) == 1
    # the best checkpoint was written, reloaded and tested, and then the folder went away with it
    assert result.tested_checkpoint.endswith("best.ckpt") and not Path(result.tested_checkpoint).exists()
    assert sum(map(sum, result.matrices["test_confusion_matrix"])) == 2 * 32  # two test batches, not all 114 rows


@pytest.mark.slow  # a subprocess run of the command
def test_fast_from_the_command_line_leaves_no_file_behind(tmp_path):
    proc = run_module("src.train", "debug=fast", "trainer.enable_progress_bar=false", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test_acc" in proc.stdout
    assert "(temporary: removed when the run ends" in proc.stdout and "src.eval ckpt_path" not in proc.stdout  # no dead commands
    assert not list(tmp_path.iterdir()), f"files left behind: {os.listdir(tmp_path)}"


@pytest.mark.slow  # a subprocess run of the command
def test_fast_over_a_sweep_leaves_no_file_behind_either(tmp_path):
    # a sweep folder was left with multirun.yaml, empty job folders and a summary.csv of two empty rows
    args = ["-m", "debug=fast", "model/net=mlp,resnet", "trainer.enable_progress_bar=false"]
    proc = run_module("src.train", *args, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("test_acc") == 2  # each job's table
    assert "jobs, best val_loss first" not in proc.stdout  # no summary of jobs whose folders are gone
    assert not list(tmp_path.iterdir()), f"left behind: {list(tmp_path.rglob('*'))}"  # logs/cancer/multiruns/ was


def test_overfit_drives_the_training_loss_of_two_batches_towards_zero(make_config):
    result = train(make_config("debug=overfit"))
    assert result.stopped_epoch == 300  # no early stopping, though validation gets worse
    assert result.train_loss[-1] < 0.01 < 0.5 < result.train_loss[0]


def test_overfit_batches_are_the_same_rows_every_epoch():
    from types import SimpleNamespace

    import torch

    from src.data.datamodule import TabularDataModule

    dm = TabularDataModule(source={"_target_": "src.data.sources.breast_cancer"}, batch_size=32, steps_per_execution=1)
    dm.setup("fit")
    dm.trainer = SimpleNamespace(
        overfit_batches=2, current_epoch=0, global_rank=0, world_size=1, strategy=SimpleNamespace(root_device=torch.device("cpu"))
    )
    first = [x for [(x, _)] in dm.train_dataloader()][:2]
    dm.trainer.current_epoch = 1
    again = [x for [(x, _)] in dm.train_dataloader()][:2]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    dm.trainer.overfit_batches = 0  # a normal run reshuffles every epoch
    assert not torch.equal(next(iter(dm.train_dataloader()))[0][0], first[0])
