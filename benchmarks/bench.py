"""Milliseconds per epoch of the plain reference loop and of the default Lightning path, and start-up time.

`make bench` (or `python -m benchmarks.bench [--rounds N]`). Runs alternate plain / Lightning in one
process so both see the same machine state; an epoch's time is the interval between consecutive epoch ends
(training, validation, callbacks, logging: everything), and each run reports its median. Both wall time and the
process's CPU time are reported: on a busy machine the CPU time is the steadier measure of the work each path
does, and the targets are judged on it. The output format is kept stable so runs can be compared over time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from omegaconf import OmegaConf

from benchmarks.epoch_clock import EpochClock
from src.reference.plain_loop import train_plain
from src.train import build_datamodule, build_model, fit_with_lightning

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"housing": 40, "cancer": 120}  # epochs per timed run; patience keeps both from stopping earlier
TARGETS = {"housing": 1.15, "cancer": 1.30}
STARTUP_TARGET_S = 3.0


def median_epoch_ms(stamps: list[tuple[float, float]]) -> tuple[float, float]:
    """Median (wall, cpu) milliseconds between consecutive epoch ends."""
    return tuple(1000 * statistics.median(b[i] - a[i] for a, b in zip(stamps, stamps[1:])) for i in (0, 1))


def config(experiment: str, out: Path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose(
            "train",
            overrides=[
                f"experiment={experiment}",
                f"paths.output_dir={out}",
                f"trainer.max_epochs={EXPERIMENTS[experiment]}",
                "callbacks.early_stopping.patience=100000",
                "trainer.enable_progress_bar=false",
                "trainer.enable_model_summary=false",
            ],
        )


def time_run(experiment: str, runner: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(experiment, Path(tmp))
        L.seed_everything(cfg.seed, verbose=False)
        datamodule = build_datamodule(cfg)
        model = build_model(cfg, datamodule.n_features)
        logger = __import__("hydra.utils", fromlist=["instantiate"]).instantiate(cfg.logger)
        EpochClock.stamps = []
        if runner == "plain":
            def log_epoch(metrics, epoch):
                logger.log_metrics(metrics, step=epoch)
                EpochClock.stamp()

            train_plain(model, datamodule, cfg.trainer.max_epochs, cfg.callbacks.early_stopping.patience, log_epoch)
        else:
            OmegaConf.update(cfg, "callbacks.epoch_clock", {"_target_": "benchmarks.epoch_clock.EpochClock"}, force_add=True)
            fit_with_lightning(cfg, datamodule, model, logger)
        logger.finalize("success")
        return median_epoch_ms(EpochClock.stamps)


def time_command(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--startup-repeats", type=int, default=3)
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the default config's torch_threads; with one thread CPU time is the work done
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"torch {torch.__version__}, lightning {L.__version__}, torch threads {torch.get_num_threads()}")
    print(f"{'experiment':<10} {'runner':<10} {'wall ms/epoch':>14} {'cpu ms/epoch':>13}  cpu ms/epoch of each round")
    ok = True
    for experiment in args.experiments:
        runs = {"plain": [], "lightning": []}
        time_run(experiment, "plain"), time_run(experiment, "lightning")  # warm-up: imports, caches, allocator
        for _ in range(args.rounds):
            for runner in runs:
                runs[runner].append(time_run(experiment, runner))
        medians = {}
        for runner, values in runs.items():
            medians[runner] = [statistics.median(v[i] for v in values) for i in (0, 1)]
            each = " ".join(f"{v[1]:.2f}" for v in values)
            print(f"{experiment:<10} {runner:<10} {medians[runner][0]:>14.2f} {medians[runner][1]:>13.2f}  {each}")
        wall, cpu = (medians["lightning"][i] / medians["plain"][i] for i in (0, 1))
        ok &= cpu <= TARGETS[experiment]
        print(f"{experiment:<10} {'ratio':<10} {wall:>14.3f} {cpu:>13.3f}  target <= {TARGETS[experiment]} (cpu)")
    with tempfile.TemporaryDirectory() as tmp:
        bare = time_command([sys.executable, "-c", "import lightning"], args.startup_repeats)
        one_epoch = time_command(
            [sys.executable, "-m", "src.train", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
             f"paths.log_dir={tmp}"],
            args.startup_repeats,
        )
    print(f"{'startup':<10} {'import':<10} {bare:>15.2f}  s: python -c 'import lightning'")
    print(f"{'startup':<10} {'train':<10} {one_epoch:>15.2f}  s: python -m src.train trainer.max_epochs=1")
    print(f"{'startup':<10} {'extra':<10} {one_epoch - bare:>15.2f}  s, target <= {STARTUP_TARGET_S}")
    ok &= one_epoch - bare <= STARTUP_TARGET_S
    print("all targets met" if ok else "some targets missed")


if __name__ == "__main__":
    main()
