"""What a run reports (test metrics, best and last epoch, why it stopped, loss history): metrics.json and a table."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table as RichTable

from src.atomic import write_text_atomically
from src.errors import NO_MODEL
from src.reporting.run_names import pasteable_argument

WRITTEN_CLASSES = 20  # a confusion matrix's counts are written out (console, figure) up to this many classes


def shown_number(value: float, sign: str = "") -> str:
    """Four decimals, or scientific notation where they would print 0.0000 or a long row of digits."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:{sign}.4f}" if value == 0 or 1e-4 <= abs(value) < 1e6 else f"{value:{sign}.4e}"


@dataclass
class RunResult:
    runner: str  # "lightning" or "plain"
    test: dict[str, float]
    best_epoch: int  # 1-based, like the lesson's lowest_epoch
    best_val_loss: float
    stopped_epoch: int  # the last epoch trained, 1-based
    wall_time_s: float
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    matrices: dict[str, list] = field(default_factory=dict)
    tested_checkpoint: str | None = None
    stopped_early: bool = False
    out_of_time: bool = False  # trainer.max_time ended training
    stop_reason: str = "max_epochs"  # max_epochs | max_time | early_stopping | non_finite_loss | interrupted (finished below)
    interrupted: bool = False  # by SIGINT or SIGTERM: no test metrics; resume from checkpoints/last.ckpt
    interrupted_by: str | None = None  # "SIGINT" or "SIGTERM"
    interrupted_epoch: int | None = None  # 1-based epoch that was running when the signal came
    last_checkpoint_epoch: int | None = None  # 1-based epoch that checkpoints/last.ckpt holds (Lightning runner)
    warnings: list[str] = field(default_factory=list)  # e.g. no better than a constant guess, a dead hidden layer
    diagnostics: dict = field(default_factory=dict)  # what the warnings are based on (see reporting/diagnosis.py)
    importance: dict = field(default_factory=dict)  # each input column's permutation importance (reporting/importance.py)

    @property
    def ms_per_epoch(self) -> float:
        """The run's time per epoch, less the permutation importance's (reported on its own: on a wide table it can
        take longer than the training)."""
        return 1000 * (self.wall_time_s - self.importance.get("seconds", 0.0)) / max(self.stopped_epoch, 1)

    @classmethod
    def from_history(
        cls,
        runner: str,
        train_loss: list[float],
        val_loss: list[float],
        started_at: float,
        best_epoch: int | None = None,
        best_val_loss: float | None = None,
        **outcome,
    ) -> RunResult:
        """A run's result from its loss history; the best epoch is the first lowest finite val_loss unless the
        fit says otherwise (the Lightning path reads it from best.ckpt). `started_at` is a time.perf_counter()."""
        if best_val_loss is None:
            finite = [loss for loss in val_loss if math.isfinite(loss)]
            best_val_loss = min(finite, default=math.inf)
            best_epoch = val_loss.index(best_val_loss) + 1 if finite else 0
        return cls(
            runner=runner,
            test=outcome.pop("test", {}),
            best_epoch=best_epoch or 0,
            best_val_loss=best_val_loss,
            stopped_epoch=len(val_loss),
            wall_time_s=time.perf_counter() - started_at,
            train_loss=list(train_loss),
            val_loss=list(val_loss),
            **outcome,
        ).finished()

    def finished(self) -> RunResult:
        """Why the run stopped; and no test metrics when no epoch had a finite val_loss (no model worth testing)."""
        if self.interrupted:
            self.stop_reason = "interrupted"
        elif self.val_loss and not math.isfinite(self.val_loss[-1]):
            self.stop_reason = "non_finite_loss"  # EarlyStopping(check_finite=True), or the plain loop's isfinite check
        else:
            self.stop_reason = "early_stopping" if self.stopped_early else "max_time" if self.out_of_time else "max_epochs"
        if not math.isfinite(self.best_val_loss):  # best.ckpt may hold epoch 1 with its NaN: no epoch was best
            self.test, self.matrices, self.best_epoch = {}, {}, 0
        return self


def stop_message(result: RunResult, resume_command: str | None = None) -> str | None:
    """The one line a user must read when a run did not end the ordinary way; None when it did."""
    kept = "checkpoints/best.ckpt" if result.runner == "lightning" else "the best weights"
    if result.stop_reason == "non_finite_loss":
        bad = f"val_loss became {result.val_loss[-1]} at epoch {result.stopped_epoch}"
        if not math.isfinite(result.best_val_loss):
            return f"error: {bad} and {NO_MODEL}"
        return (
            f"stopped: {bad}; tested {kept} from epoch {result.best_epoch} (val_loss {result.best_val_loss:.4e}), saved before it"
        )
    if result.stop_reason == "interrupted":
        where = f"interrupted by {result.interrupted_by} during epoch {result.interrupted_epoch}"
        if result.runner != "lightning":
            done = f"epochs 1-{result.stopped_epoch} are in metrics.json" if result.stopped_epoch else "no epoch had finished"
            return f"{where}: the plain loop keeps no checkpoints; {done}"
        held = result.last_checkpoint_epoch
        saved = f"last.ckpt holds epoch {held}" if held else "no epoch had finished"
        return f"{where}: {saved}" + (f"; resume with: {resume_command}" if resume_command and held else "")
    return None


