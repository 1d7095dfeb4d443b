"""The same config on two CPU processes (DDP) and, where there is one, on a GPU."""

import json
import math

import pytest
import torch

from src.train import train
from tests.conftest import run_module


def test_a_run_closes_the_process_group_it_ran_in(make_config):
    # a gloo rank that exits with its group open can abort at exit (SIGABRT), and torchrun then stops the other rank
    import socket

    import torch.distributed as dist

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        assert train(make_config("trainer.max_epochs=1")).test
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


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
def test_gpu_keeps_the_splits_on_the_device_and_trains_like_the_cpu(make_config, monkeypatch):
    import src.train

    built = []
    build = src.train.build_datamodule
    monkeypatch.setattr(src.train, "build_datamodule", lambda cfg: built.append(build(cfg)) or built[-1])
    gpu = train(make_config("trainer=gpu", "trainer.max_epochs=5", subdir="gpu"))
    cpu = train(make_config("trainer.max_epochs=5", subdir="cpu"))
    # each split went to the GPU once, as a whole, and the batches were cut there (transfer_batch_to_device is a no-op)
    device_splits = built[0]._device_splits
    assert {"train", "val"} <= set(device_splits)
    assert all(t.is_cuda for split in device_splits.values() for t in split)
    # the same decisions; losses within 1e-4 relative (cuBLAS and the CPU sum in other orders)
    assert (gpu.best_epoch, gpu.stopped_epoch) == (cpu.best_epoch, cpu.stopped_epoch)
    assert gpu.train_loss == pytest.approx(cpu.train_loss, rel=1e-4)
    assert gpu.val_loss == pytest.approx(cpu.val_loss, rel=1e-4)
    assert gpu.test["test_acc"] == pytest.approx(cpu.test["test_acc"], abs=1 / 114)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("net", ["mlp_cancer", "tabm_k8"])
def test_mixed_precision_on_a_gpu_trains_the_binary_classifier(make_config, precision, net):
    # CUDA's autocast refuses binary_cross_entropy, the lesson's loss; the CPU's does not
    result = train(make_config("trainer=gpu", f"trainer.precision={precision}", f"model/net={net}", "trainer.max_epochs=30"))
    assert all(map(math.isfinite, result.train_loss + result.val_loss))
    assert result.test["test_acc"] > 0.85


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize(
    ("overrides", "metric"),
    [
        (("experiment=penguins",), "test_acc"),
        (("experiment=penguins", "model/net=tabm_k8"), "test_acc"),  # an ensemble's loss: log of the mean softmax
        (("experiment=housing",), "test_r2"),
    ],
    ids=["multiclass", "multiclass-tabm", "regression"],
)
def test_mixed_precision_on_a_gpu_learns_the_multiclass_and_regression_tasks_as_float32_does(
    make_config, precision, overrides, metric
):
    epochs = "trainer.max_epochs=20"
    mixed = train(make_config(*overrides, "trainer=gpu", f"trainer.precision={precision}", epochs, subdir="mixed"))
    full = train(make_config(*overrides, "trainer=gpu", epochs, subdir="float32"))
    assert all(map(math.isfinite, mixed.train_loss + mixed.val_loss))
    assert mixed.test[metric] == pytest.approx(full.test[metric], abs=0.05)
