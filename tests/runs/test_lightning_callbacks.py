"""Lightning's own tools, added from the command line as docs/extending.md shows: each works in the default path."""

import math
import re

import lightning as L
import numpy as np
import pandas as pd
import pytest

from src.runs.fit import fit_with_lightning
from src.train import build_datamodule, build_model, train


class Seen(L.Callback):
    """What a test reads back from inside the fit: the learning rate at each epoch's end, the Trainer's callbacks."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.callbacks: list = []
        self.on_bar: dict = {}

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        self.callbacks = list(trainer.callbacks)
        if trainer.progress_bar_callback is not None:
            self.on_bar = trainer.progress_bar_callback.get_metrics(trainer, pl_module)


def fit(cfg) -> Seen:
    seen = Seen()
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    fit_with_lightning(cfg, datamodule, build_model(cfg, datamodule), [], extra_callbacks=[seen])
    return seen


def test_stochastic_weight_averaging_from_the_command_line(make_config):
    swa = "+callbacks.swa={_target_:lightning.pytorch.callbacks.StochasticWeightAveraging,swa_lrs:0.005,swa_epoch_start:3,annealing_epochs:1}"
    seen = fit(make_config("trainer.max_epochs=5", swa))
    [callback] = [c for c in seen.callbacks if type(c).__name__ == "StochasticWeightAveraging"]
    # the configured rate until SWA starts; then SWA's, reached after its one annealing epoch (stepped once an epoch)
    assert seen.lrs[:2] == [0.001, 0.001] and seen.lrs[-1] == pytest.approx(0.005)
    assert int(callback.n_averaged) == 3  # the weights of epochs 3, 4 and 5 averaged


@pytest.mark.parametrize("schedule", ["cosine", "null"])
def test_learning_rate_monitor_as_documented_logs_at_the_losses_steps(make_config, tmp_path, schedule):
    monitor = "+callbacks.lr_monitor={_target_:lightning.pytorch.callbacks.LearningRateMonitor,logging_interval:epoch}"
    train(make_config("trainer.max_epochs=3", "logger=csv", f"model.lr_schedule={schedule}", monitor))
    table = pd.read_csv(tmp_path / "run" / "csv" / "metrics.csv")
    lr = table.dropna(subset=["lr-Adam"])
    losses = table.dropna(subset=["train_loss"])
    assert lr["step"].tolist() == losses["step"].tolist() == [0, 1, 2]  # once each: no schedule gave 0, 0, 1, 1, ...
    assert lr["lr-Adam"].iloc[0] == pytest.approx(0.001)
    assert lr["lr-Adam"].is_monotonic_decreasing if schedule == "cosine" else lr["lr-Adam"].nunique() == 1


@pytest.mark.parametrize("limit", ["0.5", "3"])  # a fraction of the mini-batches, or a count
def test_a_cosine_schedule_anneals_to_zero_over_the_mini_batches_limit_train_batches_trains(make_config, limit):
    limited = ("data.steps_per_execution=1", f"+trainer.limit_train_batches={limit}")
    seen = fit(make_config("trainer.max_epochs=3", "model.lr_schedule=cosine", *limited))
    assert seen.lrs[0] > seen.lrs[1] > seen.lrs[2] == pytest.approx(0.0, abs=1e-12)  # it stopped short of zero


@pytest.mark.parametrize("bar", ["RichProgressBar", "TQDMProgressBar"])
def test_lightnings_progress_bars_replace_the_epoch_bar_and_show_the_losses(make_config, bar):
    chosen = f"callbacks.progress_bar={{_target_:lightning.pytorch.callbacks.{bar}}}"
    seen = fit(make_config("trainer.max_epochs=2", "trainer.enable_progress_bar=true", chosen))
    bars = [type(c).__name__ for c in seen.callbacks if isinstance(c, L.pytorch.callbacks.ProgressBar)]
    assert bars == [bar] and len(seen.lrs) == 2
    assert {"train_loss", "val_loss"} <= set(seen.on_bar) and all(math.isfinite(v) for v in seen.on_bar.values())


@pytest.fixture
def finders(monkeypatch) -> list:
    """The learning-rate finders a run makes, as Lightning's Tuner.lr_find returns them."""
    from lightning.pytorch.tuner import Tuner

    made = []
    lr_find = Tuner.lr_find
    monkeypatch.setattr(Tuner, "lr_find", lambda self, *args, **kwargs: made.append(lr_find(self, *args, **kwargs)) or made[-1])
    return made


