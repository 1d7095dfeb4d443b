"""Per-epoch train and validation losses of a Lightning run, kept in checkpoints so a resumed run has them all."""

from __future__ import annotations

from typing import Any

import lightning as L


class LossHistory(L.Callback):
    def __init__(self) -> None:
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # validation has already run in this epoch, so both losses of the epoch are in callback_metrics
        metrics = trainer.callback_metrics
        self.train_loss.append(float(metrics["train_loss"]))
        self.val_loss.append(float(metrics["val_loss"]))

    def state_dict(self) -> dict[str, Any]:
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_loss = list(state_dict["train_loss"])
        self.val_loss = list(state_dict["val_loss"])
