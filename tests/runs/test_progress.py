"""The progress bar says how training goes: epoch from 1, losses, best val_loss, epochs left, batches/s, ETA."""

import io
import re

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from src.models.fast_steps import build_trainer
from src.reporting.history import LossHistory
from src.runs.progress import EpochProgressBar
from src.train import build_datamodule, build_model
from tests.conftest import compose_config


def fit_with_bar(
    tmp_path,
    bar: EpochProgressBar | None,
    max_epochs: int,
    patience: int,
    *overrides: str,
    last_ckpt: bool = False,
    ckpt_path=None,
) -> str:
    cfg = compose_config(f"trainer.max_epochs={max_epochs}", "trainer.enable_progress_bar=true", *overrides, output_dir=tmp_path)
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    callbacks = [*([bar] if bar else []), EarlyStopping(monitor="val_loss", patience=patience), LossHistory()]
    if last_ckpt:  # tmp_path/last.ckpt, at each epoch's end
        callbacks.append(ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0, save_on_train_epoch_end=True))
    build_trainer(
        cfg.trainer,
        model,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=last_ckpt,
        enable_model_summary=False,
        plugins=[],
    ).fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return bar.file.getvalue() if bar else ""


def epoch_and_horizon(line: str, max_epochs: int) -> tuple[int, int]:
    """A plain line's epoch, and where training stops if nothing improves; the line says max_epochs, not that epoch
    (it read `Epoch 12/17 · ... stop in 5`, as if 17 were the last epoch)."""
    done = int(re.match(rf"epoch (\d+) \(max {max_epochs}\) · ", line).group(1))
    left = re.search(r" · stops after (\d+) more epochs without improvement · ", line)
    return done, min(done + int(left.group(1)) if left else done, max_epochs)


def test_the_bar_ticks_once_an_epoch_with_losses_best_patience_rate_and_eta(tmp_path):
    text = fit_with_bar(tmp_path, EpochProgressBar(refresh_s=0, file=io.StringIO(), plain=False), 6, 50)
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    epochs = [int(m.group(1)) for line in lines if (m := re.match(r"epoch (\d+) \(max 6\) ", line))]
    assert epochs[0] == 0 and epochs[-1] == 6
    assert sorted(set(epochs)) == list(range(7))  # one tick an epoch, counted from 1 out of max_epochs
    last = lines[-1]
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d\]", last), last  # elapsed < ETA
    # patience 50 outlasts the 6 epochs: no "stops after 47 more epochs" on a run that ends at 6
    stops = "early stopping: not before max_epochs"
    match = re.search(rf"train_loss (\S+) · val_loss (\S+) · best (\S+) @ (\d) · {stops} · (\d+) batches/s", last)
    assert match, last
    history = [float(v) for v in (match.group(2), match.group(3))]
    assert history[1] <= history[0]
    assert int(match.group(5)) > 0  # 11 mini-batches an epoch, counted as mini-batches, not Lightning steps


def test_the_epochs_of_patience_left_are_shown_only_where_early_stopping_can_come_before_max_epochs(tmp_path):
    text = fit_with_bar(tmp_path, EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=1), 2, 200)
    assert "more epochs" not in text, text  # it read "stops after 200 more epochs without improvement" at epoch 1 of 2
    assert all(" · early stopping: not before max_epochs · " in line for line in text.splitlines()), text
    text = fit_with_bar(tmp_path, EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=1), 4, 2)
    assert " · stops after 2 more epochs without improvement · " in text.splitlines()[0]  # epoch 1: 1 + 2 <= 4


def test_without_a_terminal_it_writes_plain_lines_out_of_the_early_stopping_horizon(tmp_path):
    # a fast learning rate: val_loss bottoms out early, so early stopping ends the run well before max_epochs
    text = fit_with_bar(
        tmp_path, EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=10), 300, 5, "model.optimizer.lr=0.05"
    )
    assert "\r" not in text
    lines = text.splitlines()
    numbers = [epoch_and_horizon(line, 300) for line in lines]
    done = [epoch for epoch, _ in numbers]
    assert done[:-1] == list(range(1, done[-1], 10)) and done[-1] > done[-2]  # every 10 epochs from 1, and the last
    for line, (_, total) in zip(lines, numbers):
        best = int(re.search(r"best \S+ @ (\d+)", line).group(1))
        assert total == min(best + 5, 300), line  # where training stops if nothing improves, not max_epochs
    assert numbers[-1][0] == numbers[-1][1] < 300  # the last line: stopped where the bar said it would
    assert lines[-1].endswith("stopped: no improvement · " + lines[-1].rsplit(" · ", 1)[1])


def test_the_horizon_counts_epochs_when_validation_runs_every_few_epochs(tmp_path):
    # patience counts validations: with one every 3 epochs, the run stops 3 * patience epochs after its best
    text = fit_with_bar(
        tmp_path,
        EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=1),
        300,
        2,
        "model.optimizer.lr=0.05",
        "trainer.check_val_every_n_epoch=3",
    )
    lines = text.splitlines()
    numbers = [epoch_and_horizon(line, 300) for line in lines]
    stopped = numbers[-1][0]
    final_best = int(re.search(r"best \S+ @ (\d+)", lines[-1]).group(1))
    assert stopped == final_best + 6 < 300
    for line, (_, total) in zip(lines, numbers):
        best = re.search(r"best \S+ @ (\d+)", line)  # none before the first validation
        if best and int(best.group(1)) == final_best:
            assert total == stopped, line  # from the best epoch on, the bar says where training stops


def test_a_resumed_run_shows_the_best_epoch_from_before_the_resume(tmp_path):
    # lr 0.05: val_loss bottoms out within the first 6 epochs and rises after, so the best stays before the resume
    first = fit_with_bar(
        tmp_path, EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=1), 6, 50, "model.optimizer.lr=0.05", last_ckpt=True
    )
    best_before = re.search(r"best (\S+) @ (\d+)", first.splitlines()[-1]).groups()
    resumed = fit_with_bar(
        tmp_path,
        EpochProgressBar(file=io.StringIO(), plain_every_n_epochs=1),
        8,
        50,
        "model.optimizer.lr=0.05",
        ckpt_path=tmp_path / "last.ckpt",
    )
    val_losses = [float(v) for v in re.findall(r"val_loss (\S+)", first + resumed)]
    assert len(val_losses) == 8
    best_after = re.search(r"best (\S+) @ (\d+)", resumed.splitlines()[-1]).groups()
    assert float(best_after[0]) == min(val_losses)  # over all 8 epochs, not only the 2 trained after the resume
    assert int(best_after[1]) <= 6 and best_after == best_before, (first, resumed)


def test_a_run_resumed_without_the_bar_is_not_warned_of_a_missing_callback(tmp_path, recwarn):
    # the bar keeps no state of its own in the checkpoint: Lightning would ask for the bar back (a file:line warning)
    fit_with_bar(tmp_path, EpochProgressBar(file=io.StringIO()), 3, 50, last_ckpt=True)
    recwarn.clear()
    fit_with_bar(tmp_path, None, 5, 50, "trainer.enable_progress_bar=false", last_ckpt=True, ckpt_path=tmp_path / "last.ckpt")
    assert not [w for w in recwarn if "callbacks used to create the checkpoint" in str(w.message)]
