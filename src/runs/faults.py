"""A run that cannot write a file ends in one line naming the file, the cause and the checkpoints kept to resume from."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from src.atomic import WriteFailed, os_reason
from src.errors import UserError
from src.runs.checkpoints.read import checkpoint_epoch
from src.runs.resume import resume_command

# what the file system says when it cannot take a file, as opposed to a bug of ours
CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}


def kept_checkpoints(run_dir: Path) -> str:
    """`kept: .../best.ckpt (epoch 7), .../last.ckpt (epoch 9); make room, then resume with: ...`"""
    folder = run_dir.absolute() / "checkpoints"
    kept = {name: epoch for name in ("best.ckpt", "last.ckpt") if (epoch := checkpoint_epoch(folder / name))}
    if not kept:
        return "no checkpoint had been written yet"
    # the newest snapshot; resuming from an older one replays the epochs after it exactly
    newest = max(kept, key=lambda name: (kept[name], name == "last.ckpt"))
    listed = ", ".join(f"{folder / name} (epoch {epoch})" for name, epoch in kept.items())
    return f"kept: {listed}; make room, then resume with: {resume_command(run_dir, newest)}"


@contextmanager
def files_kept_on_write_failure(run_dir: Path) -> Iterator[None]:
    """Around a run: a file that cannot be written becomes a UserError naming it, its cause and what is kept."""
    try:
        yield
    except WriteFailed as exc:
        raise UserError(f"{exc}; {kept_checkpoints(run_dir)}") from None
    except OSError as exc:  # a write outside write_atomically (a logger, a folder Lightning creates)
        if exc.errno not in CANNOT_WRITE:
            raise
        raise UserError(f"could not write {exc.filename or run_dir}: {os_reason(exc)}; {kept_checkpoints(run_dir)}") from None
