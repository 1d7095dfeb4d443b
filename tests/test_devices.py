"""The same config on two CPU processes (DDP) and, where there is one, on a GPU."""

import json

import pytest
import torch

from src.train import train
from tests.conftest import run_module


@pytest.mark.slow  # a subprocess run of the command
def test_ddp_on_two_cpu_processes_shares_each_epoch_and_reduces_the_metrics(tmp_path, make_config):
    audit = tmp_path / "audit"
    audit.mkdir()
    epochs = 20
    proc = run_module(
        "src.train",
        "trainer=ddp_cpu",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        f"paths.log_dir={tmp_path / 'logs'}",
        "+callbacks.row_audit._target_=tests.support.row_audit.RowAudit",
        env={"ROW_AUDIT_DIR": str(audit)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for epoch in range(epochs):
        shares = [torch.load(audit / f"rank{r}_epoch{epoch}.pt").tolist() for r in range(2)]
        assert not set(shares[0]) & set(shares[1]), "the ranks' shares overlap"
        assert sorted(shares[0] + shares[1]) == list(range(341)), "some training row was missed or seen twice"
    orders = [torch.load(audit / f"rank0_epoch{e}.pt").tolist() for e in range(2)]  # reshuffled per epoch
    assert orders[0] != orders[1]

    [metrics_file] = (tmp_path / "logs").rglob("metrics.json")  # only rank 0 writes
    ddp = json.loads(metrics_file.read_text())
    assert ddp["stopped_epoch"] == epochs and len(ddp["val_loss"]) == epochs
    assert sum(map(sum, ddp["matrices"]["test_confusion_matrix"])) == 114  # every test row, counted once
    # two ranks take half the optimizer steps per epoch (global batch 64): compare at equal steps
    single = train(make_config(f"trainer.max_epochs={epochs // 2}")).test
    assert ddp["test"]["test_acc"] > 0.85 and single["test_acc"] > 0.85
    assert abs(ddp["test"]["test_acc"] - single["test_acc"]) < 0.1
    assert abs(ddp["test"]["test_loss"] - single["test_loss"]) < 0.5 * single["test_loss"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_keeps_batches_on_the_device(make_config):
    cfg = make_config("trainer=gpu", "trainer.max_epochs=3")
    result = train(cfg)
    assert result.stopped_epoch == 3
    from src.data.datamodule import TabularDataModule

    dm = TabularDataModule(source={"_target_": "src.data.sources.breast_cancer"}, batch_size=32)
    dm.setup("fit")
    x, y = dm.splits["train"]
    from src.data.batches import shuffled_batches

    batches = shuffled_batches(x.cuda(), y.cuda(), 32, seed=0, epoch=0)
    assert all(b.is_cuda and t.is_cuda for b, t in batches)
