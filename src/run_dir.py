"""Run folders: a new one per run that nothing else can take, the checkpoint's own one when a run resumes.

Hydra picks the folder before any of our code runs (`hydra.run.dir` in conf/train.yaml calls `run_dir` below),
so a resumed run's `.hydra/` copy, train.log, TensorBoard events and metrics.json land next to its checkpoints.
While a run trains it holds an advisory lock on `<run>/.lock`; the OS drops it when the process ends, even on
SIGKILL, so a second process can tell a live run from an interrupted one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import OmegaConf

from src.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the other checks still apply
    fcntl = None

RUN_FILES = ("config.yaml", "metrics.json", "checkpoints")  # any of these means the folder already holds a run


# Folders this process created for a new run, outermost first: Hydra may resolve hydra.run.dir even when a
# config (debug=fast) overrides it, and those must not stay behind as empty folders.
created_dirs: list[Path] = []


def fresh_run_dir(runs_root: str | Path, stamp: str) -> Path:
    """Create `<runs_root>/<stamp>`, or `<stamp>-2`, `-3`, ... if taken: mkdir is atomic, so two runs never share one."""
    root = Path(runs_root)
    created_dirs.extend(reversed([p for p in (root, *root.parents) if not p.exists()]))
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            created_dirs.append(candidate)
            return candidate
        except FileExistsError:
            continue
    raise UserError(f"could not create a new run folder under {root}: {stamp} and its next 998 suffixes are taken")


def remove_unused_run_dirs() -> None:
    """Remove the folders this process created for a run that went elsewhere, if they are still empty."""
    for path in reversed(created_dirs):
        try:
            path.rmdir()
        except OSError:  # not empty (or already gone): it is in use, keep it
            pass
    created_dirs.clear()


def is_run_dir(path: Path) -> bool:
    return (path / "config.yaml").is_file()


def run_dir_of_checkpoint(checkpoint: str | Path) -> Path | None:
    """`<run>` for `<run>/checkpoints/<file>.ckpt`, or None when the file is not inside a run folder."""
    checkpoint = Path(checkpoint).absolute()
    if checkpoint.parent.name != "checkpoints" or not is_run_dir(checkpoint.parent.parent):
        return None
    return checkpoint.parent.parent


def latest_run_dir(runs_root: str | Path) -> Path | None:
    """The newest run under runs_root that has a last.ckpt (folder names start with the start time, so they sort)."""
    root = Path(runs_root)
    if not root.is_dir():
        return None
    runs = [d for d in root.iterdir() if (d / "checkpoints" / "last.ckpt").is_file() and is_run_dir(d)]
    return max(runs, key=lambda d: d.name) if runs else None


def run_dir(runs_root: str, stamp: str, ckpt_path: str | None, resume: str | None) -> str:
    """Hydra's `hydra.run.dir`: the run being resumed, else a new folder (invalid resume settings get a new folder
    too, and src.resume then names the mistake: nothing is written into a folder that is not a run's)."""
    if ckpt_path is not None and resume is None:
        existing = run_dir_of_checkpoint(ckpt_path)
        if existing is not None:
            return str(existing)
    if resume == "latest" and ckpt_path is None:
        existing = latest_run_dir(runs_root)
        if existing is not None:
            return str(existing)
    return str(fresh_run_dir(runs_root, stamp))


def hydra_subdir(output_dir: str, ckpt_path: str | None, resume: str | None, stamp: str) -> str:
    """Where Hydra copies the composed config and overrides: `.hydra`, unless the folder has one already (a resumed
    run, or a command pointed at an earlier run's folder): the first copy stays, and this start gets its own beside it."""
    if not (Path(output_dir) / ".hydra").exists():
        return ".hydra"
    return f".hydra/resumed_{stamp}" if ckpt_path is not None or resume is not None else f".hydra/{stamp}"


def register_resolvers() -> None:
    # cached: Hydra and Lightning's DDP launcher read hydra.run.dir more than once, and it must stay one folder
    OmegaConf.register_new_resolver("run_dir", run_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("hydra_subdir", hydra_subdir, use_cache=True, replace=True)


@contextmanager
def hold_run_dir(path: Path, resuming: bool) -> Iterator[Path]:
    """Hold the run folder while this process trains in it; refuse one another process holds, and (unless
    resuming) one that already holds a run's files, so an earlier run's files are never overwritten."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a+") as lock:
        lock.seek(0)
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = lock.read().strip() or "?"
                raise UserError(f"{path} is in use by another training process (pid {holder}); wait for it to end") from None
        if not resuming:
            taken = [name for name in RUN_FILES if (path / name).exists()]
            if taken:
                raise UserError(
                    f"{path} already holds a run ({', '.join(taken)}); a new run needs a new folder "
                    "(leave hydra.run.dir and paths.output_dir at their defaults), or resume it with ckpt_path=..."
                )
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield path
