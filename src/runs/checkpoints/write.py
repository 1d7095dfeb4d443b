"""When checkpoint files reach the disk (the callbacks decide what is saved): whole or not at all, at most every
`flush_every_s` seconds."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning_utilities.core.apply_func import apply_to_collection

from src.atomic import write_atomically


class DeferredAtomicCheckpointIO(TorchCheckpointIO):
    """Each save is kept in memory (tensors cloned); the newest version of each file is written in the order saved
    (best.ckpt before the last.ckpt that refers to it) when due and at teardown, which Lightning runs on every exit
    path, so a SIGKILL loses at most `flush_every_s` seconds; a failed write (WriteFailed) stops all writing."""

    def __init__(self, flush_every_s: float = 10.0) -> None:
        self.flush_every_s = flush_every_s
        self.pending: dict[str, dict[str, Any]] = {}
        self.last_flush = time.monotonic()

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        key = str(path)
        self.pending.pop(key, None)  # re-insert: flush order is the order of the latest saves
        self.pending[key] = {
            # a point-in-time copy of the tensors; other values are fresh objects from the dump
            name: apply_to_collection(value, torch.Tensor, lambda t: t.detach().clone())
            if name in ("state_dict", "optimizer_states", "lr_schedulers")
            else value
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
                # nothing after a failed file (a last.ckpt never outruns its best.ckpt), nor a retry at teardown
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
