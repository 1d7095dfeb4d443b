"""A callback the benchmark adds to time Lightning's epochs (its own module, so Hydra imports the same class)."""

import time

import lightning as L


class EpochClock(L.Callback):
    """Perf-counter stamp at each training-epoch end (after validation and the other callbacks' work)."""

    stamps: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        EpochClock.stamps.append(time.perf_counter())
