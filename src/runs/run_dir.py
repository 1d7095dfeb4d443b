"""Run folders: a new one per run, the checkpoint's own one when a run resumes. Hydra picks it before our code runs
(`hydra.run.dir` calls `run_dir` below), so a resumed run's files land next to its checkpoints."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from src.errors import UserError, user_errors_exit

# overrides that say where a run starts from, not what it computes: a command that resumes drops them
START_KEYS = ("resume", "ckpt_path")

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the other checks still apply
    fcntl = None

MIN_FREE_BYTES = 64 << 10  # below this, not even the copies of the config Hydra writes first fit
RUN_FILES = ("config.yaml", "metrics.json", "checkpoints")  # any of these means the folder already holds a run


def new_run_dir(runs_root: str | Path, stamp: str) -> Path:
    """`<runs_root>/<stamp>`, or `<stamp>-2`, `-3`, ... when an earlier run has that name."""
    for n in count(1):
        candidate = Path(runs_root) / (stamp if n == 1 else f"{stamp}-{n}")
        if not candidate.exists():
            return candidate


def is_run_dir(path: Path) -> bool:
    return (path / "config.yaml").is_file()


def latest_run_dir(runs_root: str | Path, finished_too: bool = False) -> Path | None:
    """The newest run under runs_root that has a last.ckpt and did not finish (every finished run has a last.ckpt
    too), or with finished_too the newest of all; folder names start with the start time, so they sort."""
    runs = [c.parents[1] for c in Path(runs_root).glob("*/checkpoints/last.ckpt") if c.is_file() and is_run_dir(c.parents[1])]
    if not finished_too:
        runs = [run for run in runs if not has_finished(run)]
    return max(runs, key=lambda d: d.name, default=None)


def numbered_jobs(sweep_dir: Path) -> list[Path]:
    """A sweep folder's job folders (named by their number), in number order: job 10 after job 9."""
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def job_state(job_dir: Path) -> str | None:
    """How a run (or a sweep's job) ended: None when it finished, else a few words on where it stopped."""
    metrics = job_dir / "metrics.json"  # written whole or not at all (src/atomic.py)
    if metrics.is_file():
        saved = json.loads(metrics.read_text())
        if not saved.get("interrupted", False):
            return None
        return f"stopped by {saved.get('interrupted_by') or 'a signal'} at epoch {saved.get('stopped_epoch')}, last.ckpt kept"
    if (job_dir / "checkpoints" / "last.ckpt").is_file():
        return "stopped, last.ckpt kept"
    return "stopped before its first checkpoint"


def has_finished(run: Path) -> bool:
    """A run whose metrics.json says it finished; a damaged metrics.json counts as unfinished, so resuming it names
    the damage (src/runs/resume.py check_not_finished)."""
    try:
        return job_state(run) is None
    except (OSError, ValueError):
        return False


def unwritable_reason(folder: str | Path) -> str | None:
    """Why no run folder can be made under `folder` (read-only, no permission, a full disk), or None; creates nothing."""
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if os.access(existing, os.W_OK | os.X_OK):
        free = shutil.disk_usage(existing).free  # Hydra writes the config's copies first, with a traceback when they do not fit
        if free >= MIN_FREE_BYTES:
            return None
        return f"{existing} is on a full disk ({free // 1024} KiB free): {os.strerror(errno.ENOSPC)} (ENOSPC)"
    read_only = hasattr(os, "statvfs") and os.statvfs(existing).f_flag & os.ST_RDONLY
    code = errno.EROFS if read_only else errno.EACCES
    return f"{existing} is not writable: {os.strerror(code)} ({errno.errorcode[code]})"


def run_dir(runs_root: str, stamp: str, ckpt_path: str | None, resume: str | None) -> str:
    """Hydra's `hydra.run.dir`: the run being resumed, else a new folder (invalid resume settings get a new folder
    too, and src.runs.resume then names the mistake)."""
    if ckpt_path is not None and resume is None:  # the run's folder itself, or <run>/checkpoints/<file>.ckpt
        given = Path(ckpt_path).absolute()
        if is_run_dir(given):
            return str(given)
        if given.parent.name == "checkpoints" and is_run_dir(given.parent.parent):
            return str(given.parent.parent)
    if resume == "latest" and ckpt_path is None and (existing := latest_run_dir(runs_root)) is not None:
        return str(existing)
    elastic_id = os.environ.get("TORCHELASTIC_RUN_ID", "none")
    if elastic_id != "none":  # started by torchrun (--standalone or --rdzv-id): every rank on every node names one folder
        return str(Path(runs_root) / f"torchrun_{elastic_id}")
    require_writable(runs_root, f"no run folder can be made under {runs_root}")
    return str(new_run_dir(runs_root, stamp))


