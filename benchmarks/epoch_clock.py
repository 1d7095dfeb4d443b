"""A callback the benchmark adds to time Lightning's epochs (its own module, so Hydra imports the same class)."""

import time

import lightning as L


class EpochClock(L.Callback):
    """Perf-counter stamp at each training-epoch end (after validation and the other callbacks' work)."""

    stamps: list[tuple[float, float]] = []  # (wall, process cpu) seconds

    @staticmethod
    def stamp() -> None:
        EpochClock.stamps.append((time.perf_counter(), time.process_time()))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        EpochClock.stamp()
