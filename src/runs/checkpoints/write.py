"""How checkpoint files reach the disk: whole or not at all, and not on every improvement.

The checkpoint callbacks decide *what* to save and *when* (every new best val_loss; last.ckpt every
`flush_every_s` and at every stop, see latest.py beside this file); this CheckpointIO decides when the
bytes are written. Serialising a checkpoint costs more Python work than a whole epoch of the
lesson's tiny networks is allowed to spend on overhead, so each save is
kept in memory (tensors cloned) and the newest version of each file is
written at most every `flush_every_s` seconds, and always when fit ends, fails or is interrupted (Lightning
tears the CheckpointIO down on every exit path). Pending files are written in the order they were saved,
so best.ckpt is on disk before the last.ckpt that refers to it. A SIGKILL loses at most `flush_every_s`
seconds of checkpoints, never a file's consistency: every file is written to a temporary name and renamed
(src/runs/atomic.py). When a write fails (disk full, read-only folder), the files already on disk stay as they
were, nothing more is written, and the failure names the file (a WriteFailed).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from src.runs.atomic import write_atomically


def clone_tensors(obj: Any) -> Any:
    """A point-in-time copy of the tensors in a checkpoint; other values are fresh objects from the dump."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return type(obj)((k, clone_tensors(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(clone_tensors(v) for v in obj)
    return obj


class DeferredAtomicCheckpointIO(TorchCheckpointIO):
    def __init__(self, flush_every_s: float = 10.0) -> None:
        self.flush_every_s = flush_every_s
        self.pending: dict[str, dict[str, Any]] = {}
        self.last_flush = time.monotonic()

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        key = str(path)
        self.pending.pop(key, None)  # re-insert: flush order is the order of the latest saves
        self.pending[key] = {
            name: clone_tensors(value) if name in ("state_dict", "optimizer_states", "lr_schedulers") else value
            for name, value in checkpoint.items()
        }
        if self.flush_every_s <= 0 or time.monotonic() - self.last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        while self.pending:
            key = next(iter(self.pending))
            try:  # serialised first, then written in one call: a full disk is then an OSError naming its cause,
                # not the RuntimeError torch.save raises for a short write
                buffer = io.BytesIO()
                torch.save(self.pending[key], buffer)
                data = buffer.getbuffer()
                write_atomically(key, lambda handle, data=data: handle.write(data))
            except BaseException:
                # nothing after a failed file: a last.ckpt must never be newer than the best.ckpt it goes with,
                # and Lightning's teardown, which flushes again, must not retry
                self.pending.clear()
                raise
            del self.pending[key]
        self.last_flush = time.monotonic()

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        self.flush()
        return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)

    def remove_checkpoint(self, path: str | Path) -> None:
        self.pending.pop(str(path), None)
        super().remove_checkpoint(path)

    def teardown(self) -> None:
        self.flush()
