"""Milliseconds per epoch of the plain reference loop and of the default Lightning path, and start-up time.

`make bench` (or `python -m benchmarks.bench [--rounds N]`). Each round runs the plain loop and the Lightning
path side by side in one process, taking turns every EPOCHS_PER_TURN epochs, so both see the same machine state
(see epoch_clock). An epoch's time covers everything the runner does from one epoch's end to the next
(training, validation, callbacks, checkpoints, logging); each run reports the median over its timed epochs
(each turn's first is left out), and the table shows the median over rounds. Both wall time and the process's
CPU time are reported: on a busy machine the CPU time is the steadier measure of the work each path does, and
the targets are judged on it. The output format is kept stable so runs can be compared over time.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate

from benchmarks.epoch_clock import RUNNERS, EpochClock, LightningEpochClock, Turns
from benchmarks.sweep_clock import sweep_lines
from src.reference.plain_loop import train_plain
from src.train import build_datamodule, build_model, fit_with_lightning

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"housing": 40, "cancer": 120}  # epochs per timed run; patience keeps both from stopping earlier
EPOCHS_PER_TURN = 2  # a turn is tens of milliseconds: shorter than the machine's slow spells
TARGETS = {"housing": 1.15, "cancer": 1.30}
STARTUP_TARGET_S = 3.0


def medians_ms(epochs: list[tuple[float, float]]) -> tuple[float, float]:
    """Median (wall, cpu) milliseconds of a run's timed epochs."""
    return tuple(1000 * statistics.median(e[i] for e in epochs) for i in (0, 1))


def config(experiment: str, out: Path, epochs: int):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose(
            "train",
            overrides=[
                f"experiment={experiment}",
                f"paths.output_dir={out}",
                f"trainer.max_epochs={epochs}",
                "callbacks.early_stopping.patience=100000",
                "trainer.enable_progress_bar=false",
                "trainer.enable_model_summary=false",
            ],
        )


def build_run(experiment: str, out: Path, epochs: int):
    cfg = config(experiment, out, epochs)
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = build_datamodule(cfg)
    return cfg, datamodule, build_model(cfg, datamodule.n_features), instantiate(cfg.logger)


def time_pair(experiment: str, epochs: int) -> dict[str, list[tuple[float, float]]]:
    """One plain run and one Lightning run of the experiment side by side, taking turns (see epoch_clock): the
    (wall, cpu) seconds of each runner's timed epochs."""
    turns = Turns(first="lightning")
    clocks = {runner: EpochClock(runner, turns, EPOCHS_PER_TURN) for runner in RUNNERS}
    failure: list[BaseException] = []
    with tempfile.TemporaryDirectory() as tmp:
        plain_cfg, plain_data, plain_model, plain_logger = build_run(experiment, Path(tmp) / "plain", epochs)
        cfg, datamodule, model, logger = build_run(experiment, Path(tmp) / "lightning", epochs)

        def plain_run() -> None:
            def log_epoch(metrics, epoch):
                plain_logger.log_metrics(metrics, step=epoch)
                clocks["plain"].epoch_end()

            try:
                clocks["plain"].start()
                train_plain(plain_model, plain_data, plain_cfg.trainer.max_epochs,
                            plain_cfg.callbacks.early_stopping.patience, log_epoch)
                plain_logger.finalize("success")
            except BaseException as error:  # noqa: BLE001  (re-raised in the main thread)
                failure.append(error)
            finally:
                turns.finish("plain")

        # Lightning stays in the main thread, where it installs its signal handlers
        plain_thread = threading.Thread(target=plain_run, name="plain-runner")
        plain_thread.start()
        try:
            clocks["lightning"].start()
            fit_with_lightning(cfg, datamodule, model, logger, extra_callbacks=[LightningEpochClock(clocks["lightning"])])
            logger.finalize("success")
        finally:
            turns.finish("lightning")
            plain_thread.join()
        if failure:
            raise failure[0]
    return {runner: clock.epochs for runner, clock in clocks.items()}


def seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def time_startup(repeats: int, log_dir: str) -> tuple[float, float, float]:
    """Median seconds of a bare `import lightning`, of a one-epoch training command, and of the difference
    within each repeat (the two commands run back to back, so a slow spell tends to hit both)."""
    bare_command = [sys.executable, "-c", "import lightning"]
    train_command = [sys.executable, "-m", "src.train", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                     f"paths.log_dir={log_dir}"]
    pairs = [(seconds(bare_command), seconds(train_command)) for _ in range(repeats)]
    return tuple(statistics.median(values) for values in (*zip(*pairs), [train - bare for bare, train in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS))
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # keep the output to the table
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # the default config's torch_threads; with one thread CPU time is the work done
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"torch {torch.__version__}, lightning {L.__version__}, torch threads {torch.get_num_threads()}")
    print(f"{'experiment':<10} {'runner':<10} {'wall ms/epoch':>14} {'cpu ms/epoch':>13}  cpu ms/epoch of each round")
    ok = True
    for experiment in args.experiments:
        runs = {"plain": [], "lightning": []}
        time_pair(experiment, EXPERIMENTS[experiment])  # warm-up: imports, caches, allocator
        for _ in range(args.rounds):
            for runner, epochs in time_pair(experiment, EXPERIMENTS[experiment]).items():
                runs[runner].append(medians_ms(epochs))
        medians = {}
        for runner, values in runs.items():
            medians[runner] = [statistics.median(v[i] for v in values) for i in (0, 1)]
            each = " ".join(f"{v[1]:.2f}" for v in values)
            print(f"{experiment:<10} {runner:<10} {medians[runner][0]:>14.2f} {medians[runner][1]:>13.2f}  {each}")
        wall, cpu = (medians["lightning"][i] / medians["plain"][i] for i in (0, 1))
        ok &= cpu <= TARGETS[experiment]
        print(f"{experiment:<10} {'ratio':<10} {wall:>14.3f} {cpu:>13.3f}  target <= {TARGETS[experiment]} (cpu)")
    with tempfile.TemporaryDirectory() as tmp:
        bare, one_epoch, extra = time_startup(args.startup_repeats, tmp)
    print(f"{'startup':<10} {'import':<10} {bare:>15.2f}  s: python -c 'import lightning'")
    print(f"{'startup':<10} {'train':<10} {one_epoch:>15.2f}  s: python -m src.train trainer.max_epochs=1")
    print(f"{'startup':<10} {'extra':<10} {extra:>15.2f}  s, target <= {STARTUP_TARGET_S}")
    ok &= extra <= STARTUP_TARGET_S
    print("\n".join(sweep_lines()))
    print("all targets met" if ok else "some targets missed")


if __name__ == "__main__":
    main()
