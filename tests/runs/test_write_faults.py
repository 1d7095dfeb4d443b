"""A file that cannot be written (disk full, read-only folder, no permission) ends the run in one `error:` line that
names the file, the cause and the checkpoints kept; no temporary file is left and the last good checkpoints are
intact, so the run resumes once there is room."""

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import torch

from src.errors import UserError
from src.train import train
from tests.conftest import compose_config, run_module
from tests.support.faults import refuse_writes

EVERY_EPOCH = "trainer.plugins.0.flush_every_s=0"  # every checkpoint save goes to disk at once


def epoch_of(path: Path) -> int:
    return torch.load(path, weights_only=True)["epoch"] + 1


def leftovers(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.rglob("*.tmp")]


def test_disk_full_while_writing_a_checkpoint_keeps_the_last_good_ones(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    failed = refuse_writes(monkeypatch, "last.ckpt", after=2)  # the third last.ckpt (epoch 3) does not fit
    with pytest.raises(UserError) as raised:
        train(compose_config("trainer.max_epochs=6", "model.optimizer.lr=0.01", EVERY_EPOCH, output_dir=run_dir))
    message = str(raised.value)
    checkpoints = run_dir / "checkpoints"
    assert message.startswith(f"could not write {checkpoints / 'last.ckpt'}: No space left on device (ENOSPC); kept: ")
    assert f"{checkpoints / 'last.ckpt'} (epoch 2)" in message and "\n" not in message
    assert message.endswith(f"make room, then resume with: {message.split('resume with: ')[1]}")
    assert epoch_of(checkpoints / "last.ckpt") == 2  # the last good one, untouched
    assert f"{checkpoints / 'best.ckpt'} (epoch {epoch_of(checkpoints / 'best.ckpt')})" in message
    assert failed and not any(p.exists() for p in failed) and not leftovers(run_dir)
    assert not (run_dir / "metrics.json").exists()  # the run has not finished: it resumes from last.ckpt
    monkeypatch.undo()
    resumed = train(
        compose_config(
            "trainer.max_epochs=6",
            "model.optimizer.lr=0.01",
            EVERY_EPOCH,
            f"ckpt_path={checkpoints / 'last.ckpt'}",
            output_dir=run_dir,
        )
    )
    assert resumed.stopped_epoch == 6 and json.loads((run_dir / "metrics.json").read_text())["resumed_from"]["epoch"] == 2


@pytest.mark.parametrize(
    "name, code",
    [
        ("metrics.json", errno.EACCES),
        ("loss_curves.png", errno.ENOSPC),
        ("test_predictions.csv", errno.ENOSPC),
        ("config.yaml", errno.EROFS),
    ],
)
def test_a_report_file_that_cannot_be_written_names_itself_and_the_checkpoints(tmp_path, monkeypatch, name, code):
    run_dir = tmp_path / "run"
    refuse_writes(monkeypatch, name, code=code)
    with pytest.raises(UserError) as raised:
        train(compose_config("trainer.max_epochs=2", output_dir=run_dir))
    message = str(raised.value)
    assert (
        message.startswith(f"could not write {run_dir}/") and f"{name}: {os.strerror(code)} ({errno.errorcode[code]})" in message
    )
    assert not leftovers(run_dir) and not (run_dir / "metrics.json").exists()
    if name == "config.yaml":  # refused before any training: nothing to keep
        assert message.endswith("no checkpoint had been written yet")
        return
    assert f"{run_dir / 'checkpoints' / 'last.ckpt'} (epoch 2)" in message
    monkeypatch.undo()  # room again: resuming the finished training only tests and reports
    train(compose_config("trainer.max_epochs=2", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", output_dir=run_dir))
    assert json.loads((run_dir / "metrics.json").read_text())["stopped_epoch"] == 2


def test_a_prediction_file_that_cannot_be_written_keeps_the_old_one(cancer_run, tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    from src.predict import predict
    from src.runs.checkpoints.read import load_saved_run
    from tests.conftest import CONF

    checkpoint = cancer_run[0] / "checkpoints" / "best.ckpt"
    rows = tmp_path / "rows.csv"
    pd.DataFrame(
        [[0.0] * len(load_saved_run(checkpoint).feature_names)] * 3, columns=load_saved_run(checkpoint).feature_names
    ).to_csv(rows, index=False)
    output = tmp_path / "preds.csv"
    output.write_text("an earlier file\n")
    refuse_writes(monkeypatch, "preds.csv")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("predict", overrides=[f"ckpt_path={checkpoint}", f"input={rows}", f"output={output}"])
    with pytest.raises(UserError, match=rf"could not write {output}: No space left on device \(ENOSPC\)"):
        predict(cfg)
    assert output.read_text() == "an earlier file\n" and not list(tmp_path.glob(".*.tmp"))


def test_resuming_a_run_whose_config_yaml_is_damaged_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    train(compose_config("trainer.max_epochs=2", output_dir=run_dir))
    (run_dir / "metrics.json").unlink()  # as a SIGKILL leaves it
    for damage in ("model: [unclosed\n", "", "just a string\n"):
        (run_dir / "config.yaml").write_text(damage)
        with pytest.raises(
            UserError, match=rf"^{run_dir}/config.yaml is not a (readable run config|run's config).* it is not resumed$"
        ):
            train(
                compose_config("trainer.max_epochs=2", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", output_dir=run_dir)
            )


@contextmanager
def small_disk(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real tmpfs of `size` at `path` while the test runs (mounting needs root: the test is skipped otherwise)."""
    path.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    mounted = shutil.which("mount") is not None and subprocess.run(mount, capture_output=True).returncode == 0
    remount = ["mount", "-o", "remount,ro", str(path)]
    if not mounted or (read_only and subprocess.run(remount, capture_output=True).returncode):
        pytest.skip(f"cannot mount a {'read-only ' * read_only}tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.mark.slow
def test_a_run_on_a_full_disk_ends_in_one_line_with_its_checkpoints_kept(tmp_path):
    """The reported case: a 120 KB log folder, a real one (needs root to mount; skipped otherwise)."""
    with small_disk(tmp_path / "logs", "120k") as logs:
        proc = run_module("src.train", f"paths.log_dir={logs}", "trainer.max_epochs=20", "trainer.enable_progress_bar=false")
        [run_dir] = (logs / "cancer" / "runs").iterdir()
        last_line = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert last_line.startswith(f"error: could not write {run_dir}/") and "No space left on device (ENOSPC)" in last_line
        assert "kept: " in last_line and "resume with: " in last_line
        assert not leftovers(run_dir)
        for kept in last_line.split("kept: ")[1].split("; ")[0].split(", "):
            path, epoch = kept.rsplit(" (epoch ", 1)
            assert epoch_of(Path(path)) == int(epoch.rstrip(")"))


def test_a_log_folder_without_write_permission_is_named_before_any_folder_is_made(tmp_path, monkeypatch):
    from src.runs import run_dir

    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setattr(run_dir.os, "access", lambda path, mode: Path(path) != logs)  # root ignores chmod: pretend
    assert run_dir.unwritable_reason(logs / "cancer" / "runs") == f"{logs} is not writable: Permission denied (EACCES)"
    with pytest.raises(SystemExit) as exited:
        run_dir.run_dir(str(logs / "cancer" / "runs"), "2026-01-01_00-00-00_000000", None, None)
    assert exited.value.code == 2 and not (logs / "cancer").exists()
    assert run_dir.unwritable_reason(tmp_path / "elsewhere") is None


@pytest.mark.slow
def test_a_log_folder_on_a_full_disk_is_one_line_before_hydra_writes_its_config(tmp_path):
    with small_disk(tmp_path / "logs", "8k") as logs:
        proc = run_module("src.train", f"paths.log_dir={logs}", "trainer.max_epochs=2")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]  # Hydra's OSError before
        last_line = proc.stderr.strip().splitlines()[-1]
        assert last_line.startswith(f"error: no run folder can be made under {logs}/cancer/runs: {logs} is on a full disk (")
        assert "No space left on device (ENOSPC)" in last_line and not list(logs.iterdir())


@pytest.mark.slow
def test_a_read_only_log_folder_is_one_line(tmp_path):
    with small_disk(tmp_path / "logs", "1m", read_only=True) as logs:
        proc = run_module("src.train", f"paths.log_dir={logs}", "trainer.max_epochs=2")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"error: no run folder can be made under {logs}/cancer/runs: {logs} is not writable: Read-only file system (EROFS); "
            "set paths.log_dir to a folder you can write to"
        )


def test_a_file_on_a_read_only_disk_is_one_write_failed_error(tmp_path, monkeypatch):
    from src.atomic import WriteFailed, write_text_atomically

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    # a read-only mount refuses the temporary file, and refuses to unlink it too: that second error hid the first
    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(WriteFailed, match=r"could not write .*preds\.csv: Read-only file system \(EROFS\)$"):
        write_text_atomically(tmp_path / "preds.csv", "a,b\n")
