"""The lesson's pictures of a run, built without pyplot (no backend chosen, nothing global left open); matplotlib is
imported only when a figure is drawn, which keeps `python -m src.train` quick to start."""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from src.reporting.results import WRITTEN_CLASSES

_TOLD_OF_MISSING_GLYPHS: set[Path] = set()  # figure folders whose labels' missing characters were reported

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float, height: float, columns: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, columns)


def loss_curves_figure(train_loss: Sequence[float], val_loss: Sequence[float], best_epoch: int) -> Figure:
    """Train and validation loss per 1-based epoch on a log scale, the best epoch marked (the lesson's plot)."""
    run = SimpleNamespace(train_loss=train_loss, val_loss=val_loss, best_epoch=best_epoch)
    return overlaid_loss_curves_figure({"": run}, "loss per epoch")


def overlaid_loss_curves_figure(runs: dict[str, Any], title: str) -> Figure:
    """Several runs' curves on one log-scale axis (e.g. the plain loop solid, Lightning dashed)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure(8, 4)
    for (label, run), linestyle in zip(runs.items(), ["-", "--", ":", "-."] * len(runs)):
        label = f"{label} " if label else ""
        epochs = np.arange(1, len(run.val_loss) + 1)
        ax.plot(epochs[: len(run.train_loss)], run.train_loss, linestyle, color="tab:blue", label=f"{label}train_loss")
        ax.plot(epochs, run.val_loss, linestyle, color="tab:orange", label=f"{label}val_loss")
        if 1 <= (epoch := run.best_epoch) <= len(run.val_loss):
            best = run.val_loss[epoch - 1]
            ax.axvline(epoch, color="gray", linestyle=linestyle, linewidth=1)
            ax.plot([epoch], [best], "o", color="tab:red", label=f"{label}best epoch {epoch} (val_loss {best:.4g})")
    ax.set_yscale("log")  # the lesson's reason: late, small improvements stay visible next to the first epochs' drop
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], class_labels: Sequence[str] = ()) -> Figure:
    """Counts per (actual, predicted) class as a heatmap; rows are the actual class, as torchmetrics returns them."""
    counts = np.asarray(matrix, dtype=np.int64)
    n = counts.shape[0]
    labels = [f"{label} ({i})" for i, label in enumerate(class_labels)] if len(class_labels) == n else [str(i) for i in range(n)]
    fig, ax = new_figure(6, 5)
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax)
    dark = counts.max() / 2
    if n <= WRITTEN_CLASSES:  # beyond, the counts would not fit their cells (and take minutes to draw)
        for i, j in np.ndindex(n, n):
            color = "white" if counts[i, j] > dark else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=14, color=color)
    ticks = range(0, n, math.ceil(n / WRITTEN_CLASSES))  # every class, or as many as fit
    ax.set_xticks(ticks, [labels[k] for k in ticks], rotation=90 if n > WRITTEN_CLASSES else 0)
    ax.set_yticks(ticks, [labels[k] for k in ticks])
    ax.set(xlabel="predicted", ylabel="actual", title="confusion matrix (test)")
    return fig


def importance_figure(importance: dict, top: int = 30) -> Figure:
    """Each input column's drop in the validation metric when shuffled (mean and sd over the repeats), the most
    important at the top; a column near 0 is one the model does not use."""
    columns = list(importance["mean"])[:top][::-1]
    fig, ax = new_figure(7, 1.5 + 0.3 * len(columns))
    means = [importance["mean"][c] for c in columns]
    ax.barh(range(len(columns)), means, xerr=[importance["std"][c] for c in columns], color="tab:blue", capsize=2)
    ax.set_yticks(range(len(columns)), columns)
    ax.axvline(0, color="gray", linewidth=1)
    ax.set_xlabel(f"drop in val {importance['metric']} when the column is shuffled")
    ax.grid(True, axis="x", alpha=0.3)
    shown = f"top {top} of {len(importance['mean'])}" if len(importance["mean"]) > top else "each column"
    ax.set_title(f"permutation importance, {shown} ({importance['repeats']} shuffles, {importance['rows']} val rows)")
    return fig


POINTS_LIMIT = 20_000  # above this many test rows, points become hexagonal bins: fast to draw and still readable


def points_or_bins(ax, x: np.ndarray, y: np.ndarray) -> None:
    """A scatter of every row, or for large test splits a hexbin whose colour counts the rows (log scale)."""
    x, y = np.ravel(x), np.ravel(y)
    if len(x) <= POINTS_LIMIT:
        ax.scatter(x, y, s=6, alpha=0.4)
        return
    finite = np.isfinite(x) & np.isfinite(y)
    bins = ax.hexbin(x[finite], y[finite], gridsize=80, bins="log", mincnt=1, cmap="viridis")
    ax.figure.colorbar(bins, ax=ax, label="rows")


def predicted_vs_actual_figure(actual: np.ndarray, predicted: np.ndarray, target_name: str = "target") -> Figure:
    """Each test row as a point (hexagonal bins for large test splits); on the identity line a prediction is exact."""
    fig, ax = new_figure(6, 6)
    points_or_bins(ax, actual, predicted)
    values = np.concatenate([np.ravel(actual), np.ravel(predicted)])
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ax.plot([low, high], [low, high], color="tab:red", linewidth=1, label="predicted = actual")
    ax.set(xlabel=f"actual {target_name}", ylabel=f"predicted {target_name}", title="predicted vs actual (test)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def residuals_figure(actual: np.ndarray, predicted: np.ndarray, target_name: str = "target") -> Figure:
    """Residuals (actual - predicted) against the prediction, and their histogram."""
    residuals = np.asarray(actual) - np.asarray(predicted)
    fig, (scatter, histogram) = new_figure(11, 4.5, columns=2)
    points_or_bins(scatter, predicted, residuals)
    scatter.axhline(0, color="tab:red", linewidth=1)
    scatter.set(xlabel=f"predicted {target_name}", ylabel="residual (actual - predicted)")
    scatter.grid(True, alpha=0.3)
    histogram.hist(residuals[np.isfinite(residuals)], bins=50)  # a diverged run's NaN must not stop the report
    histogram.axvline(0, color="tab:red", linewidth=1)
    histogram.set(xlabel="residual (actual - predicted)", ylabel="rows")
    fig.suptitle("residuals (test)")
    return fig


def save_figures(figures: dict[str, Figure], directory: Path, loggers=(), step: int = 0) -> list[Path]:
    """Each figure as `<name>.png` in directory (whole or not at all), and to each logger that takes images or
    artifacts (src/reporting/loggers.py)."""
    from src.atomic import write_atomically
    from src.reporting.loggers import log_figure

    paths = []
    with warnings.catch_warnings(record=True) as caught:  # glyphs are looked up as a figure is drawn, by savefig
        for name, fig in figures.items():
            path = directory / f"{name}.png"
            write_atomically(path, lambda handle, fig=fig: fig.savefig(handle, format="png", dpi=100))
            paths.append(path)
            log_figure(list(loggers), name, path, step)
    missing = {}  # a character -> the font that lacks it
    for warning in caught:
        if glyph := re.match(r"Glyph (\d+) .* missing from font\(s\) (.+?)\.?$", str(warning.message)):
            missing[chr(int(glyph.group(1)))] = glyph.group(2)
        else:  # any other warning is shown as it would have been
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    if missing and directory not in _TOLD_OF_MISSING_GLYPHS:  # matplotlib warned once per character
        _TOLD_OF_MISSING_GLYPHS.add(directory)  # and a run saves its figures in several calls: one line for them all
        shown = " ".join(list(missing)[:10]) + (" ..." if len(missing) > 10 else "")
        print(
            f"warning: the figures' font ({', '.join(sorted(set(missing.values())))}) lacks some characters of their "
            f"labels ({shown}): they are drawn as boxes; the printed table and the CSV files keep them",
            file=sys.stderr,
        )
    return paths
