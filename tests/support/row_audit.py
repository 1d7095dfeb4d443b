"""A test-only callback: which training rows each rank saw in each epoch, written as one file per rank and epoch."""

import os
from pathlib import Path

import lightning as L
import torch


class RowAudit(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        x_train = trainer.datamodule.splits["train"][0]
        self.index_of = {tuple(row.tolist()): i for i, row in enumerate(x_train)}
        self.seen: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        for x, _ in batch:
            self.seen += [self.index_of[tuple(row.tolist())] for row in x.cpu()]

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        out = Path(os.environ["ROW_AUDIT_DIR"])
        torch.save(torch.tensor(self.seen), out / f"rank{trainer.global_rank}_epoch{trainer.current_epoch}.pt")
