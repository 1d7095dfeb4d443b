"""Ctrl+C, SIGTERM and a cluster's time-out signal (submitit's SIGUSR2) stop a run after the current step, with its
checkpoints written, through Lightning's own SIGTERM handling (which stops every DDP rank). A second Ctrl+C stops at
once. A signal just after an epoch that skipped its last.ckpt snapshot is held until the next epoch starts."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

from src.runs.checkpoints.latest import LatestCheckpoint


def cluster_stop_signals() -> tuple[signal.Signals, ...]:
    """submitit's SLURM jobs get SIGUSR2 (or $SUBMITIT_PREEMPT_SIGNAL) before their time runs out."""
    found = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)
    return (found,) if found is not None and found not in (signal.SIGINT, signal.SIGTERM) else ()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *cluster_stop_signals())


# --- what Lightning offers no public way for -------------------------------------------------------------------
# Lightning 2.6.6 stops after the current step only on SIGTERM (Trainer.fit's handler sets `trainer.received_sigterm` and
# tells the other DDP ranks); a KeyboardInterrupt ends fit mid-step without checkpoints (Lightning-AI/pytorch-lightning#19976).
# So the other stop signals go to that handler, less its log line, which would say SIGTERM for a Ctrl+C: we print our own.
# tests/models/test_lightning_pins.py fails when either behaviour changes.
LIGHTNING_SIGNAL_LOGGER = "lightning.pytorch.trainer.connectors.signal_connector"


def not_lightnings_sigterm_notice(record: logging.LogRecord) -> bool:
    return "Received SIGTERM" not in record.getMessage()


def lightnings_sigterm_handler():
    """The handler Trainer.fit registered for SIGTERM, or None where it registers none (Windows)."""
    handler = signal.getsignal(signal.SIGTERM)
    return handler if callable(handler) else None


class StopOnSignal(L.Callback):
    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.epoch: int | None = None  # 1-based epoch that was running when the signal came
        self.held: tuple | None = None  # (Lightning's handler, signal) until the next epoch starts

    def record(self, signum: int, trainer: L.Trainer) -> None:
        if self.signal is None:
            self.signal, self.epoch = signal.Signals(signum), trainer.current_epoch + 1

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        lightning_sigterm = lightnings_sigterm_handler()
        if lightning_sigterm is None:  # keep Python's behaviour
            return

        def stop_after_this_step(signum, frame) -> None:
            if self.signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl+C: stop now
            # the epoch that is ending has taken no snapshot for last.ckpt: stop after the next step, which will
            hold = any(isinstance(c, LatestCheckpoint) and c.behind for c in trainer.callbacks)
            if self.signal is None:
                self.record(signum, trainer)
                when = "the next step" if hold else "the current step"
                print(f"\n{self.signal.name}: stopping after {when} (Ctrl+C again stops at once)", file=sys.stderr)
            if hold:
                self.held = (lightning_sigterm, signum)
                return
            lightning_sigterm(signum, frame)

        for signum in STOP_SIGNALS:
            signal.signal(signum, stop_after_this_step)
        logging.getLogger(LIGHTNING_SIGNAL_LOGGER).addFilter(not_lightnings_sigterm_notice)

    def forward_held(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.held is not None:
            (lightning_sigterm, signum), self.held = self.held, None
            self.epoch = trainer.current_epoch + 1  # the epoch the stop comes after
            lightning_sigterm(signum, None)

    # at an epoch's start; and at its end, before the checkpoint callbacks, for a signal held just as it started
    on_train_epoch_start = on_train_epoch_end = forward_held

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logging.getLogger(LIGHTNING_SIGNAL_LOGGER).removeFilter(not_lightnings_sigterm_notice)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)
        # a signal outside training (Lightning's set-up, testing), or a second Ctrl+C
        if isinstance(exception, KeyboardInterrupt):
            self.record(signal.SIGINT, trainer)
        elif isinstance(exception, SIGTERMException):
            self.record(signal.SIGTERM, trainer)


# what SLURM sends to end a job (its time limit, scancel, preemption); Ctrl+C keeps its meaning for the user at the keyboard
CLUSTER_STOPS = tuple(s for s in STOP_SIGNALS if s != signal.SIGINT)


def hold_cluster_stops() -> None:
    """Training is done: a stop signal now would end the test and report (seconds of work; SIGUSR2 kills by default)
    and leave no metrics.json. It is noted instead, and `results_written` puts the handlers back."""

    def note(signum, frame) -> None:
        print(f"\n{signal.Signals(signum).name} came after training: writing the run's results first", file=sys.stderr)

    for signum in CLUSTER_STOPS:
        signal.signal(signum, note)


@contextmanager
def results_written() -> Iterator[None]:
    """The stop signals' handlers as they were, once the run's results are written."""
    previous = {signum: signal.getsignal(signum) for signum in CLUSTER_STOPS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which signal() cannot set back
                signal.signal(signum, handler)


@contextmanager
def signals_raise_keyboard_interrupt() -> Iterator[list[signal.Signals]]:
    """For the plain loop: SIGTERM interrupts it as Ctrl+C does; yields the signals received."""
    received: list[signal.Signals] = []

    def interrupt(signum, frame) -> None:
        received.append(signal.Signals(signum))
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in STOP_SIGNALS}  # signal() returns the old handler
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
