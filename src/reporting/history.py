"""Per-epoch train and validation losses of a Lightning run, and its seconds of training, kept in checkpoints so a
resumed run has them all."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

from src.models.fast_steps import latest_scalars


class LossHistory(L.Callback):
    def __init__(self) -> None:
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.seconds_before = 0.0  # training seconds of the processes before a resume, up to the snapshot resumed from
        self.started = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # validation has run by now; an epoch without it (check_val_every_n_epoch > 1) keeps the latest val_loss,
        # which after a resume is the restored history's until the next validation
        metrics = latest_scalars(trainer, pl_module)
        self.train_loss.append(float(metrics["train_loss"]))
        latest = self.val_loss[-1] if self.val_loss else float("nan")
        self.val_loss.append(float(metrics.get("val_loss", latest)))

    # a float64 tensor, not a list: a checkpoint every epoch pickles it in one piece, not float by float
    def state_dict(self) -> dict[str, Any]:
        losses = {name: torch.tensor(getattr(self, name), dtype=torch.float64) for name in ("train_loss", "val_loss")}
        return {**losses, "seconds": self.seconds_before + time.perf_counter() - self.started}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_loss = torch.as_tensor(state_dict["train_loss"]).tolist()
        self.val_loss = torch.as_tensor(state_dict["val_loss"]).tolist()
        self.seconds_before = float(state_dict.get("seconds", 0.0))  # older checkpoints have none
