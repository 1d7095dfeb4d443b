"""A run that cannot write a file (disk full, read-only log folder, no permission) ends in one line that names the
file, the cause and the checkpoints it keeps, so it can be resumed once there is room again."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from src.errors import UserError
from src.runs.atomic import WriteFailed, os_reason
from src.runs.checkpoint_reader import checkpoint_epoch

# what the file system says when it cannot take a file, as opposed to a bug of ours
CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}


def kept_checkpoints(run_dir: Path, resume_command: str | None) -> str:
    """`kept: .../best.ckpt (epoch 7), .../last.ckpt (epoch 9); free space, then resume with: ...`"""
    folder = run_dir.absolute() / "checkpoints"
    kept = [
        f"{folder / name} (epoch {epoch})" for name in ("best.ckpt", "last.ckpt") if (epoch := checkpoint_epoch(folder / name))
    ]
    if not kept:
        return "no checkpoint had been written yet"
    line = "kept: " + ", ".join(kept)
    if resume_command and (folder / "last.ckpt").is_file():
        line += f"; make room, then resume with: {resume_command}"
    return line


@contextmanager
def files_kept_on_write_failure(run_dir: Path, resume_command: str | None = None) -> Iterator[None]:
    """Around a run: a file that cannot be written becomes a UserError naming it, its cause and what is kept."""
    try:
        yield
    except WriteFailed as exc:
        raise UserError(f"{exc}; {kept_checkpoints(run_dir, resume_command)}") from None
    except OSError as exc:  # a write outside write_atomically (a logger, a folder Lightning creates)
        if exc.errno not in CANNOT_WRITE:
            raise
        where = exc.filename or run_dir
        raise UserError(f"could not write {where}: {os_reason(exc)}; {kept_checkpoints(run_dir, resume_command)}") from None
