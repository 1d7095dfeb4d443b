"""Per-epoch train and validation losses of a Lightning run, kept in checkpoints so a resumed run has them all."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch


class LossHistory(L.Callback):
    def __init__(self) -> None:
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # validation has already run in this epoch, so both losses of the epoch are in callback_metrics; with
        # trainer.check_val_every_n_epoch > 1 an epoch without validation keeps the latest val_loss, as callbacks see it
        metrics = trainer.callback_metrics
        self.train_loss.append(float(metrics["train_loss"]))
        self.val_loss.append(float(metrics.get("val_loss", float("nan"))))

    # One float64 tensor per history, not a list of floats: checkpoints can come every epoch, and a tensor
    # is cloned and pickled in one piece while thousands of floats are walked one by one.
    def state_dict(self) -> dict[str, Any]:
        return {name: torch.tensor(getattr(self, name), dtype=torch.float64) for name in ("train_loss", "val_loss")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_loss = torch.as_tensor(state_dict["train_loss"]).tolist()
        self.val_loss = torch.as_tensor(state_dict["val_loss"]).tolist()
