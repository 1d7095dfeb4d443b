"""Milliseconds per epoch of the default Lightning path and of the lesson's loop, and start-up time.

`make bench` (or `python -m benchmarks.bench [--repeats N] [--experiments housing cancer]`). Method: the CPU
seconds of the whole process (user + system, children's rusage), one torch thread, for a short and a long run of
each runner; the difference divided by the extra epochs is the cost of an epoch, with start-up and the final
test cancelled out. Each runner's figure is the median of `--repeats` such differences, the long and short runs
of both runners taking turns so that a slow spell of the machine hits both. The yardstick is
benchmarks/lesson_loop.py, the lesson's loop as the lesson runs it. Then the start-up time, a seed sweep run
sequentially and under joblib, TabM's k = 32 members against one MLP, and a generated 1,000,000-row table from
file to ready-to-train (benchmarks/data_loading.py). Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.data_loading import report as data_loading_report
from benchmarks.data_loading import run_data_loading_bench
from benchmarks.sweep_clock import sweep_lines

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = {"housing": (10, 310), "cancer": (10, 510)}  # (short, long) runs; the difference is what is timed
TARGETS = {"housing": 1.15, "cancer": 1.30}  # Lightning default / lesson loop, CPU ms per epoch
STARTUP_TARGET_S = 3.0
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def lightning_command(experiment: str, epochs: int, log_dir: str, overrides: list[str] = ()) -> list[str]:
    """The default path as a user runs it (with `overrides`, if any), kept from stopping early so every run trains
    `epochs` epochs."""
    return [
        sys.executable,
        "-m",
        "src.train",
        f"experiment={experiment}",
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping.patience=1000000",
        "trainer.enable_progress_bar=false",
        "torch_threads=1",
        f"paths.log_dir={log_dir}",
        *overrides,
    ]


def lesson_command(experiment: str, epochs: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.lesson_loop", "--experiment", experiment, "--epochs", str(epochs)]


def cpu_seconds(command: list[str]) -> float:
    """User + system CPU seconds of the command's whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env={**os.environ, **ONE_THREAD})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ms_per_epoch(experiment: str, repeats: int, log_dir: str, overrides: list[str] = ()) -> dict[str, list[float]]:
    short, long = EPOCHS[experiment]
    runners = {
        "lightning": lambda n: lightning_command(experiment, n, log_dir, overrides),
        "lesson": lambda n: lesson_command(experiment, n),
    }
    results = {name: [] for name in runners}
    for _ in range(repeats):
        for name, command in runners.items():  # turn by turn: both runners see the same spells
            results[name].append(1000 * (cpu_seconds(command(long)) - cpu_seconds(command(short))) / (long - short))
    return results


def wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env={**os.environ, **ONE_THREAD})
    return time.perf_counter() - start


def time_startup(repeats: int, log_dir: str) -> tuple[float, float, float]:
    """Median seconds of a bare `import lightning`, of a one-epoch training command, and of the difference
    within each repeat (the two commands run back to back, so a slow spell tends to hit both)."""
    bare_command = [sys.executable, "-c", "import lightning"]
    train_command = [
        sys.executable,
        "-m",
        "src.train",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        f"paths.log_dir={log_dir}",
    ]
    pairs = [(wall_seconds(bare_command), wall_seconds(train_command)) for _ in range(repeats)]
    return tuple(statistics.median(values) for values in (*zip(*pairs), [train - bare for bare, train in pairs]))


def ensemble_line() -> str:
    """TabM's k = 32 members against one MLP of the same width, housing-sized rows, one thread (no target: a figure)."""
    import torch

    from benchmarks.ensemble_speed import time_ensemble_epochs

    torch.set_num_threads(1)
    result = time_ensemble_epochs(k=32)
    mlp, tabm = result["mlp"]["cpu_ms"], result["tabm_k32"]["cpu_ms"]
    return (
        f"{'ensemble':<10} {'tabm k=32':<10} {tabm:>13.1f}  cpu ms/epoch, against {mlp:.1f} for one MLP of the same width: "
        f"{result['tabm_over_mlp_cpu']:.1f} MLP epochs, not 32"
    )


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument("--experiments", nargs="+", default=list(EPOCHS), choices=list(EPOCHS))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated table for the data-loading figures")
    parser.add_argument("--skip-data", action="store_true", help="leave out the large-table figures (about 2 minutes)")
    parser.add_argument("--skip-ensemble", action="store_true", help="leave out TabM k=32 against one MLP")
    parser.add_argument("--set", nargs="+", default=[], metavar="OVERRIDE", help="Hydra overrides for the Lightning runs")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
        f"torch {torch.__version__}, one torch thread; {time.strftime('%Y-%m-%d %H:%M')}"
        + (f"; Lightning runs with {' '.join(args.set)}" if args.set else "")
    )
    print(f"{'experiment':<10} {'runner':<10} {'cpu ms/epoch':>13}  each repeat (long run - short run, per extra epoch)")
    missed = []
    with tempfile.TemporaryDirectory() as log_dir:
        for experiment in args.experiments:
            results = ms_per_epoch(experiment, args.repeats, log_dir, args.set)
            medians = {name: statistics.median(values) for name, values in results.items()}
            for name, values in results.items():
                each = " ".join(f"{v:.2f}" for v in values)
                print(
                    f"{experiment:<10} {name:<10} {medians[name]:>13.2f}  {each}  ({EPOCHS[experiment][1]} - {EPOCHS[experiment][0]})"
                )
            ratio = medians["lightning"] / medians["lesson"]
            met = ratio <= TARGETS[experiment]
            print(f"{experiment:<10} {'ratio':<10} {ratio:>13.3f}  target <= {TARGETS[experiment]}: {'met' if met else 'MISSED'}")
            if not met:
                missed.append(f"{experiment} ratio {ratio:.3f} > target {TARGETS[experiment]}")
        bare, one_epoch, extra = time_startup(args.startup_repeats, log_dir)
    print(f"{'startup':<10} {'import':<10} {bare:>13.2f}  s: python -c 'import lightning'")
    print(f"{'startup':<10} {'train':<10} {one_epoch:>13.2f}  s: python -m src.train trainer.max_epochs=1")
    print(f"{'startup':<10} {'extra':<10} {extra:>13.2f}  s, target <= {STARTUP_TARGET_S}")
    if extra > STARTUP_TARGET_S:
        missed.append(f"start-up {extra:.2f} s > target {STARTUP_TARGET_S} s")
    print("\n".join(sweep_lines()))
    if not args.skip_ensemble:
        print(ensemble_line())
    if not args.skip_data:
        figures = run_data_loading_bench(args.rows)
        print(data_loading_report(figures))
        if not figures["ok"]:
            missed.append("data loading (see above)")
    if missed:
        print("targets missed: " + "; ".join(missed))
        sys.exit(1)
    print("all targets met")


if __name__ == "__main__":
    main()
