"""A progress bar that ticks once an epoch and says how training is going:

    Epoch 12/300 ━━━━━━━━━━━━ [00:03<01:15] train_loss 0.4121 · val_loss 0.3983 · best 0.3901 @ 9 · stop in 97 · 1432 batches/s

"best" is the lowest val_loss and its epoch, "stop in" the epochs early stopping still allows, batches/s counts
mini-batches. The line is drawn at the next epoch's start, after early stopping's own end-of-epoch check.
"""

from __future__ import annotations

import math
import sys
import time

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ProgressBar
from tqdm import tqdm

BAR_FORMAT = "Epoch {n_fmt}/{total_fmt} {bar} [{elapsed}<{remaining}] {desc}"


class EpochProgressBar(ProgressBar):
    def __init__(self, refresh_s: float = 0.1, file=None) -> None:
        super().__init__()
        self.refresh_s = refresh_s  # tqdm redraws at most this often: a cheap bar even at 1000 epochs/s
        self.file = file
        self.enabled = True
        self.bar: tqdm | None = None
        self.best: tuple[float, int] = (math.inf, 0)
        self.epoch_started = 0.0
        self.rate = 0.0  # mini-batches per second, smoothed
        self.pending: dict | None = None  # the ended epoch's numbers, drawn when the next one starts

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.enabled or not trainer.is_global_zero:  # under DDP one bar, rank 0's
            return
        self.bar = tqdm(
            total=trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None,
            initial=trainer.current_epoch,  # a resumed run starts where it left off
            bar_format=BAR_FORMAT,
            file=self.file or sys.stderr,
            mininterval=self.refresh_s,
            dynamic_ncols=True,
            leave=True,
        )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer)
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is None:
            return
        seconds = time.perf_counter() - self.epoch_started
        batches = mini_batches_per_epoch(trainer)
        if seconds > 0 and batches:
            now = batches / seconds
            self.rate = now if self.rate == 0 else 0.9 * self.rate + 0.1 * now
        metrics = trainer.callback_metrics
        epoch = trainer.current_epoch + 1
        numbers = {name: float(metrics[name]) for name in ("train_loss", "val_loss") if name in metrics}
        val_loss = numbers.get("val_loss", math.nan)
        if val_loss < self.best[0]:
            self.best = (val_loss, epoch)
        self.pending = numbers

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer)
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def draw(self, trainer: L.Trainer) -> None:
        if self.bar is None or self.pending is None:
            return
        parts = [f"{name} {value:.4g}" for name, value in self.pending.items()]
        if self.best[1]:
            parts.append(f"best {self.best[0]:.4g} @ {self.best[1]}")
        left = epochs_before_early_stop(trainer)
        if left is not None:
            parts.append(f"stop in {left}")
        parts.append(f"{self.rate:.0f} batches/s")
        self.bar.set_description_str(" · ".join(parts), refresh=False)
        self.bar.update(trainer.current_epoch - self.bar.n)  # epochs completed, at an epoch's start and at the end
        self.pending = None

    def print(self, *args, **kwargs) -> None:
        tqdm.write(" ".join(map(str, args)), file=self.file or sys.stderr)


def mini_batches_per_epoch(trainer: L.Trainer) -> int:
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None and hasattr(datamodule, "n_batches"):
        return datamodule.n_batches("train")
    return int(trainer.num_training_batches)


def epochs_before_early_stop(trainer: L.Trainer) -> int | None:
    stopper = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if stopper is None:
        return None
    return max(stopper.patience - stopper.wait_count, 0)
