"""A progress bar that ticks once an epoch and says how training is going: `epoch 12 (max 500) ━━━━━━ [00:03<01:15]
train_loss 0.4121 · val_loss 0.3983 · best 0.3901 @ 9 · stops after 97 more epochs without improvement · 1432 batches/s`."""

from __future__ import annotations

import math
import sys
import time

import lightning as L
from lightning.pytorch.callbacks import ProgressBar
from tqdm import tqdm

from src.models.fast_steps import latest_scalars
from src.reporting.history import LossHistory

BAR_FORMAT = "epoch {n_fmt}%s {bar} [{elapsed}<{remaining}] {desc}"  # %s: the max_epochs, if any


class EpochProgressBar(ProgressBar):
    """Fills up to the epoch early stopping would stop at if nothing improves (at most max_epochs), so the bar and its
    ETA measure what will happen; the text names both limits (a bare "12/109" read as max_epochs). `plain`: lines
    instead of a redrawn bar; None: when not on a terminal."""

    reads_latest_scalars = True  # src/models/fast_steps.py: nothing to log for this bar

    def __init__(self, refresh_s: float = 0.1, file=None, plain: bool | None = None, plain_every_n_epochs: int = 10) -> None:
        super().__init__()
        self.refresh_s = refresh_s  # tqdm redraws at most this often: a cheap bar even at 1000 epochs/s
        self.file = file
        self.plain = plain
        self.plain_every_n_epochs = plain_every_n_epochs
        self.enabled = True
        self.bar: tqdm | None = None
        self.best: tuple[float, int] = (math.inf, 0)
        self.epoch_started = 0.0
        self.rate = 0.0  # mini-batches per second, smoothed
        self.batches_per_epoch = 0
        self.pending: dict | None = None  # the ended epoch's numbers, drawn when the next one starts

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.enabled or not trainer.is_global_zero:  # under DDP one bar, rank 0's
            return
        out = self.file or sys.stderr
        # counted once (counting cuts an epoch's batches); a step may run many mini-batches (FastSteps)
        n_batches = getattr(trainer.datamodule, "n_batches", None)
        self.batches_per_epoch = n_batches("train") if n_batches is not None else int(trainer.num_training_batches)
        # a resumed run's bar goes on from the best epoch before the resume, as its report does: the restored losses
        # (not a state of the bar's own, which a resume without the bar would be warned about)
        history = next((c for c in trainer.callbacks if isinstance(c, LossHistory)), None)
        if history is not None and (known := [(v, e) for e, v in enumerate(history.val_loss, 1) if not math.isnan(v)]):
            self.best = min(known)
        if self.plain is None:
            self.plain = not (hasattr(out, "isatty") and out.isatty())
        self.bar = tqdm(
            total=horizon(trainer),
            disable=self.plain,
            initial=trainer.current_epoch,  # a resumed run starts where it left off
            bar_format=BAR_FORMAT % max_epochs_text(trainer),
            file=out,
            mininterval=self.refresh_s,
            dynamic_ncols=True,
        )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer)
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is None:
            return
        seconds = time.perf_counter() - self.epoch_started
        if seconds > 0 and self.batches_per_epoch:
            now = self.batches_per_epoch / seconds
            self.rate = now if self.rate == 0 else 0.9 * self.rate + 0.1 * now
        metrics = latest_scalars(trainer, pl_module)
        self.pending = {name: float(metrics[name]) for name in ("train_loss", "val_loss") if name in metrics}
        if (val_loss := self.pending.get("val_loss", math.nan)) < self.best[0]:
            self.best = (val_loss, trainer.current_epoch + 1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer, last=True)
        if self.bar is not None:
            self.bar.close()  # ends the bar's line, so what Lightning logs next starts on its own
            self.bar = None

    def draw(self, trainer: L.Trainer, last: bool = False) -> None:
        if self.bar is None or self.pending is None:
            return
        parts = [f"{name} {value:.4g}" for name, value in self.pending.items()]
        if self.best[1]:
            parts.append(f"best {self.best[0]:.4g} @ {self.best[1]}")
        if (left := epochs_before_early_stop(trainer)) is not None:
            parts.append(early_stopping_text(trainer, left))
        parts.append(f"{self.rate:.0f} batches/s")
        done, total = trainer.current_epoch, horizon(trainer)
        if self.plain:
            if last or (done - 1) % self.plain_every_n_epochs == 0:
                print(f"epoch {done}{max_epochs_text(trainer)} · " + " · ".join(parts), file=self.file or sys.stderr, flush=True)
        else:
            self.bar.total = total
            self.bar.set_description_str(" · ".join(parts), refresh=False)
            self.bar.update(done - self.bar.n)  # epochs completed, at an epoch's start and at the end
        self.pending = None

    def print(self, *args, **kwargs) -> None:
        tqdm.write(" ".join(map(str, args)), file=self.file or sys.stderr)


def max_epochs_text(trainer: L.Trainer) -> str:
    return f" (max {trainer.max_epochs})" if trainer.max_epochs > 0 else ""


def early_stopping_text(trainer: L.Trainer, left: int) -> str:
    """Epochs of patience left, unless max_epochs ends training first (patience 200 on a 2-epoch run)."""
    if not left:
        return "stopped: no improvement"
    if 0 < trainer.max_epochs < trainer.current_epoch + left:
        return "early stopping: not before max_epochs"
    return f"stops after {left} more epochs without improvement"


def horizon(trainer: L.Trainer) -> int | None:
    """The epoch training stops at if val_loss does not improve again: now + what early stopping allows, capped."""
    ends = [trainer.max_epochs] if trainer.max_epochs > 0 else []
    if (left := epochs_before_early_stop(trainer)) is not None:
        ends.append(trainer.current_epoch + left)
    return min(ends, default=None)


def epochs_before_early_stop(trainer: L.Trainer) -> int | None:
    """Epochs left if val_loss does not improve: patience counts validations, one every check_val_every_n_epoch."""
    stopper = trainer.early_stopping_callback
    if stopper is None:
        return None
    validations = max(stopper.patience - stopper.wait_count, 0)
    every = trainer.check_val_every_n_epoch or 1
    # validation runs at the end of epochs n, 2n, ...: the next one is `every - done % every` epochs away
    return 0 if validations == 0 else every - trainer.current_epoch % every + (validations - 1) * every
