"""What a cancer epoch costs in Lightning itself: the lesson's loop against a minimal LightningModule with the same
whole-epoch step (no project code), bare and with what the default path must have: EarlyStopping, ModelCheckpoint
and one `self.log("val_loss")`.

`python -m benchmarks.lightning_floor [--rounds 4] [--epochs 500]`. The same step and validation in each (no
per-batch `float(loss)`, no copy of the weights). Then the default path itself, as `make bench` runs it. Each
variant runs in a process of its own, one torch thread, the variants taking turns each round. The figure is the
median CPU ms between epoch starts (the first 20 epochs left out), then the median over rounds. Unlike `make bench`,
start-up cannot blur it. No target: it shows how low the default path's ratio can go with Lightning's callbacks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L

from benchmarks.bench import lightning_command


def epoch_gaps(starts: list[float], skip: int = 20) -> list[float]:
    """The time between consecutive epoch starts, the first `skip` epochs left out."""
    return [b - a for a, b in zip(starts, starts[1:])][skip:]


VARIANTS = ("lesson", "lightning bare", "lightning + early stopping, checkpoint, self.log", "the default path (src.train)")


def default_path_command(epochs: int, log_dir: str) -> list[str]:
    """`make bench`'s cancer command, with EpochClock printing the median epoch."""
    return [
        *lightning_command("cancer", epochs, log_dir),
        "+callbacks.epoch_clock._target_=benchmarks.lightning_floor.EpochClock",
    ]


class EpochClock(L.Callback):
    """A callback for src.train: prints the median CPU ms between epoch starts (the first 20 left out) at the end."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.starts.append(time.process_time())

    def on_fit_end(self, trainer, pl_module) -> None:
        print(f"EPOCH_MS {1000 * statistics.median(epoch_gaps(self.starts))}", flush=True)


def train_variant(variant: str, epochs: int, skip: int = 20):
    """The CPU seconds between epoch starts (the first `skip` left out) and the trained network."""
    import torch
    import torch.nn.functional as F
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from benchmarks.lesson_loop import SETTINGS, lesson_data, lesson_model

    torch.set_num_threads(1)
    batch_size = SETTINGS["cancer"][1]
    x_train, y_train, x_valid, y_valid = lesson_data("cancer")
    net = lesson_model("cancer", x_train.size(-1))
    optimizer = torch.optim.Adam(net.parameters())
    starts: list[float] = []

    def train_batches():
        order = torch.randperm(x_train.size(0))
        return list(zip(x_train[order].split(batch_size), y_train[order].split(batch_size)))

    def val_loss() -> float:
        return sum(float(F.binary_cross_entropy(net(x), y)) for x, y in zip(x_valid.split(batch_size), y_valid.split(batch_size)))

    if variant == "lesson":
        for _ in range(epochs):
            starts.append(time.process_time())
            for x, y in train_batches():
                loss = F.binary_cross_entropy(net(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                val_loss()
        return epoch_gaps(starts, skip), net

    class OneGroup:  # one Lightning step per epoch: the epoch's mini-batches as one batch
        def __init__(self, make):
            self.make = make

        def __len__(self):
            return 1

        def __iter__(self):
            yield self.make()

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.net = net

        def configure_optimizers(self):
            return optimizer

        def training_step(self, batches):
            plain = self.optimizers(use_pl_optimizer=False)
            for x, y in batches:
                loss = F.binary_cross_entropy(self.net(x), y)
                plain.zero_grad()
                loss.backward()
                plain.step()

        def validation_step(self, _):
            loss = val_loss()
            if variant != "lightning bare":
                self.log("val_loss", loss, batch_size=1)

        def on_train_epoch_start(self):
            starts.append(time.process_time())

    callbacks = []
    if variant != "lightning bare":
        callbacks = [
            EarlyStopping("val_loss", patience=epochs),
            ModelCheckpoint(dirpath=tempfile.mkdtemp(), filename="best", monitor="val_loss", save_top_k=1),
        ]
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=bool(callbacks),
        callbacks=callbacks,
        num_sanity_val_steps=0,
    )
    trainer.fit(Module(), OneGroup(train_batches), OneGroup(lambda: None))
    return epoch_gaps(starts, skip), net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one process's own run
    args = parser.parse_args()
    if args.variant:
        print(1000 * statistics.median(train_variant(args.variant, args.epochs)[0]))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    root = Path(__file__).resolve().parents[1]
    medians: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            if variant == VARIANTS[-1]:
                with tempfile.TemporaryDirectory() as log_dir:
                    command = default_path_command(args.epochs, log_dir)
                    done = subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, text=True)
                [line] = [line for line in done.stdout.splitlines() if line.startswith("EPOCH_MS ")]
                medians[variant].append(float(line.split()[1]))
                continue
            command = [sys.executable, "-m", "benchmarks.lightning_floor", "--variant", variant, "--epochs", str(args.epochs)]
            done = subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, text=True)
            medians[variant].append(float(done.stdout.strip().splitlines()[-1]))
    lesson = statistics.median(medians["lesson"])
    print(f"{'variant':<50} {'cpu ms/epoch':>12} {'/ lesson':>9}  each round")
    for variant, values in medians.items():
        ms = statistics.median(values)
        print(f"{variant:<50} {ms:>12.2f} {ms / lesson:>9.3f}  {' '.join(f'{v:.2f}' for v in values)}")


if __name__ == "__main__":
    main()
