"""An Optuna search that a second start continues, and that several processes can share.

hydra-optuna-sweeper 1.3 asks for `n_trials` new trials at every start and keeps nothing without a storage. Here:
- the study lives in an RDB storage: by default `<search folder>/optuna.db` (SQLite), where the search folder
  `logs/<name>/searches/<study_name>` is the same at every start (conf/hparams_search/*.yaml); any SQLAlchemy
  URL works too, e.g. `hydra.sweeper.storage=postgresql://user@host/db` for workers on many machines;
- `n_trials` is the study's total: trials finished at earlier starts or by other processes count toward it, and
  a start asks only for what is missing (like optuna's MaxTrialsCallback, workers that ask at the same moment
  may run a trial or two beyond it);
- a trial's job folder is `<search folder>/<trial number>`, unique across starts and processes;
- trials left RUNNING by a process of this machine that no longer exists (killed) are marked FAIL at the next start;
- a job that fails (a user error, a diverged run: no finite value) is told FAIL and the search goes on;
- a start that joins a study with trials reseeds the sampler, so it does not replay the first start's samples;
- optimization_results.yaml has the best trial over all starts and every trial's number, state, value and params.
SQLite and concurrent writers: each connection waits up to 60 s for the database lock instead of failing at once,
processes opening one new SQLite file create its tables one after another (a lock file beside it), and on a
database server creating the study or its tables is retried (two processes may create them at the same moment).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from hydra_plugins.hydra_optuna_sweeper import _impl as plugin
from omegaconf import OmegaConf
from optuna.trial import TrialState

from src.errors import UserError

log = logging.getLogger(__name__)
SQLITE_TIMEOUT_S = 60
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def commit_alembic_stamp() -> None:
    """optuna 2.10 (what hydra-optuna-sweeper 1.3 runs on) stamps a new storage's schema version on a connection that
    SQLAlchemy 2 never commits, and then fails on its own check; stamp inside a committed transaction instead
    (tests/sweeps/test_optuna_search.py pins this private method)."""
    import alembic.migration
    from optuna.storages._rdb import storage as rdb

    def stamp(self, revision: str) -> None:
        with self.engine.begin() as connection:
            alembic.migration.MigrationContext.configure(connection).stamp(self._create_alembic_script(), revision)

    rdb._VersionManager._set_alembic_revision = stamp


@contextlib.contextmanager
def creating_alone(lock_path: Path):
    """An exclusive lock on `lock_path` while it is held (fcntl, so it ends with the process, even a killed one)."""
    import fcntl

    try:
        handle = open(lock_path, "a")  # noqa: SIM115 - closed below
    except OSError:  # a folder we cannot write a lock into: the retries below still apply
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_storage(url: str | None):
    """The study's storage: None (in memory, lost at exit), or an RDBStorage that answers now."""
    if url is None:
        return None
    from optuna.storages import RDBStorage

    commit_alembic_stamp()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its set-up messages say nothing about the search
    engine_kwargs: dict[str, Any] = {}
    creation_lock: Any = contextlib.nullcontext()
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        database.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        creation_lock = creating_alone(database.with_name(database.name + ".lock"))
    last: Exception | None = None
    with creation_lock:  # processes on one SQLite file create its tables one after another
        for attempt in range(5):  # a shared server's database: two processes creating the tables at once, one retries
            try:
                return RDBStorage(url, engine_kwargs=engine_kwargs)
            except Exception as exc:  # noqa: BLE001 - reported below as one line
                last = exc
                if not any(race in str(exc) for race in ("already exists", "locked", "UNIQUE constraint", "duplicate key")):
                    break
                time.sleep(0.5 * (attempt + 1))
    reason = str(last).strip().splitlines()[0] if last is not None and str(last).strip() else type(last).__name__
    raise UserError(f"hydra.sweeper.storage={url} cannot be opened: {reason}")


