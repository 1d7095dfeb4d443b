"""Test-only callbacks that let a test see inside a training process: which epoch it has finished, what it drew."""

import json
import os
import random
import signal
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint


class EpochMarker(L.Callback):
    """Writes the number of finished epochs to `path`, so a test knows when to signal a running process."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(trainer.current_epoch + 1))
        tmp.replace(self.path)


class LoggedSteps(L.Callback):
    """Appends to `path`, at each epoch's start, the steps the CSV logger has been handed so far (a JSON list a line)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        [csv_logger] = trainer.loggers
        with self.path.open("a") as f:
            f.write(json.dumps([row["step"] for row in csv_logger.experiment.metrics]) + "\n")


class RandomDraws(L.Callback):
    """Draws from every global generator at each epoch's start and appends the numbers to `path`, one line per epoch."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        draws = [random.random(), float(np.random.rand()), float(torch.rand(1))]
        with self.path.open("a") as f:
            f.write(f"{trainer.current_epoch + 1} {draws}\n")


class CtrlCAfterEpoch(L.Callback):
    """Sends this process a SIGINT at the end of `epoch` (1-based), as a user pressing Ctrl+C then would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


class CtrlCAfterCheckpoints(Checkpoint):
    """Sends SIGINT at the end of `epoch` (1-based) once the checkpoint callbacks have had their turn: Lightning
    runs Checkpoint callbacks after all others, in the order given, and this one comes after the config's."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


class CtrlCAfterStep(L.Callback):
    """Sends SIGINT after Lightning's training step `step` (1-based, counted over the whole run), unless the run
    was resumed: it may resume from before that step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step and trainer.ckpt_path is None:
            os.kill(os.getpid(), signal.SIGINT)


class SignalAtTestStart(L.Callback):
    """Sends this process `signal_name` as the test evaluation after fit starts, as a cluster's stop signal may come."""

    def __init__(self, signal_name: str = "SIGUSR2") -> None:
        self.signal = signal.Signals[signal_name]

    def on_test_start(self, trainer, pl_module) -> None:
        os.kill(os.getpid(), self.signal)
