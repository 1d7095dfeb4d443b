"""After a Hydra multirun (a callback in conf/train.yaml): every job, read back from its folder, ranked by validation
loss only, printed and saved as summary.csv; over jobs that differ in `seed` or `cv.fold`, mean ± std
(summary_mean_std.csv); after a `cv.folds` sweep, its out-of-fold validation predictions (oof_predictions.csv)."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table as RichTable

from src.reporting import cross_validation as cv
from src.reporting.results import print_run_folder, shown_number
from src.sweeps.resolvers import starts_only


class SweepSummary(Callback):
    def __init__(self) -> None:
        self.job_dirs: list[Path] = []

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        # jobs that set another `name` write outside the sweep folder: remember where each one went
        if config.hydra.mode == RunMode.MULTIRUN:
            self.job_dirs.append(Path(config.hydra.runtime.output_dir).resolve())

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        # absolute, as Hydra gives each job's output_dir (a relative sweep.dir would match none)
        sweep_dir = Path(config.hydra.sweep.dir).resolve()
        paths = config.get("paths") or {}  # read unresolved: it names Hydra's job folder, unknown here
        if "output_dir" in paths and OmegaConf.to_container(paths)["output_dir"] is None:  # debug=fast: jobs kept nothing
            remove_empty_sweep(sweep_dir)
            return
        # the sweep folder holds the jobs of launchers that run them in other processes, and of earlier starts of a
        # resumed sweep or search; job_dirs adds the jobs of this process that wrote elsewhere
        in_folder = [p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
        in_folder.sort(key=lambda p: (0, int(p.name)) if p.name.isdigit() else (1, p.name))  # job 10 after job 9
        job_dirs = list(dict.fromkeys([*in_folder, *(d for d in self.job_dirs if d.parent != sweep_dir)]))
        rows = [read_job(d, sweep_dir) for d in job_dirs]
        if not rows:
            return
        swept = varying_keys(rows)
        flat = flat_rows(rows, swept)
        path = write_summary_csv(flat, sweep_dir / "summary.csv")
        jobs = f"{len(rows)} job{'s' * (len(rows) != 1)}"
        print_sweep_summary(flat, swept, title=f"{jobs}, best val_loss first — {path}")
        best, of_setting = flat[0], ""
        if any(k in cv.REPEAT_KEYS for k in swept):
            groups = ranked(cv.mean_and_std(rows, swept), key="best_val_loss_mean")
            groups_path = sweep_dir / "summary_mean_std.csv"
            pd.DataFrame(groups).to_csv(groups_path, index=False)
            repeats = " and ".join(k for k in cv.REPEAT_KEYS if k in swept)
            print_mean_std(groups, title=f"mean ± std over {repeats}, best mean val_loss first — {groups_path}")
            for note in cv.missing_folds(rows, swept):
                print(note)
            if len(groups) > 1:  # the best job of the setting on top of that table, not a lucky seed of another
                setting = {k: v for k, v in groups[0].items() if k in swept}
                best = next(row for row in flat if all(row.get(k) == v for k, v in setting.items()))
                of_setting = " of " + " ".join(f"{k}={v}" for k, v in setting.items())
        settings = [{k: row["overrides"].get(k, "") for k in swept if k != "cv.fold"} for row in rows]
        oof = "cv.fold" in swept and cv.write_oof_predictions([*zip(job_dirs, settings)], sweep_dir / "oof_predictions.csv")
        if oof:
            print(f"out-of-fold validation predictions: {oof}")
        if cv.finite([best.get("best_val_loss")]):  # the last job's commands are above: these are the best one's
            best_dir = dict(zip((row["job"] for row in rows), job_dirs))[best["job"]]
            print(f"best job (lowest val_loss{of_setting}): {best['job']}")
            print_run_folder(best_dir, checkpoint=best_dir / "checkpoints" / "best.ckpt")


def remove_empty_sweep(sweep_dir: Path) -> None:
    """A sweep whose jobs ran in temporary folders: its empty job folders and multirun.yaml go, then the folder and
    those above it that Hydra made for it, if left empty, below the working folder (logs/<name>/multiruns)."""
    for job in sweep_dir.iterdir():
        if job.is_dir() and not any(job.iterdir()):
            job.rmdir()
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # a folder that is not empty stops it
        sweep_dir.rmdir()
        for parent in sweep_dir.parents:
            if not parent.is_relative_to(Path.cwd()) or parent == Path.cwd():
                break
            parent.rmdir()


def read_job(job_dir: Path, sweep_dir: Path) -> dict[str, Any]:
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    job = job_dir.relative_to(sweep_dir) if job_dir.is_relative_to(sweep_dir) else job_dir
    # resume=latest of a re-submission says how a job started, not what it computes
    settings = dict(o.partition("=")[::2] for o in overrides)
    row: dict[str, Any] = {"job": str(job), "overrides": {k: v for k, v in settings.items() if not starts_only(k.lstrip("+~"))}}
    metrics_file = job_dir / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("interrupted"):  # stopped by a signal: where an unfinished run stands, not its result
            return row
        row.update({key: metrics[key] for key in ("best_val_loss", "best_epoch", "stopped_epoch")})
        row.update(metrics["test"], wall_time_s=metrics["wall_time_s"])
    return row


def ranked(rows: list[dict[str, Any]], key: str = "best_val_loss") -> list[dict[str, Any]]:
    """Lowest `key` first; rows without a finite one (unfinished, diverged) last."""
    return sorted(rows, key=lambda row: (0, row[key]) if cv.finite([row.get(key)]) else (1, 0.0))


def varying_keys(rows: list[dict[str, Any]]) -> list[str]:
    """The override keys whose values differ between jobs (the ones every job shares say nothing here)."""
    keys = dict.fromkeys(k for row in rows for k in row["overrides"])
    return [k for k in keys if len({row["overrides"].get(k) for row in rows}) > 1]


def flat_rows(rows: list[dict[str, Any]], swept: list[str]) -> list[dict[str, Any]]:
    flat = []
    for row in ranked(rows):
        values = {k: v for k, v in row.items() if k not in ("job", "overrides")}
        overrides = " ".join(f"{k}={v}" for k, v in row["overrides"].items())
        flat.append({"job": row["job"], **{k: row["overrides"].get(k, "") for k in swept}, **values, "overrides": overrides})
    return flat


def write_summary_csv(flat: list[dict[str, Any]], path: Path) -> Path:
    """A diverged loss as `nan`, as the table shows it; an empty cell is a value the job never had (refused, stopped)."""
    frame = pd.DataFrame([{k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in flat])
    last = [c for c in ("wall_time_s", "overrides") if c in frame]  # after the test metrics of every job's task
    frame = frame[[c for c in frame if c not in last] + last]
    epochs = dict.fromkeys([c for c in ("best_epoch", "stopped_epoch") if c in frame], "Int64")  # 3, not 3.0
    frame.astype(epochs).to_csv(path, index=False)
    return path


def print_sweep_summary(flat: list[dict[str, Any]], swept: list[str], title: str) -> None:
    tests = list(dict.fromkeys(k for row in flat for k in row if k.startswith("test_")))
    columns = ["job", *swept, "best_val_loss", *tests, "wall_time_s"]
    headers = {"best_val_loss": "best val_loss", "wall_time_s": "wall s", **{t: t.removeprefix("test_") for t in tests}}
    rows = [[_cell(row.get(c)) for c in columns[:-1]] + [_seconds(row.get("wall_time_s"))] for row in flat]
    title += "\n(test metrics are for reading, not for choosing)"
    print_table(title, [headers.get(c, c) for c in columns], 1 + len(swept), rows)


def print_table(title: str, headers: list[str], n_left: int, rows: list[list[str]]) -> None:
    """The first `n_left` columns (the settings) left-aligned, the numbers after them right-aligned."""
    table = RichTable()
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < n_left else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console = console if console.is_terminal else Console(width=240)  # a pipe or log file: no width to squeeze into
    console.print(title, soft_wrap=True, markup=False, highlight=False)  # not wrapped to the table: a path stays whole
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return shown_setting(value) if isinstance(value, str) else shown_number(value)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def shown_setting(value: str) -> str:
    """An override's value as the job's overrides (and summary.csv) have it, but a sampler's long decimals
    (0.018224988220277075) cut to 4 significant digits."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if math.isfinite(number) and float(f"{number:.6g}") != number else value


def print_mean_std(groups: list[dict[str, Any]], title: str) -> None:
    metrics = [k.removesuffix("_mean") for k in groups[0] if k.endswith("_mean")]
    settings = [k for k in groups[0] if k not in ("n", "diverged") and not k.endswith(("_mean", "_std"))]
    headers = [c.removeprefix("test_").replace("best_val_loss", "best val_loss") for c in [*settings, "n", "diverged", *metrics]]
    rows = [
        [shown_setting(group[k]) for k in settings]
        + [str(group[k]) for k in ("n", "diverged")]
        + [cv.format_mean_std(group[f"{m}_mean"], group[f"{m}_std"]) for m in metrics]
        for group in groups
    ]
    print_table(title, headers, len(settings), rows)
