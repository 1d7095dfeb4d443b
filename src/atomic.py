"""Every file a run writes appears whole or not at all: written to a temporary file beside it, then renamed. A
failure is a `WriteFailed` naming the file and the OS's reason; the old file is unchanged, no temporary file left.
Processes that share one SQLite file (MLflow's, Optuna's) create it in turns; its URL is shown without credentials."""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from src.errors import UserError

T = TypeVar("T")


class WriteFailed(UserError):
    def __init__(self, path: str | Path, cause: OSError) -> None:
        super().__init__(f"could not write {Path(path)}: {os_reason(cause)}")


def os_reason(exc: OSError) -> str:
    """`No space left on device (ENOSPC)`: the OS's words and the name to search for."""
    name = errno.errorcode.get(exc.errno, "")
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text} ({name})" if name else text


def write_atomically(path: str | Path, write: Callable[[IO[Any]], T], text: bool = False) -> T:
    """Call `write(handle)` on a temporary file beside `path`, then rename it to `path`; what `write` returned."""
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        name = str(path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        # 0o666 less the umask, as for any new file (mkstemp would make it 0600)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        tmp = name  # made: removed if what follows fails (on a read-only disk there is nothing to remove)
        with os.fdopen(fd, "w" if text else "wb", **({"newline": "", "encoding": "utf-8"} if text else {})) as handle:
            written = write(handle)
        os.replace(tmp, path)
        tmp = None
        return written
    except OSError as exc:
        raise WriteFailed(path, exc) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def write_text_atomically(path: str | Path, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text), text=True)


@contextlib.contextmanager
def creating_alone(url: str):
    """For a `sqlite:///<file>` URL, the file's folder made and an exclusive lock on `<file>.lock` while it is held
    (fcntl, so it ends with the process, even a killed one); other URLs need neither."""
    import fcntl

    handle = None  # no lock for a server's URL, nor in a folder we cannot write into (the callers retry where they can)
    if url.startswith("sqlite:///"):
        file = Path(url.removeprefix("sqlite:///"))
        with contextlib.suppress(OSError):
            file.parent.mkdir(parents=True, exist_ok=True)
            handle = open(f"{file}.lock", "a")  # noqa: SIM115
    with handle or contextlib.nullcontext():  # closing it releases the lock
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def credentials_hidden(url: str) -> str:
    """`scheme://***@host/...`: all up to the last @ hidden, even where a password's unencoded @ or / misleads a parser."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else url
