"""checkpoints/last.ckpt, where a run resumes from: a snapshot every `every_s` seconds and at every stop.

Lightning's dump of the whole training state (weights, optimizer, loops, callbacks, random states) costs ~1 ms,
8% of a cancer epoch, and the file reaches the disk at most every `flush_every_s` seconds anyway
(src/checkpoint_io.py): a snapshot every epoch would buy nothing after a crash. So this ModelCheckpoint takes one
at the end of an epoch when `every_s` seconds have passed since the last, and always at the epoch where training
stops (early stopping, a non-finite loss, max_epochs, max_steps, Ctrl+C or SIGTERM). A resumed run replays
exactly from whichever epoch last.ckpt holds; an older one only means training those epochs again.

A signal that comes after an epoch's end has skipped its snapshot would stop the run one snapshot behind:
StopOnSignal holds such a signal until the next epoch starts (`behind`), so the run stops after that epoch's
step, with a snapshot.
"""

from __future__ import annotations

import math
import time

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LatestCheckpoint(ModelCheckpoint):
    def __init__(self, every_s: float = 10.0, **kwargs) -> None:
        super().__init__(save_on_train_epoch_end=True, **kwargs)  # after validation, with the epoch's last word
        self.every_s = every_s
        self.taken_at = -math.inf
        self.behind = False  # the epoch that has just ended has no snapshot
        self.epoch = 0  # 1-based epoch of the newest snapshot; 0: none yet

    @staticmethod
    def stopping(trainer: L.Trainer) -> bool:
        max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
        return (
            trainer.should_stop  # EarlyStopping (patience or a non-finite loss), Timer(max_time)
            or trainer.received_sigterm  # Ctrl+C or SIGTERM, through StopOnSignal
            or (max_epochs is not None and max_epochs >= 0 and trainer.current_epoch + 1 >= max_epochs)
            or (max_steps >= 0 and trainer.global_step >= max_steps)
        )

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.epoch = trainer.current_epoch  # a resumed run starts from its checkpoint's epochs

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.behind = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        due = self.stopping(trainer) or time.monotonic() - self.taken_at >= self.every_s
        # every rank must take the snapshot or none: saving waits for all of them
        if not trainer.strategy.broadcast(due):
            self.behind = True
            return
        super().on_train_epoch_end(trainer, pl_module)
        self.taken_at, self.epoch = time.monotonic(), trainer.current_epoch + 1