def suggested_index(finder, printed: str) -> int:
    [rate] = re.findall(r"suggested model\.optimizer\.lr=(\S+);", printed)
    return min(range(len(finder.results["lr"])), key=lambda i: abs(math.log(finder.results["lr"][i] / float(rate))))


def test_the_learning_rate_finder_saves_its_plot_and_prints_a_rate_where_the_loss_falls(make_config, tmp_path, capsys, finders):
    result = train(make_config("trainer.max_epochs=12", "trainer.lr_find=true"))
    assert (tmp_path / "run" / "lr_find.png").is_file()
    [finder], printed = finders, capsys.readouterr().out
    losses, suggested = finder.results["loss"], suggested_index(finder, printed)
    # below every loss at the smaller rates after the finder's first 10 (where its smoothing is still starting up)
    assert losses[suggested] < min(losses[10:suggested])
    assert result.stopped_epoch == 12 and result.test  # then the run trains as configured


def test_lightnings_own_suggestion_still_takes_the_slope_against_the_rate_not_its_log(make_config, capsys, finders):
    # src/runs/fit.py's steepest_fall stands in for finder.suggestion() (Lightning 2.6.6, issue #21141): when this
    # fails, Lightning's suggestion is the steepest fall over log10(lr), and the project can print it again
    train(make_config("trainer.max_epochs=1", "trainer.lr_find=true"))
    [finder] = finders
    lrs, losses = finder.results["lr"], finder.results["loss"]
    by_rate = np.gradient(losses[10:-1], lrs[10:-1])
    assert finder.suggestion() == lrs[10 + int(np.argmin(by_rate))]
    assert suggested_index(finder, capsys.readouterr().out) != lrs.index(finder.suggestion())


def test_the_learning_rate_finder_is_not_cut_short_by_the_runs_max_epochs(make_config, finders):
    train(make_config("trainer.max_epochs=2", "trainer.lr_find=true"))
    # its rates go from 1e-8 towards 1 (it stops where the loss diverges); 2 epochs stopped it at 22 mini-batches, 4e-7
    assert finders[0].results["lr"][-1] > 1e-2


def test_the_learning_rate_finder_runs_before_a_schedule_that_then_trains_as_configured(make_config, capsys, finders):
    # the finder's Trainer has no max_epochs: a schedule over max_epochs * batches crashed (total_steps=-49)
    schedule = ("trainer.max_epochs=2", "model.lr_schedule=onecycle")
    seen = fit(make_config(*schedule, "trainer.lr_find=true"))
    assert finders and "suggested model.optimizer.lr=" in capsys.readouterr().out
    assert seen.lrs == fit(make_config(*schedule, subdir="without")).lrs  # then the run's own cycle, as without the finder


def test_a_second_progress_bar_is_refused_in_one_line_naming_lightnings_reason(make_config):
    from src.errors import UserError

    rich = "+callbacks.rich={_target_:lightning.pytorch.callbacks.RichProgressBar}"  # beside the epoch bar, not instead
    with pytest.raises(UserError, match=r"^the Trainer refuses these settings: You added multiple progress bar callbacks"):
        train(make_config("trainer.max_epochs=2", "trainer.enable_progress_bar=true", rich))


def test_a_run_stopped_by_max_time_says_so(make_config):
    result = train(
        make_config("trainer.max_epochs=100000", "callbacks.early_stopping.patience=100000", "+trainer.max_time=00:00:00:01")
    )
    assert result.stop_reason == "max_time" and 1 < result.stopped_epoch < 100000
    assert not result.stopped_early and result.test  # an ordinary end: the best epoch is tested
