"""A file system that refuses some files: writes through src.atomic fail half-way with the OSError a full
disk (ENOSPC) or a read-only folder (EACCES) gives, after `after` successful writes of that file."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class FailingHandle:
    """Writes half of the first chunk, then fails: the temporary file is left with some bytes, as on a full disk."""

    def __init__(self, handle, code: int) -> None:
        self.handle, self.code = handle, code

    def write(self, data):
        self.handle.write(data[: max(1, len(data) // 2)])
        self.handle.flush()
        raise OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


def refuse_writes(monkeypatch, name: str, after: int = 0, code: int = errno.ENOSPC) -> list[Path]:
    """Make the (after+1)-th and later writes of files called `name` fail with `code`; returns the temporary files
    those failed writes used, to check they are gone."""
    import src.atomic as atomic

    real_fdopen = atomic.os.fdopen
    seen = {"writes": 0}
    failed: list[Path] = []

    def fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        tmp = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if not tmp.name.startswith(f".{name}."):
            return handle
        seen["writes"] += 1
        if seen["writes"] <= after:
            return handle
        failed.append(tmp)
        return FailingHandle(handle, code)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    return failed
