"""The one way this project reads a checkpoint file: as data, with `torch.load(weights_only=True)`, so loading one
never runs code; any file it cannot read is a one-line error that says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from src.errors import UserError


def read_checkpoint(path: str | Path) -> Any:
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file it cannot read; each means the same here
        if "allowed global" in str(exc) or "Unsupported global" in str(exc):
            raise UserError(
                f"{path} is not a checkpoint of this project: loading it would unpickle arbitrary objects, which is refused"
            ) from None
        raise UserError(f"{path} is not a readable checkpoint (corrupt, truncated or not a PyTorch file)") from None


def checkpoint_epoch(path: str | Path) -> int | None:
    """The 1-based epoch a checkpoint holds, or None when there is no readable one at `path`."""
    try:
        state = read_checkpoint(path)
    except UserError:
        return None
    return int(state["epoch"]) + 1 if isinstance(state, dict) and "epoch" in state else None
