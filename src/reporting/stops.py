"""Why a run stopped, as one line for the user (the one word for metrics.json is RunResult.stop_reason)."""

from __future__ import annotations

import math

from src.reporting.results import RunResult


def stop_message(result: RunResult, resume_command: str | None = None) -> str | None:
    """The one line a user must read when a run did not end the ordinary way; None when it did."""
    kept = "checkpoints/best.ckpt" if result.runner == "lightning" else "the best weights"
    if result.stop_reason == "non_finite_loss":
        bad = f"val_loss became {result.val_loss[-1]} at epoch {result.stopped_epoch}"
        if not math.isfinite(result.best_val_loss):
            return f"error: {bad} and no epoch had a finite val_loss: there is no model to test (lower model.optimizer.lr)"
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
