"""A run killed or interrupted part-way and resumed ends exactly where the same run left alone ends.

The interrupted runs are real `python -m src.train` processes: one is killed with SIGKILL (nothing runs after
it), others get Ctrl+C (SIGINT) or SIGTERM. The uninterrupted run they are compared with runs in-process.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from src.errors import UserError
from src.train import train
from tests.conftest import ROOT, compose_config, run_module

# the default cancer run, shortened: best epoch 21, stopped by patience 30 at epoch 51
RUN = ("experiment=cancer", "seed=0", "trainer.max_epochs=1000", "callbacks.early_stopping.patience=30")
ENDLESS = ("experiment=cancer", "seed=0", "trainer.max_epochs=100000", "callbacks.early_stopping.patience=100000")
EVERY_EPOCH = "trainer.plugins.0.flush_every_s=0"  # write checkpoint files every epoch, so a SIGKILL finds them
MARKER = "+callbacks.marker._target_=tests.support.probes.EpochMarker"


@pytest.fixture(scope="module")
def left_alone(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("left_alone") / "run"
    result = train(compose_config(*RUN, output_dir=run_dir))
    return result, json.loads((run_dir / "metrics.json").read_text())


def kill_epoch(left_alone) -> int:
    """An epoch after the best one, well before early stopping: the resumed run must remember both."""
    result, _ = left_alone
    epoch = result.best_epoch + 3
    assert epoch + 20 < result.stopped_epoch  # room for a busy machine between seeing the epoch and the signal
    return epoch


def start_training(log_dir: Path, *overrides: str, run: tuple[str, ...] = RUN) -> subprocess.Popen:
    """`python -m src.train` in the background; its stderr goes to a file (a pipe nobody reads could fill up)."""
    args = [*run, f"paths.log_dir={log_dir}", "trainer.enable_progress_bar=false", *overrides]
    stderr = (log_dir.parent / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "src.train", *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    proc.stderr_path = Path(stderr.name)
    return proc


def stderr_after_exit(proc: subprocess.Popen, timeout: float = 60) -> str:
    proc.wait(timeout=timeout)
    return proc.stderr_path.read_text()


def wait_until(ready, proc: subprocess.Popen, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"training ended before the test could interrupt it:\n{proc.stderr_path.read_text()[-3000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("training did not reach the epoch in time")


def only_run_dir(log_dir: Path) -> Path:
    [run_dir] = (log_dir / "cancer" / "runs").iterdir()
    return run_dir


def checkpoint_epoch(path: Path) -> int:
    """Epochs a checkpoint has trained (Lightning counts them from 0)."""
    return torch.load(path, map_location="cpu", weights_only=True)["epoch"] + 1


def assert_same_run(metrics: dict, left_alone_metrics: dict) -> None:
    for key in ("stopped_epoch", "best_epoch", "best_val_loss", "stop_reason", "val_loss", "train_loss", "test", "matrices"):
        assert metrics[key] == left_alone_metrics[key], key  # exactly: same numbers, not close ones


def kill_at_epoch(log_dir: Path, target: int, *overrides: str, run: tuple[str, ...] = RUN) -> tuple[Path, int]:
    """Start a training process, SIGKILL it once its last.ckpt on disk holds `target` epochs; the run folder and
    the epochs its last.ckpt holds."""
    proc = start_training(log_dir, *overrides, run=run)

    def last_checkpoint_at_target():
        found = list(log_dir.glob("cancer/runs/*/checkpoints/last.ckpt"))
        return found and checkpoint_epoch(found[0]) >= target and found[0]

    last = wait_until(last_checkpoint_at_target, proc)
    proc.kill()  # SIGKILL: no handler, no clean-up
    proc.wait()
    run_dir = only_run_dir(log_dir)
    assert not (run_dir / "metrics.json").exists()
    return run_dir, checkpoint_epoch(last)


@pytest.mark.slow  # a subprocess killed or signalled mid-run
def test_a_killed_run_resumed_with_resume_latest_ends_like_the_run_left_alone(tmp_path, left_alone):
    log_dir = tmp_path / "logs"
    run_dir, killed_at = kill_at_epoch(log_dir, kill_epoch(left_alone), EVERY_EPOCH)

    resumed = run_module(
        "src.train", *RUN, f"paths.log_dir={log_dir}", "trainer.enable_progress_bar=false", EVERY_EPOCH, "resume=latest"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run_dir(log_dir) == run_dir  # in the same folder, no new one
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert_same_run(metrics, left_alone[1])
    assert metrics["resumed_from"]["epoch"] >= killed_at
    assert len(metrics["val_loss"]) == metrics["stopped_epoch"]  # the whole history, from epoch 1
    assert checkpoint_epoch(run_dir / "checkpoints" / "best.ckpt") == metrics["best_epoch"]
    assert "resume=latest" not in (run_dir / ".hydra" / "overrides.yaml").read_text()  # the first .hydra/ is kept


@pytest.mark.slow  # ~20 s of training twice: the first checkpoint files reach the disk after 10 s
def test_a_run_killed_with_checkpoint_files_at_their_default_pace_resumes_exactly(tmp_path):
    long_patience = ("experiment=cancer", "seed=0", "trainer.max_epochs=1000", "callbacks.early_stopping.patience=400")
    left_alone_dir = tmp_path / "left_alone"
    train(compose_config(*long_patience, output_dir=left_alone_dir))
    expected = json.loads((left_alone_dir / "metrics.json").read_text())
    assert expected["best_epoch"] + 400 == expected["stopped_epoch"]

    run_dir, killed_at = kill_at_epoch(tmp_path / "logs", expected["best_epoch"] + 1, run=long_patience)
    assert killed_at > expected["best_epoch"]
    train(compose_config(*long_patience, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    assert_same_run(json.loads((run_dir / "metrics.json").read_text()), expected)


@pytest.mark.slow  # a subprocess killed or signalled mid-run
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_after_the_step_writes_last_ckpt_and_the_run_resumes(tmp_path, left_alone, sig):
    log_dir, marker = tmp_path / "logs", tmp_path / "epochs_done"
    marked = (MARKER, f"+callbacks.marker.path={marker}")
    # checkpoint files at their default pace (at most every 10 s): the stop itself must write the epoch it finished
    proc = start_training(log_dir, *marked)
    target = kill_epoch(left_alone)
    wait_until(lambda: marker.exists() and int(marker.read_text() or 0) >= target, proc)
    proc.send_signal(sig)
    stderr = stderr_after_exit(proc)

    assert proc.returncode == 128 + sig  # 130 for Ctrl+C, 143 for SIGTERM
    run_dir = only_run_dir(log_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["interrupted"] and metrics["interrupted_by"] == sig.name and metrics["stop_reason"] == "interrupted"
    stopped = metrics["stopped_epoch"]
    # one Lightning step is a whole epoch by default, so the epoch that was running is finished and saved
    assert metrics["interrupted_epoch"] == stopped >= target
    assert checkpoint_epoch(run_dir / "checkpoints" / "last.ckpt") == stopped
    assert checkpoint_epoch(run_dir / "checkpoints" / "best.ckpt") == metrics["best_epoch"] == left_alone[0].best_epoch
    assert metrics["val_loss"] == left_alone[1]["val_loss"][:stopped]
    assert metrics["test"] == {}
    [line] = [line for line in stderr.splitlines() if line.startswith(f"interrupted by {sig.name}")]
    assert f"during epoch {stopped}" in line and f"ckpt_path={run_dir}/checkpoints/last.ckpt" in line

    resumed = train(compose_config(*RUN, *marked, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    assert not resumed.interrupted
    assert_same_run(json.loads((run_dir / "metrics.json").read_text()), left_alone[1])


# last.ckpt: snapshots at epoch 1, with every new best.ckpt and at the stop only
SNAPSHOT_ONCE = "callbacks.last_checkpoint.every_s=1000"


def test_a_signal_after_an_epochs_checkpoints_stops_after_the_next_epoch_with_its_snapshot(tmp_path, left_alone):
    # after the best epoch no epoch saves best.ckpt, so last.ckpt skips the epoch the signal comes after:
    # stopping there would leave last.ckpt at the best epoch
    epoch = kill_epoch(left_alone)
    probe = ("+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterCheckpoints", f"+callbacks.ctrl_c.epoch={epoch}")
    run_dir = tmp_path / "run"
    stopped = train(compose_config(*RUN, SNAPSHOT_ONCE, *probe, output_dir=run_dir))
    assert stopped.interrupted
    assert stopped.stopped_epoch == stopped.interrupted_epoch == stopped.last_checkpoint_epoch == epoch + 1
    assert checkpoint_epoch(run_dir / "checkpoints" / "last.ckpt") == epoch + 1

    # the seconds trained up to the snapshot count in the resumed run's wall time and ms/epoch, not only its own:
    # those of last.ckpt, not of the older best.ckpt that testing restores the callbacks from (marked here to tell)
    before = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["LossHistory"]["seconds"]
    assert 0 < before < stopped.wall_time_s
    for name, seconds in (("last.ckpt", 1000.0), ("best.ckpt", 500.0)):
        state = torch.load(run_dir / "checkpoints" / name, weights_only=True)
        state["callbacks"]["LossHistory"]["seconds"] = seconds
        torch.save(state, run_dir / "checkpoints" / name)
    started = time.perf_counter()
    train(compose_config(*RUN, SNAPSHOT_ONCE, *probe, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    took = time.perf_counter() - started
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert_same_run(metrics, left_alone[1])  # best.ckpt is still the first part's
    assert 1000 < metrics["wall_time_s"] < 1000 + took
    # the permutation importance's seconds are reported on their own, not as training time
    training = metrics["wall_time_s"] - metrics["importance"].get("seconds", 0.0)
    assert metrics["ms_per_epoch"] == 1000 * training / metrics["stopped_epoch"]


def test_a_stop_in_mid_epoch_resumes_exactly_from_the_newest_snapshot(tmp_path):
    cut = ("data.steps_per_execution=3", SNAPSHOT_ONCE)  # 11 batches in groups of 3: 4 Lightning steps an epoch
    expected = train(compose_config(*RUN, *cut, output_dir=tmp_path / "left_alone"))
    # the second step of the third epoch after the best: the newest snapshot is the best epoch's
    stop_in = expected.best_epoch + 3
    probe = ("+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterStep", f"+callbacks.ctrl_c.step={(stop_in - 1) * 4 + 2}")
    run_dir = tmp_path / "run"
    stopped = train(compose_config(*RUN, *cut, *probe, output_dir=run_dir))
    assert stopped.interrupted and stopped.interrupted_epoch == stop_in and stopped.stopped_epoch == stop_in - 1
    held = expected.best_epoch
    assert stopped.last_checkpoint_epoch == checkpoint_epoch(run_dir / "checkpoints" / "last.ckpt") == held
    assert f"last.ckpt holds epoch {held}; resume with:" in json.loads((run_dir / "metrics.json").read_text())["stop_message"]

    train(compose_config(*RUN, *cut, *probe, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    assert_same_run(
        json.loads((run_dir / "metrics.json").read_text()), json.loads((tmp_path / "left_alone" / "metrics.json").read_text())
    )


@pytest.mark.slow  # a subprocess run of the command
def test_ctrl_c_stops_the_plain_loop_and_marks_metrics_json(tmp_path):
    log_dir = tmp_path / "logs"
    proc = start_training(log_dir, "runner=plain", run=ENDLESS)
    # TensorBoard's event file appears when the plain loop logs its first epoch
    wait_until(lambda: list(log_dir.glob("cancer/runs/*/tensorboard/**/events.out.tfevents.*")), proc)
    proc.send_signal(signal.SIGINT)
    stderr = stderr_after_exit(proc)

    assert proc.returncode == 130
    metrics = json.loads((only_run_dir(log_dir) / "metrics.json").read_text())
    assert metrics["interrupted"] and metrics["interrupted_by"] == "SIGINT" and metrics["runner"] == "plain"
    assert metrics["stopped_epoch"] == len(metrics["val_loss"]) >= 1
    assert metrics["interrupted_epoch"] == metrics["stopped_epoch"] + 1
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr


def test_a_run_with_dropout_batch_norm_and_a_one_cycle_schedule_resumes_exactly(tmp_path):
    # dropout draws from torch's global generator every step: only the saved random states make this replay
    model = ("trainer.max_epochs=8", "model.net.dropout=0.2", "model.net.norm=batch", "model.lr_schedule=onecycle")
    train(compose_config(*model, output_dir=tmp_path / "left_alone"))
    ctrl_c = ("+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterEpoch", "+callbacks.ctrl_c.epoch=4")
    run_dir = tmp_path / "interrupted"
    stopped = train(compose_config(*model, *ctrl_c, output_dir=run_dir))
    assert stopped.interrupted and stopped.stopped_epoch == 4

    with pytest.raises(UserError, match="trainer.max_epochs=8 \\(run\\) vs 12 \\(now\\)"):  # the schedule spans 8 epochs
        train(
            compose_config(
                *model, *ctrl_c, "trainer.max_epochs=12", f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir
            )
        )
    train(compose_config(*model, *ctrl_c, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    left_alone = json.loads((tmp_path / "left_alone" / "metrics.json").read_text())
    assert_same_run(json.loads((run_dir / "metrics.json").read_text()), left_alone)


CTRL_C_AT_4 = ("+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterEpoch", "+callbacks.ctrl_c.epoch=4")


def finished_run(tmp_path) -> Path:
    run_dir = tmp_path / "run"
    train(compose_config("trainer.max_epochs=3", output_dir=run_dir))
    return run_dir


def resume(run_dir: Path, *overrides: str, checkpoint: str = "last.ckpt"):
    checkpoint_path = f"ckpt_path={run_dir}/checkpoints/{checkpoint}"
    return train(compose_config("trainer.max_epochs=3", *overrides, checkpoint_path, output_dir=run_dir))


def test_a_run_early_stopping_had_stopped_is_only_tested_when_resumed(tmp_path):
    # killed after its last epoch, while testing: resuming must test it, not train it further
    run_dir = tmp_path / "run"
    stopping = ("trainer.max_epochs=100", "model.optimizer.lr=0.01", "callbacks.early_stopping.patience=3")
    first = train(compose_config(*stopping, output_dir=run_dir))
    assert first.stopped_early and first.stopped_epoch < 100
    before = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").unlink()
    train(compose_config(*stopping, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    assert_same_run(json.loads((run_dir / "metrics.json").read_text()), before)


@pytest.mark.parametrize(
    "change, expected",
    [
        ((), "has finished (stopped at epoch 3, max_epochs)"),
        (("model.optimizer.lr=0.01",), "these differ from"),
    ],
    ids=["finished", "other-settings"],
)
def test_resuming_refuses_what_would_not_continue_the_same_run(tmp_path, change, expected):
    run_dir = finished_run(tmp_path)
    if change:
        (run_dir / "metrics.json").unlink()  # as a SIGKILL leaves it
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        resume(run_dir, *change)
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == files


def test_resuming_with_no_epoch_left_to_train_is_refused_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    assert train(compose_config("trainer.max_epochs=8", *CTRL_C_AT_4, output_dir=run_dir)).stopped_epoch == 4
    files = {p: p.read_bytes() if p.is_file() else None for p in run_dir.rglob("*")}  # folders too: no new logger's
    for max_epochs in (2, 4):  # max_epochs may change on resume, but Lightning cannot go back, nor train 0 epochs
        with pytest.raises(UserError, match=f"trainer.max_epochs={max_epochs} is not above the 4 epochs {run_dir} has"):
            train(compose_config(f"trainer.max_epochs={max_epochs}", *CTRL_C_AT_4, f"ckpt_path={run_dir}", output_dir=run_dir))
        assert {p: p.read_bytes() if p.is_file() else None for p in run_dir.rglob("*")} == files


@pytest.mark.slow  # subprocess runs of the command: Hydra's folders and the logger's name come from the command line
def test_a_resumed_run_with_more_epochs_writes_to_its_first_tensorboard_folder(tmp_path):
    log_dir = tmp_path / "logs"
    common = (*CTRL_C_AT_4, f"paths.log_dir={log_dir}", "trainer.enable_progress_bar=false")
    stopped = run_module("src.train", "trainer.max_epochs=8", *common)
    assert stopped.returncode == 130, stopped.stderr[-3000:]
    run_dir = only_run_dir(log_dir)
    [first] = (run_dir / "tensorboard").iterdir()
    assert first.name.startswith("trainer.max_epochs=8,")  # named by the overrides, to compare runs (and sweep jobs)
    events = set(first.glob("events.out.tfevents.*"))

    # no epoch left to train: refused before Hydra's copy of the config or a logger's folder stays behind
    paths = sorted(run_dir.rglob("*"))
    refused = run_module("src.train", "trainer.max_epochs=4", *common, "resume=latest")
    assert refused.returncode == 2 and "trainer.max_epochs=4 is not above the 4 epochs" in refused.stderr
    assert sorted(run_dir.rglob("*")) == paths

    resumed = run_module("src.train", "trainer.max_epochs=10", *common, "resume=latest")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["stopped_epoch"] == 10
    assert list((run_dir / "tensorboard").iterdir()) == [first]  # both parts in one TensorBoard run
    assert set(first.glob("events.out.tfevents.*")) > events  # the resumed part's events beside the first part's


def test_a_run_killed_while_testing_after_its_last_epoch_is_only_tested_when_resumed(tmp_path):
    run_dir = finished_run(tmp_path)
    before = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").unlink()  # as a SIGKILL while testing leaves it
    with pytest.raises(UserError, match="trainer.max_epochs=2 is not above the 3 epochs"):
        resume(run_dir, "trainer.max_epochs=2")
    resume(run_dir)  # its own trainer.max_epochs=3: nothing left to train, only testing
    assert_same_run(json.loads((run_dir / "metrics.json").read_text()), before)


def test_resuming_refuses_a_checkpoint_outside_a_run_folder_and_a_broken_one(tmp_path):
    run_dir = finished_run(tmp_path)
    (run_dir / "metrics.json").unlink()
    loose = tmp_path / "copied.ckpt"
    loose.write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes())
    with pytest.raises(UserError, match="is not in this run's folder"):
        train(compose_config(f"ckpt_path={loose}", output_dir=run_dir))
    (run_dir / "checkpoints" / "broken.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="is not a readable checkpoint"):
        resume(run_dir, checkpoint="broken.ckpt")


def test_a_checkpoint_that_does_not_exist_is_named_as_missing(tmp_path):
    # it was "not in this run's folder", naming the new run's folder, which is never made
    with pytest.raises(UserError, match=r"^ckpt_path=/nonexistent/x\.ckpt: no such file$"):
        train(compose_config("ckpt_path=/nonexistent/x.ckpt", output_dir=tmp_path / "run"))


def test_resume_latest_without_any_run_names_the_folder(tmp_path):
    proc = run_module("src.train", "resume=latest", f"paths.log_dir={tmp_path}")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[-1]
        == f"error: resume=latest: no cancer run with checkpoints/last.ckpt under {tmp_path}/cancer/runs"
    )


@pytest.mark.slow  # a subprocess run of the command
def test_resume_latest_passes_over_a_newer_finished_run(tmp_path):
    log_dir = tmp_path / "logs"
    runs = log_dir / "cancer" / "runs"
    interrupted, finished = runs / "2026-01-01_00-00-00_000000", runs / "2026-01-02_00-00-00_000000"
    assert train(compose_config("seed=7", "trainer.max_epochs=8", *CTRL_C_AT_4, output_dir=interrupted)).interrupted
    train(compose_config("seed=8", "trainer.max_epochs=2", output_dir=finished))  # newer, and it has a last.ckpt too
    finished_files = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}

    args = ("seed=7", "trainer.max_epochs=8", *CTRL_C_AT_4, f"paths.log_dir={log_dir}", "resume=latest")
    resumed = run_module("src.train", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((interrupted / "metrics.json").read_text())
    assert not metrics["interrupted"] and metrics["stopped_epoch"] == 8 and metrics["resumed_from"]["epoch"] == 4
    assert {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()} == finished_files
    assert sorted(runs.iterdir()) == [interrupted, finished]

    # both finished now: nothing to resume, and the message says so rather than that no run exists
    again = run_module("src.train", *args)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: resume=latest: every cancer run under {runs} that saved a checkpoint has finished (the newest: "
        f"{finished.absolute()}), so there is nothing to resume (a run stopped before its first checkpoint has none); "
        "leave out resume=latest to start a new run"
    )
    assert sorted(runs.iterdir()) == [interrupted, finished]


def test_a_run_that_is_still_training_cannot_be_resumed_by_another_process(tmp_path):
    from src.runs.run_dir import hold_run_dir

    run_dir = finished_run(tmp_path)
    (run_dir / "metrics.json").unlink()
    with hold_run_dir(run_dir, resuming=True):  # as the live training process holds it
        with pytest.raises(UserError, match=f"in use by another training process \\(pid {os.getpid()}\\)"):
            resume(run_dir)


def test_a_resume_may_move_the_data_cache_but_not_change_the_run(tmp_path):
    from omegaconf import OmegaConf

    from src.runs.resume import check_same_settings

    (tmp_path / "config.yaml").write_text(
        OmegaConf.to_yaml(compose_config("experiment=housing", output_dir=tmp_path), resolve=True)
    )
    # docs/reliability.md: where the data cache lives may change (data.data_home was the name checked: it does not exist)
    moved = ["experiment=housing", "data.source.data_home=/elsewhere", "data.source.download=false"]
    check_same_settings(compose_config(*moved, output_dir=tmp_path), tmp_path)
    with pytest.raises(UserError, match="seed=0 \\(run\\) vs 1 \\(now\\)"):
        check_same_settings(compose_config("experiment=housing", "seed=1", output_dir=tmp_path), tmp_path)


def test_a_resume_with_another_seed_names_the_override_given_not_the_settings_that_follow_it(tmp_path):
    from omegaconf import OmegaConf

    from src.runs.resume import check_same_settings

    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(compose_config(output_dir=tmp_path), resolve=True))
    with pytest.raises(UserError) as refused:  # data.seed is ${seed}: it differs too, but seed=1 is what to take back
        check_same_settings(compose_config("seed=1", output_dir=tmp_path), tmp_path)
    assert "differ from" in str(refused.value) and "data.seed" not in str(refused.value)
    with pytest.raises(UserError, match=": data.seed=0 \\(run\\) vs 1 \\(now\\) \\(pass"):  # set apart from seed
        check_same_settings(compose_config("data.seed=1", output_dir=tmp_path), tmp_path)


def test_a_resume_between_validations_keeps_the_carried_val_loss_of_the_run_left_alone(tmp_path):
    # validation every 3 epochs: epochs 7 and 8 carry epoch 6's val_loss; a run stopped after epoch 7 and resumed must
    # carry it too, from the history its checkpoint holds
    every_third = ("experiment=cancer", "seed=0", "trainer.max_epochs=12", "trainer.check_val_every_n_epoch=3")
    left_alone = train(compose_config(*every_third, output_dir=tmp_path / "left_alone"))
    run_dir, ctrl_c = (
        tmp_path / "run",
        ("+callbacks.ctrl_c._target_=tests.support.probes.CtrlCAfterEpoch", "+callbacks.ctrl_c.epoch=7"),
    )
    assert train(compose_config(*every_third, *ctrl_c, output_dir=run_dir)).last_checkpoint_epoch == 7
    resumed = train(compose_config(*every_third, *ctrl_c, f"ckpt_path={run_dir}/checkpoints/last.ckpt", output_dir=run_dir))
    assert resumed.val_loss[7] == resumed.val_loss[5] == left_alone.val_loss[7]  # epoch 8 carries epoch 6's
    assert repr(resumed.val_loss) == repr(left_alone.val_loss)  # exactly, NaN (no validation yet) included
    assert resumed.train_loss == left_alone.train_loss


@pytest.mark.slow  # a subprocess signalled
def test_the_clusters_stop_signal_while_testing_after_training_still_writes_the_results(tmp_path):
    """submitit's SIGUSR2 (sent before SLURM's time limit) just after training ended killed the process while it
    tested (exit 140, no metrics.json): the run is trained, so it finishes its results."""
    probe = "+callbacks.stop._target_=tests.support.probes.SignalAtTestStart"
    out = run_module("src.train", "experiment=cancer", "trainer.max_epochs=3", probe, f"paths.log_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = (tmp_path / "cancer" / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert not metrics["interrupted"] and metrics["stopped_epoch"] == 3 and metrics["test"]
    assert "SIGUSR2 came after training: writing the run's results first" in out.stderr
