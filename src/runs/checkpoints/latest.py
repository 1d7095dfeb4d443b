"""checkpoints/last.ckpt, where a run resumes from: a snapshot when its file is due, with best.ckpt, and at every stop."""

from __future__ import annotations

import math
import time

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LatestCheckpoint(ModelCheckpoint):
    """A snapshot at an epoch's end every `every_s` seconds, when best.ckpt was saved in the same epoch (last.ckpt is
    never older), and where training stops. After an epoch that skipped its snapshot (`behind`), StopOnSignal holds a
    signal until the next epoch's first step."""

    def __init__(self, every_s: float = 10.0, **kwargs) -> None:
        super().__init__(save_on_train_epoch_end=True, **kwargs)  # after validation, with the epoch's last word
        self.every_s = every_s
        self.taken_at = -math.inf
        self.behind = False  # the epoch that is ending has no snapshot (yet)
        self.epoch = 0  # 1-based epoch of the newest snapshot this process took; 0: none yet
        self.epoch_started_at = -math.inf
        self.dumped_at_step = -1  # global step of the newest checkpoint any callback saved (on_save_checkpoint)

    @staticmethod
    def stopping(trainer: L.Trainer) -> bool:
        return (
            trainer.should_stop  # EarlyStopping (patience or a non-finite loss), Timer(max_time)
            or trainer.received_sigterm  # Ctrl+C or SIGTERM, through StopOnSignal
            or 0 <= trainer.max_epochs <= trainer.current_epoch + 1  # -1: no limit
            or 0 <= trainer.max_steps <= trainer.global_step
        )

    def time_due(self, trainer: L.Trainer) -> bool:
        """The first epoch, then every `every_s` seconds, on the deferred writer's clock when there is one."""
        clock = getattr(trainer.strategy.checkpoint_io, "last_flush", self.taken_at)
        return self.taken_at == -math.inf or time.monotonic() - clock >= self.every_s

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        # called for each checkpoint Lightning dumps, whichever callback saves it: the public way to tell one was saved
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        self.dumped_at_step = trainer.global_step

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.behind, self.epoch_started_at = False, time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.behind = True  # until the snapshot is taken: a signal from now on is held (see StopOnSignal)
        strategy = trainer.strategy
        due = strategy.broadcast(self.time_due(trainer))  # rank 0 writes the files: its clock decides
        # every rank must take the snapshot or none (saving waits for all of them); any rank may be stopping
        best_saved = self.dumped_at_step == trainer.global_step  # last.ckpt must never be older than best.ckpt
        if not strategy.reduce_boolean_decision(due or self.stopping(trainer) or best_saved, all=False):
            return
        checkpoint_io = strategy.checkpoint_io
        written_this_epoch = getattr(checkpoint_io, "last_flush", -math.inf) >= self.epoch_started_at
        self.dumped_at_step = -1
        super().on_train_epoch_end(trainer, pl_module)
        if self.dumped_at_step != trainer.global_step:
            return  # ModelCheckpoint had its own reason not to save (fast_dev_run, already saved at this step)
        self.behind, self.taken_at, self.epoch = False, time.monotonic(), trainer.current_epoch + 1
        if written_this_epoch and hasattr(checkpoint_io, "flush"):
            checkpoint_io.flush()  # best.ckpt went to disk this epoch: so does the last.ckpt that goes with it