def writable_dir(folder: str) -> str:
    """Hydra's `hydra.run.dir` for the other entry points (eval, ensemble, ...): `folder`, or one line if it cannot be made."""
    require_writable(folder, f"no folder can be made at {folder}")
    return folder


def require_writable(folder: str, what: str) -> None:
    """Hydra creates the folder next and fails with a traceback where it cannot: one line and exit 2 instead."""
    reason = unwritable_reason(folder)
    if reason is not None:
        with user_errors_exit():
            raise UserError(f"{what}: {reason}; set paths.log_dir to a folder you can write to")


def hydra_subdir(output_dir: str, ckpt_path: str | None, resume: str | None, stamp: str) -> str:
    """Where Hydra copies the composed config: `.hydra`, or beside the first copy when the folder has one already."""
    if not (Path(output_dir) / ".hydra").exists():
        return ".hydra"
    return f".hydra/resumed_{stamp}" if ckpt_path is not None or resume is not None else f".hydra/{stamp}"


def register_resolvers() -> None:
    # cached: hydra.run.dir is read more than once, after Hydra has created the folder, and must stay the same; they
    # only look, never create, as OmegaConf also evaluates them while merging configs that replace hydra.run.dir
    OmegaConf.register_new_resolver("run_dir", run_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("writable_dir", writable_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("hydra_subdir", hydra_subdir, use_cache=True, replace=True)
    from src.reporting.run_names import file_stem, mlflow_run_name, run_label  # reporting is above runs

    OmegaConf.register_new_resolver("run_label", run_label, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("mlflow_run_name", mlflow_run_name, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("file_stem", file_stem, replace=True)


@contextmanager
def refused_leaves_no_folder() -> Iterator[None]:
    """Around a Hydra command's work: a user mistake is one `error:` line and exit 2 (user_errors_exit), and the
    folder Hydra made for the command goes with it."""
    try:
        with user_errors_exit():
            yield
    except SystemExit:
        remove_refused_run_dir(Path(HydraConfig.get().runtime.output_dir))
        raise


def remove_refused_run_dir(path: Path, hydra_subdir: str | None = ".hydra") -> None:
    """After a refused run: its folder when Hydra's files are all it holds, and the empty folders above it; in an
    earlier run's folder (a refused resume), only this start's copy of the config (`.hydra/resumed_...`)."""
    path = path.absolute()
    if hydra_subdir and Path(hydra_subdir).parent.name == ".hydra":
        shutil.rmtree(path / hydra_subdir, ignore_errors=True)
        return
    if not path.is_dir() or not {p.name for p in path.iterdir() if p.suffix != ".log"} <= {".hydra"}:  # a .lock: a run held it
        return
    if any(p.is_dir() for p in (path / ".hydra").glob("*")):  # a second start's copy: an earlier run's folder
        return
    shutil.rmtree(path, ignore_errors=True)
    for parent in path.parents:
        if parent == Path.cwd() or any(parent.iterdir()):
            break
        parent.rmdir()


@contextmanager
def hold_run_dir(path: Path, resuming: bool) -> Iterator[None]:
    """Hold the run folder while training in it; refuse one another process holds and (unless resuming) one that
    holds a run's files. The OS drops the lock on `.lock` when the process ends, even on SIGKILL."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a+") as lock:
        lock.seek(0)
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = lock.read().strip() or "?"
                raise UserError(f"{path} is in use by another training process (pid {holder}); wait for it to end") from None
        if not resuming and (taken := [name for name in RUN_FILES if (path / name).exists()]):
            raise UserError(
                f"{path} already holds a run ({', '.join(taken)}); a new run needs a new folder "
                "(leave hydra.run.dir and paths.output_dir at their defaults), or continue it: a sweep's job by "
                "submitting the same command with resume=latest, a run with resume=latest or ckpt_path=<run>/checkpoints/last.ckpt"
            )
        lock.truncate(0)  # "a+": the pid is then written at its start
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def without_start_keys(overrides: list[str]) -> list[str]:
    """The overrides less START_KEYS (written `key=`, `+key=` or `~key`)."""
    return [o for o in overrides if o.split("=")[0].lstrip("+~") not in START_KEYS]
