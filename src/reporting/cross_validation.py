"""Cross-validation and seed reports: mean ± std over jobs that differ only in seed or fold; each fold's
val_predictions.csv (validation rows by source row number), gathered after the last into `<sweep>/oof_predictions.csv`."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from src.reporting.results import shown_number

REPEAT_KEYS = ("seed", "cv.fold")  # jobs that differ only in these are repeats of one setting


def write_oof_predictions(jobs: list[tuple[Path, dict[str, str]]], path: Path) -> Path | None:
    """Every fold's val_predictions.csv in one file, by row, after the job's other swept settings (a row is predicted
    once for each: seed=0, seed=1, ...); None when no job wrote one."""
    parts = [pd.read_csv(d / "val_predictions.csv").assign(**s) for d, s in jobs if (d / "val_predictions.csv").is_file()]
    if not parts:
        return None
    frame, settings = pd.concat(parts).sort_values("row", kind="stable"), list(jobs[0][1])
    frame[[*settings, *frame.columns.drop(settings)]].to_csv(path, index=False)
    return path


def finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def mean_and_std(rows: list[dict[str, Any]], swept: list[str]) -> list[dict[str, Any]]:
    """One row per setting (the jobs sharing every swept override but seed and cv.fold): n (jobs that ran: a refused
    job has no results), how many diverged (no finite best val_loss), and the others' mean and sample std (ddof=1) of
    best_val_loss and each test metric."""
    setting_keys = [k for k in swept if k not in REPEAT_KEYS]
    metrics = ["best_val_loss", *dict.fromkeys(k for row in rows for k in row if k.startswith("test_"))]
    out = []
    for setting, jobs in by_setting(rows, swept).items():
        members = [job for job in jobs if "best_val_loss" in job]  # a refused job's row has its overrides only
        kept = [m for m in members if finite([m.get("best_val_loss")])]  # not diverged
        summary: dict[str, Any] = {**dict(zip(setting_keys, setting)), "n": len(members), "diverged": len(members) - len(kept)}
        for metric in metrics:
            values = finite([m.get(metric) for m in kept])
            summary[f"{metric}_mean"] = statistics.fmean(values) if values else math.nan
            summary[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else math.nan
        out.append(summary)
    return out


def by_setting(rows: list[dict[str, Any]], swept: list[str]) -> dict[tuple, list[dict[str, Any]]]:
    """The jobs of each setting: the values of every swept override but seed and cv.fold."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row["overrides"].get(k, "") for k in swept if k not in REPEAT_KEYS), []).append(row)
    return groups


def missing_folds(rows: list[dict[str, Any]], swept: list[str]) -> list[str]:
    """A note for each setting whose mean lacks folds of its cv.folds (`cv.fold=0,1` of 3, a refused or stopped fold)."""
    setting_keys, notes = [k for k in swept if k not in REPEAT_KEYS], []
    for setting, jobs in by_setting(rows, swept).items():
        folds = jobs[0]["overrides"].get("cv.folds", "")
        ran = {job["overrides"].get("cv.fold") for job in jobs if "best_val_loss" in job}
        if not folds.isdigit() or not (missing := [str(f) for f in range(int(folds)) if str(f) not in ran]):
            continue
        named = " ".join(f"{k}={v}" for k, v in zip(setting_keys, setting))
        notes.append(
            f"note: {'fold' if len(missing) == 1 else 'folds'} {', '.join(missing)} of cv.folds={folds} "
            f"{'has' if len(missing) == 1 else 'have'} no result{f' with {named}' if named else ''}: "
            f"the mean is over {int(folds) - len(missing)} of {folds} folds"
        )
    return notes


def format_mean_std(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{shown_number(mean)} ± {shown_number(std)}" if math.isfinite(std) else shown_number(mean)
