"""Turn-taking for the benchmark: the two runners, in two threads, run a few epochs each in turn.

Slow spells on a shared machine last seconds and can double everything that runs during them; two runs timed
one after the other can then differ by more than the overhead being measured. Taking turns every few epochs puts
both runners' epochs in the same spells. Only one thread works at a time, so CPU time is each runner's own work.
The first epoch of each turn starts with caches the other runner has filled, which a real run never does: it is
left out of the timings, as is any time spent waiting for a turn.
"""

from __future__ import annotations

import threading
import time

import lightning as L

RUNNERS = ("plain", "lightning")


class Turns:
    """Whose epoch it is; a runner that has finished lets the other go on alone."""

    def __init__(self, first: str) -> None:
        self.turn, self.finished = first, set()
        self.condition = threading.Condition()

    def other(self, runner: str) -> str:
        return RUNNERS[1 - RUNNERS.index(runner)]

    def wait(self, runner: str) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.turn == runner or self.other(runner) in self.finished)

    def hand_over(self, runner: str) -> None:
        with self.condition:
            self.turn = self.other(runner)
            self.condition.notify_all()

    def finish(self, runner: str) -> None:
        with self.condition:
            self.finished.add(runner)
            self.turn = self.other(runner)
            self.condition.notify_all()


class EpochClock:
    """One runner's epoch times, from one epoch end to the next, in turns of `epochs_per_turn` epochs."""

    def __init__(self, runner: str, turns: Turns, epochs_per_turn: int) -> None:
        self.runner, self.turns, self.epochs_per_turn = runner, turns, epochs_per_turn
        self.epochs: list[tuple[float, float]] = []  # (wall, process cpu) seconds of each timed epoch
        self.in_turn = 0  # epochs ended in this turn
        self.last_end = (0.0, 0.0)

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def start(self) -> None:
        self.turns.wait(self.runner)
        self.in_turn = 0

    def epoch_end(self) -> None:
        now = self.now()
        if self.in_turn > 0:
            self.epochs.append((now[0] - self.last_end[0], now[1] - self.last_end[1]))
        self.in_turn += 1
        if self.in_turn == self.epochs_per_turn:
            self.turns.hand_over(self.runner)
            self.start()
        self.last_end = self.now()


class LightningEpochClock(L.Callback):
    """Ends the Lightning runner's epoch. ModelCheckpoint's own epoch-end work runs after every other callback,
    so it lands in the next epoch's time: every epoch is still counted once, wherever its boundary falls."""

    def __init__(self, clock: EpochClock) -> None:
        self.clock = clock

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.epoch_end()
