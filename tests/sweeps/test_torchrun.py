"""DDP started by torchrun, exactly as a cluster starts it, gives trainer=ddp_cpu's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_module

TINY = ["trainer.max_epochs=5", "trainer.enable_progress_bar=false", "torch_threads=1"]


@pytest.mark.slow
def test_torchrun_gives_the_numbers_of_lightnings_own_ddp_launch(tmp_path):
    rank_logs = tmp_path / "rank_logs"  # each rank's stderr too: a failure shows the rank that failed first
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "--tee=3",
        f"--log-dir={rank_logs}",
    ]
    done = subprocess.run(
        [*torchrun, "-m", "src.train", "trainer=torchrun", *TINY, f"paths.log_dir={tmp_path / 'torchrun'}"],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    each_rank = [f"{log.relative_to(rank_logs)}: ...{log.read_text()[-1500:]}" for log in sorted(rank_logs.rglob("stderr.log"))]
    assert done.returncode == 0, "\n".join([*each_rank, done.stderr[-1500:]])
    (run_dir,) = (tmp_path / "torchrun" / "cancer" / "runs").iterdir()  # one folder for both ranks
    assert run_dir.name.startswith("torchrun_")
    by_torchrun = json.loads((run_dir / "metrics.json").read_text())

    lightning = run_module("src.train", "trainer=ddp_cpu", *TINY, f"paths.log_dir={tmp_path / 'ddp_cpu'}", timeout=600)
    assert lightning.returncode == 0, lightning.stderr[-3000:]
    [metrics] = Path(tmp_path / "ddp_cpu").rglob("metrics.json")
    by_lightning = json.loads(metrics.read_text())

    assert by_torchrun["val_loss"] == pytest.approx(by_lightning["val_loss"], rel=1e-6)
    assert by_torchrun["test"] == pytest.approx(by_lightning["test"], rel=1e-6)
    assert by_torchrun["matrices"] == by_lightning["matrices"]