def write_metrics_json(path: Path, result: RunResult, extra: dict | None = None) -> None:
    write_json(path, {**(extra or {}), **asdict(result), "ms_per_epoch": result.ms_per_epoch})


def write_json(path: Path, payload: dict) -> None:
    """Whole or not at all (src/atomic.py): an interrupted write never leaves a half file where a good one was."""
    write_text_atomically(path, json.dumps(payload, indent=2, allow_nan=True))


def print_metrics_table(result: RunResult, title: str, class_labels: list[str] = ()) -> None:
    rows = [
        ("best epoch", str(result.best_epoch or "none: no epoch had a finite val_loss")),
        ("best val_loss", f"{result.best_val_loss:.4e}"),
        ("stopped at epoch", str(result.stopped_epoch)),
        ("wall time", f"{result.wall_time_s:.1f} s ({result.ms_per_epoch:.1f} ms/epoch)"),
    ]
    if result.importance:
        rows += importance_rows(result.importance)
    print_report(result.test, result.matrices, rows, result.diagnostics, result.warnings, title, class_labels)


def importance_rows(importance: dict, top: int = 10) -> list[tuple[str, str]]:
    """The report table's rows: the most important columns (mean ± sd of the drop), and what was measured."""
    mean, std = importance["mean"], importance["std"]
    lines = [f"{column}: {shown_number(mean[column], '+')} ± {shown_number(std[column])}" for column in list(mean)[:top]]
    if len(mean) > top:
        lines.append(f"... {len(mean) - top} more in metrics.json")
    lines.append(f"({importance['repeats']} shuffles of {importance['rows']} rows, {importance['seconds']:.2f} s)")
    return [(f"column importance\n(drop in val {importance['metric']}\nwhen shuffled)", "\n".join(lines))]


def matrix_lines(matrix: list[list[int]], class_labels: list[str] = ()) -> list[str]:
    """A confusion matrix with its classes named: rows are the actual class, columns the predicted one."""
    labels = list(class_labels) if len(class_labels) == len(matrix) else [str(i) for i in range(len(matrix))]
    side = max(len("actual \\ predicted"), *(len(label) for label in labels))
    widths = [max(len(label), *(len(str(row[c])) for row in matrix)) for c, label in enumerate(labels)]
    lines = ["actual \\ predicted".ljust(side) + "".join(f"  {label:>{w}}" for label, w in zip(labels, widths))]
    for label, row in zip(labels, matrix):
        lines.append(label.ljust(side) + "".join(f"  {v:>{w}d}" for v, w in zip(row, widths)))
    return lines


def print_report(
    test: dict[str, float],
    matrices: dict[str, list],
    rows: list[tuple[str, str]],
    diagnostics: dict,
    warnings: list[str],
    title: str,
    class_labels: list[str] = (),
) -> None:
    """The test metrics as a table, then one `warning:` line per warning (training and src.eval print the same)."""
    table = RichTable(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in test.items():
        table.add_row(name, shown_number(value))
    for name, matrix in matrices.items():
        if name == "test_members":  # an ensemble's members, each scored alone
            lines = [
                f"{metric}: mean {shown_number(sum(v) / len(v))}, {shown_number(min(v))} to {shown_number(max(v))}"
                for metric, v in matrix.items()
            ]
            table.add_row(f"{name} ({len(next(iter(matrix.values()), []))} alone)", "\n".join(lines))
        elif isinstance(matrix, dict):  # a value per class, by class name
            table.add_row(name, "\n".join(f"{label}: {shown_number(value)}" for label, value in matrix.items()))
        elif len(matrix) > WRITTEN_CLASSES:
            table.add_row(name, f"{len(matrix)} x {len(matrix)} counts: in metrics.json, and as colours in figures/")
        else:
            table.add_row(name, "\n".join(matrix_lines(matrix, class_labels)))
    for name, value in rows:
        table.add_row(name, value)
    if dead_units := diagnostics.get("dead_units"):
        table.add_row("dead ReLU units (val)", " ".join(f"{dead}/{units}" for dead, units in dead_units.values()))
    console = Console()
    console.print(table)
    for warning in warnings:
        console.print(f"warning: {warning}", style="bold yellow", markup=False, highlight=False, soft_wrap=True)


def shown_path(path: Path) -> str:
    """Relative to the working folder when it is inside it (as a user typed logs/...), else absolute."""
    relative = os.path.relpath(Path(path).resolve(), Path.cwd())
    return str(path) if relative.startswith("..") else relative


def log_dir_override(run_dir: Path) -> str:
    """` paths.log_dir=<dir>` when the run's config has another than logs: src.eval writes its folder there too."""
    config = run_dir / "config.yaml"
    log_dir = OmegaConf.load(config).get("paths", {}).get("log_dir", "logs") if config.is_file() else "logs"
    return "" if log_dir == "logs" else f" {pasteable_argument('paths.log_dir', str(log_dir))}"


def print_run_folder(run_dir: Path, checkpoint: Path | None = None) -> None:
    """The run's folder on a line of its own (never wrapped, so it can be copied), and commands ready to paste."""
    print(f"run: {shown_path(run_dir)}")
    if checkpoint is not None and checkpoint.is_file():
        ckpt = pasteable_argument("ckpt_path", shown_path(checkpoint))
        print(f"evaluate: python -m src.eval {ckpt}{log_dir_override(run_dir)}")
        print(f"predict:  python -m src.predict {ckpt} input=new.csv output=predictions.csv")
