"""The lesson's loss plot: train and validation loss per epoch on a log-scale y axis, the best epoch marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from src.reporting.results import RunResult


def loss_curves_figure(runs: dict[str, RunResult], title: str = "loss") -> Figure:
    """One figure for one run or several overlaid (e.g. the plain loop and Lightning on the same config)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    for i, (label, run) in enumerate(runs.items()):
        epochs = range(1, len(run.val_loss) + 1)
        prefix = f"{label} " if len(runs) > 1 else ""
        ax.plot(epochs, run.train_loss, styles[i % 4], color="tab:blue", label=f"{prefix}train_loss")
        ax.plot(epochs, run.val_loss, styles[i % 4], color="tab:orange", label=f"{prefix}val_loss")
        ax.axvline(run.best_epoch, linestyle=styles[i % 4], color="gray", linewidth=1)
        ax.plot([run.best_epoch], [run.best_val_loss], "o", color="tab:red",
                label=f"{prefix}best epoch {run.best_epoch} (val_loss {run.best_val_loss:.4g})")
    ax.set_yscale("log")  # the lesson's choice: the early drop would flatten the rest on a linear axis
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
