"""Cross-validation and seed reports: mean ± std over jobs that differ only in seed or fold; each fold's
val_predictions.csv (validation rows by source row number), gathered after the last into `<sweep>/oof_predictions.csv`."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

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
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        members = groups.setdefault(tuple(row["overrides"].get(k, "") for k in setting_keys), [])
        members += [row] if "best_val_loss" in row else []  # a refused job's row has its overrides only
    metrics = ["best_val_loss", *dict.fromkeys(k for row in rows for k in row if k.startswith("test_"))]
    out = []
    for setting, members in groups.items():
        kept = [m for m in members if finite([m.get("best_val_loss")])]  # not diverged
        summary: dict[str, Any] = {**dict(zip(setting_keys, setting)), "n": len(members), "diverged": len(members) - len(kept)}
        for metric in metrics:
            values = finite([m.get(metric) for m in kept])
            summary[f"{metric}_mean"] = statistics.fmean(values) if values else math.nan
            summary[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else math.nan
        out.append(summary)
    return out


def format_mean_std(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4g} ± {std:.2g}" if math.isfinite(std) else f"{mean:.4g}"