def fail_abandoned_trials(study: optuna.Study) -> int:
    """RUNNING trials of processes of this machine that have ended (killed) are FAIL: they will not finish."""
    host = socket.gethostname()
    abandoned = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            study._storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
            study.tell(trial.number, state=TrialState.FAIL)
            abandoned += 1
    return abandoned


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trials_counted(study: optuna.Study) -> int:
    """Trials toward n_trials: finished ones and those running now, not the ones a killed process abandoned."""
    return sum(1 for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("abandoned"))


def consecutive_runs(numbers: list[int]) -> list[tuple[int, int]]:
    """[(first index, count)] of runs of consecutive trial numbers, so each launch's job numbers are trial numbers."""
    runs: list[tuple[int, int]] = []
    for i, number in enumerate(numbers):
        if runs and numbers[i - 1] + 1 == number:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


class ResumableOptunaSweeperImpl(plugin.OptunaSweeperImpl):
    def sweep(self, arguments: list[str]) -> None:
        try:
            self.search(arguments)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    def search(self, arguments: list[str]) -> None:
        self._process_searchspace_config()
        distributions, fixed = plugin.create_params_from_overrides([*self._parse_sweeper_params_config(), *arguments])
        if self.search_space_distributions:
            distributions = {**self.search_space_distributions, **distributions}
        for name in fixed:
            distributions.pop(name, None)
        if isinstance(self.sampler, functools.partial) and self.sampler.func == optuna.samplers.GridSampler:
            # as the plugin does: the grid is built from the search space, and n_trials is at most its size
            grid = {name: self._to_grid_sampler_choices(d) for name, d in distributions.items()}
            self.sampler = self.sampler(grid)
            self.n_trials = min(self.n_trials, math.prod(len(choices) for choices in grid.values()))
        directions = self._get_directions()
        if len(directions) != 1:
            raise UserError(f"hydra.sweeper.direction must be one direction (minimize or maximize); got {directions}")
        storage = open_storage(self.storage)
        study = optuna.create_study(
            study_name=self.study_name, storage=storage, sampler=self.sampler, directions=directions, load_if_exists=True
        )
        abandoned = fail_abandoned_trials(study)
        done = trials_counted(study)
        if done and hasattr(self.sampler, "reseed_rng"):
            self.sampler.reseed_rng()  # joining a study: do not replay the samples of the start that began it
        log.info(
            f"Study {study.study_name} in {self.storage}: {done} of {self.n_trials} trials done or running"
            + (f", {abandoned} abandoned by killed processes marked FAIL" if abandoned else "")
        )

        while (to_go := self.n_trials - trials_counted(study)) > 0:
            trials = [study.ask() for _ in range(min(self.n_jobs, to_go))]
            for trial in trials:
                trial.set_user_attr("worker", WORKER)
            overrides = self._configure_trials(trials, distributions, fixed)
            returns = []
            for first, count in consecutive_runs([t.number for t in trials]):
                returns += self.launcher.launch(overrides[first : first + count], initial_job_idx=trials[first].number)
            for trial, ret in zip(trials, returns):
                self.tell(study, trial, ret)
        self.write_results(study)

    @staticmethod
    def tell(study: optuna.Study, trial: optuna.Trial, ret: Any) -> None:
        try:
            value = float(ret.return_value)
        except Exception as exc:  # noqa: BLE001 - the job failed: record it and go on
            log.warning(
                f"trial {trial.number} failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            )
            value = None
        if value is not None and not math.isfinite(value):
            log.warning(f"trial {trial.number} failed: its value is {value}")
            value = None
        try:
            study.tell(trial, value) if value is not None else study.tell(trial, state=TrialState.FAIL)
        except RuntimeError as exc:  # GridSampler stops the study after the grid's last point, outside optimize()
            if "`Study.stop` is supposed to be invoked" not in str(exc):
                raise

    def write_results(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "n_trials": len(trials)}
        if complete:
            best = study.best_trial
            results.update(best_trial=best.number, best_params=best.params, best_value=best.value)
            log.info(f"Best parameters: {best.params}; best value: {best.value}")
        results["trials"] = [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
            | ({"abandoned": True} if t.user_attrs.get("abandoned") else {})
            for t in trials
        ]
        OmegaConf.save(OmegaConf.create(results), Path(self.config.hydra.sweep.dir) / "optimization_results.yaml")
