"""An Optuna search that a second start continues and several processes share (docs/sweeps.md): the study lives
in an RDB storage, `n_trials` is its total and a trial's job folder is its number; a killed process's trials are
marked FAIL at the next start on that machine. The storage URL's password is masked in all it prints or writes."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

import optuna
import sqlalchemy
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from hydra.core.plugins import Plugins
from omegaconf import OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    DiscreteUniformDistribution,
    IntLogUniformDistribution,
    IntUniformDistribution,
    LogUniformDistribution,
    UniformDistribution,
    distribution_to_json,
)
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from src.atomic import creating_alone, credentials_hidden
from src.errors import UserError, first_line, is_number, require, require_int, user_errors_exit
from src.runs.run_dir import job_state
from src.sweeps import stopped_jobs

log = logging.getLogger(__name__)
SQLITE_TIMEOUT_S = 60
WORKER = f"{socket.gethostname()}:{os.getpid()}"
ABANDONED = "abandoned_trials"  # the study's user attribute: numbers of trials whose process was killed
FIXED = "fixed_settings"  # the study's user attribute: the settings its trials share, from the start that began it
SPACE = "search_space"  # the study's user attribute: each swept setting's distribution, as Optuna writes it in JSON
# fixed settings a later start may change: where files go and how a run shows itself, not what a trial measures
MAY_CHANGE = ("paths.", "trainer.enable_progress_bar", "logger", "data.source.data_home", "data.source.download")


def masked(url: str | None) -> str | None:
    """The storage URL with its password replaced by ***, for anything printed or written."""
    if not url or "://" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads
        return credentials_hidden(url)


def stamp_schema_version(url: str, engine_kwargs: dict[str, Any]) -> None:
    """Write optuna's schema version into a new storage, committed, before optuna opens it.

    optuna 2.10.1 (the newest hydra-optuna-sweeper 1.3.0 allows) stamps it on a connection it never closes; under
    SQLAlchemy 2 that write is never committed and locks the database (optuna/optuna#4375, fixed in 3.1 by #4390).
    tests/sweeps/test_optuna_search.py fails when optuna's own stamping works, and this can then go."""
    head = RDBStorage("sqlite://", skip_compatibility_check=True).get_head_version()  # in memory: nothing shared
    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            )
            if connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM alembic_version")).scalar() == 0:
                connection.execute(sqlalchemy.text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def missing_driver(exc: BaseException) -> str | None:
    """The module a storage URL's database driver needs, when it is not installed."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name
        exc = exc.__cause__ or exc.__context__
    return None


def open_storage(url: str | None):
    """The study's storage: None (in memory, lost at exit), or an RDBStorage that answers now."""
    if url is None:
        return None
    try:  # a password's @ or : left unencoded: the rest of it read as the host, or as the port
        unread = "@" in (make_url(url).host or "")
    except ValueError:
        unread = True
    except Exception:  # noqa: BLE001 - not a URL at all: create_engine's message below
        unread = False
    if unread and "@" in url:
        raise UserError(
            f"hydra.sweeper.storage={credentials_hidden(url)} is not a URL as written: "
            "write @ : / % in the password as %40 %3A %2F %25, or leave it out and set PGPASSWORD"
        )
    engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite:///") else {}
    last: Exception | None = None
    with creating_alone(url):  # and its folder made
        for attempt in range(5):  # a shared server's database: two processes creating the tables at once, one retries
            try:
                stamp_schema_version(url, engine_kwargs)
                return RDBStorage(url, engine_kwargs=engine_kwargs)
            except Exception as exc:  # noqa: BLE001 - reported below as one line
                last = exc
                if not any(race in str(exc) for race in ("already exists", "locked", "UNIQUE constraint", "duplicate key")):
                    break
                time.sleep(0.5 * (attempt + 1))
    if (module := missing_driver(last)) is not None:
        raise UserError(
            f"hydra.sweeper.storage={masked(url)} needs the Python module {module!r}, which is not installed"
            + (" (pip install -e '.[postgres]')" if module == "psycopg" else "")  # the extra has psycopg 3 only
        )
    raise UserError(f"hydra.sweeper.storage={masked(url)} cannot be opened: {masked_in(first_line(last), url)}")


def masked_in(text: str, url: str) -> str:
    with contextlib.suppress(Exception):
        password = make_url(url).password
        if password:
            as_written = url.partition("://")[2].rpartition("@")[0].partition(":")[2]  # %3a as well as %3A
            for written in {str(password), quote_plus(str(password)), as_written}:
                text = text.replace(f":{written}@", ":***@")
    return text


def mask_saved_copies(job_dirs: list[Path], url: str | None) -> None:
    """Hydra's copies of a job's settings (`.hydra/*.yaml`) without the storage URL's password."""
    if not url or masked(url) == url:
        return
    for job_dir in job_dirs:
        for copy in (job_dir / ".hydra").glob("**/*.yaml"):
            text = copy.read_text()
            if (hidden := masked_in(text, url)) != text:
                copy.write_text(hidden)


def changed_since_start(study: optuna.Study, attribute: str, now: dict) -> tuple[dict, list[str]]:
    """(what the study's first start kept under `attribute`, the keys whose values differ now); a new study, or one
    begun before it was kept, keeps `now`."""
    started = study.user_attrs.get(attribute)
    if started is None:
        study.set_user_attr(attribute, now)
        return now, []
    return started, [k for k in sorted({*started, *now}) if started.get(k) != now.get(k)]


def check_same_fixed_settings(study: optuna.Study, fixed: dict[str, str]) -> None:
    """A study's trials compare only under the same fixed settings (epochs, data, ...): a start with others is refused."""
    started, changed = changed_since_start(study, FIXED, fixed)
    if changed:
        differ = [f"{k}={started.get(k, '<unset>')} (study) vs {fixed.get(k, '<unset>')} (now)" for k in changed]
        raise UserError(
            f"study {study.study_name} was started with other fixed settings, so its trials would not compare: "
            f"{'; '.join(differ)}; continue it with the same settings, or start another with hydra.sweeper.study_name=<name>"
        )


def check_same_search_space(study: optuna.Study, distributions: dict[str, BaseDistribution]) -> None:
    """A second start samples the study's own space: another one (a wider choice) breaks its sampler's history."""
    _, changed = changed_since_start(study, SPACE, {name: distribution_to_json(d) for name, d in distributions.items()})
    if changed:
        raise UserError(
            f"study {study.study_name} was started with another search space ({', '.join(changed)} differ); continue it "
            "with the same hydra.sweeper.params, or start another with hydra.sweeper.study_name=<name>"
        )


def fail_abandoned_trials(study: optuna.Study) -> int:
    """RUNNING trials of processes of this machine that have ended (killed) are FAIL: they will not finish."""
    host = socket.gethostname()
    abandoned = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(RuntimeError, ValueError):  # another worker told it first
                study.tell(trial.number, state=TrialState.FAIL)
                abandoned.append(trial.number)
    mark_abandoned(study, abandoned)
    return len(abandoned)


def mark_abandoned(study: optuna.Study, numbers: list[int]) -> None:
    """Trials that did not end on their own (a killed process, a job SLURM stopped): not counted, so they are replaced."""
    if numbers:
        study.set_user_attr(ABANDONED, sorted({*study.user_attrs.get(ABANDONED, []), *numbers}))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def trials_counted(study: optuna.Study) -> int:
    """Trials toward n_trials: finished ones and those running now, not the ones a killed process abandoned."""
    abandoned = set(study.user_attrs.get(ABANDONED, []))
    return sum(1 for t in study.get_trials(deepcopy=False) if t.number not in abandoned)


def record(study: optuna.Study, trial: optuna.Trial, value: float | None) -> bool:
    """`value` into the study, or the trial FAIL when None; whether it has a value."""
    try:
        study.tell(trial, value) if value is not None else study.tell(trial, state=TrialState.FAIL)
    except RuntimeError as exc:  # GridSampler stops the study after the grid's last point, outside optimize()
        if "`Study.stop` is supposed to be invoked" not in str(exc):
            raise
    return value is not None


def distribution(override: Override) -> BaseDistribution | str:
    """A sweep override's Optuna distribution, read as hydra-optuna-sweeper reads it, or a fixed value's text."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
            return DiscreteUniformDistribution(value.start, value.stop, value.step)
        return IntUniformDistribution(int(value.start), int(value.stop), step=int(value.step))
    if override.is_interval_sweep():
        ints = isinstance(value.start, int) and isinstance(value.end, int)
        if "log" in value.tags:
            return IntLogUniformDistribution(value.start, value.end) if ints else LogUniformDistribution(value.start, value.end)
        return IntUniformDistribution(value.start, value.end) if ints else UniformDistribution(value.start, value.end)
    raise UserError(f"{override.input_line}: the Optuna search takes choice(...), range(...) or interval(...) sweeps")


def grid_choices(name: str, d: BaseDistribution) -> list:
    """The points of a discrete distribution, for the grid sampler (as hydra-optuna-sweeper builds them)."""
    if isinstance(d, CategoricalDistribution):
        return list(d.choices)
    if isinstance(d, IntUniformDistribution):
        return list(range(d.low, d.high, d.step))
    if isinstance(d, DiscreteUniformDistribution):
        return [d.low + i * d.q for i in range(int((d.high - d.low) // d.q))]
    raise UserError(f"hydra.sweeper.params.{name}: the grid sampler takes choice(...) or range(...) only")


class ResumableOptunaSearch:
    """hydra-optuna-sweeper's settings (conf/hydra/sweeper/optuna_resumable.yaml), run as described above."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float = 1.0,
        search_space: Any = None,
        custom_search_space: str | None = None,
        params: Any = None,
    ) -> None:
        if search_space or custom_search_space:
            raise UserError("hydra.sweeper.search_space and custom_search_space are not supported; use hydra.sweeper.params")
        self.sampler, self.direction, self.storage, self.study_name = sampler, direction, storage, study_name
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.params = params or {}

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def search_space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
        parsed = OverridesParser.create().parse_overrides([*(f"{k}={v}" for k, v in self.params.items()), *arguments])
        distributions, fixed = {}, {}
        for override in parsed:
            try:
                d = distribution(override)
            except ValueError as exc:  # Optuna's word for bounds it cannot sample, e.g. a log interval from 0
                raise UserError(f"{override.input_line}: {first_line(exc)}") from None
            (distributions if isinstance(d, BaseDistribution) else fixed)[override.get_key_element()] = d
        return {name: d for name, d in distributions.items() if name not in fixed}, fixed

    def directions(self) -> list[str]:
        given = self.direction if OmegaConf.is_list(self.direction) or isinstance(self.direction, list) else [self.direction]
        directions = [getattr(d, "name", d) for d in given]
        require(
            len(directions) == 1 and directions[0] in ("minimize", "maximize"),
            f"hydra.sweeper.direction must be one direction, minimize or maximize; got {', '.join(map(str, directions))}",
        )
        return directions

    @user_errors_exit()
    def sweep(self, arguments: list[str]) -> None:
        require_int("hydra.sweeper.n_trials", self.n_trials)
        require_int("hydra.sweeper.n_jobs", self.n_jobs, why=" (trials asked for at once)")
        rate = self.max_failure_rate
        require(is_number(rate) and 0 <= rate <= 1, f"hydra.sweeper.max_failure_rate must be in [0, 1]; got {rate!r}")
        distributions, fixed = self.search_space(arguments)
        require(
            "resume" not in fixed,
            "resume=latest is for a grid sweep; an Optuna search continues its study when the same command is run again "
            "without it (a killed process's trials are marked failed and replaced)",
        )
        n_trials = self.n_trials
        if isinstance(self.sampler, functools.partial) and self.sampler.func == optuna.samplers.GridSampler:
            # as the plugin does: the grid is built from the search space, and n_trials is at most its size
            grid = {name: grid_choices(name, d) for name, d in distributions.items()}
            self.sampler = self.sampler(grid)
            n_trials = min(n_trials, math.prod(len(choices) for choices in grid.values()))
        if not sys.stderr.isatty():  # optuna 2.10 colours its lines even in a log file: Hydra's log handler writes them plain
            optuna.logging.disable_default_handler()
            optuna.logging.enable_propagation()
        study = optuna.create_study(
            study_name=self.study_name,
            storage=open_storage(self.storage),
            sampler=self.sampler,
            directions=self.directions(),
            load_if_exists=True,
        )
        check_same_fixed_settings(study, {k: v for k, v in fixed.items() if not k.lstrip("+~").startswith(MAY_CHANGE)})
        check_same_search_space(study, distributions)
        abandoned = fail_abandoned_trials(study)
        done = trials_counted(study)
        if done and hasattr(self.sampler, "reseed_rng"):
            self.sampler.reseed_rng()  # joining a study: do not replay the samples of the start that began it
        log.info(
            f"Study {study.study_name} in {masked(self.storage)}: {done} of {n_trials} trials done or running"
            + (f", {abandoned} abandoned by killed processes marked FAIL" if abandoned else "")
            + (f"; a higher hydra.sweeper.n_trials (e.g. {2 * n_trials}) continues it" if done >= self.n_trials else "")
        )
        sweep_dir = Path(self.config.hydra.sweep.dir)
        while (to_go := n_trials - trials_counted(study)) > 0:
            trials = [study.ask(fixed_distributions=distributions) for _ in range(min(self.n_jobs, to_go))]
            for trial in trials:
                trial.set_user_attr("worker", WORKER)
            returns = []
            # a launch per run of consecutive trial numbers (number - position is constant along one): jobs numbered as trials
            for _, group in itertools.groupby(enumerate(trials), key=lambda it: it[1].number - it[0]):
                run = [t for _, t in group]
                numbers = range(run[0].number, run[0].number + len(run))
                # the search space's order, whatever order the storage gives the parameters back in
                jobs = [
                    tuple(f"{name}={value}" for name, value in {**{n: t.params[n] for n in distributions}, **fixed}.items())
                    for t in run
                ]
                try:
                    returns += self.launcher.launch(jobs, initial_job_idx=numbers[0])
                except Exception as exc:
                    stopped_jobs.wait_for_stopped_batch(exc, self.config, sweep_dir)  # none of the batch stays RUNNING
                    if stopped_jobs.stopped_by_cluster(exc):
                        self.tell_stopped_batch(study, trials, returns, sweep_dir)
                    mask_saved_copies([sweep_dir / str(t.number) for t in trials], self.storage)
                    self.write_results(study)
                    stopped_jobs.report_stopped_jobs(exc, self.config, sweep_dir, numbers, stopped_jobs.SEARCH_HINT)
                    raise
            failed = sum(not self.tell(study, trial, ret) for trial, ret in zip(trials, returns))
            mask_saved_copies([sweep_dir / str(t.number) for t in trials], self.storage)
            if failed / len(trials) > self.max_failure_rate:  # as hydra-optuna-sweeper counts: per batch of n_jobs
                self.write_results(study)
                stopped_jobs.end_sweep(  # the summary first: Hydra calls no callback after a sweeper raises
                    self.config,
                    f"error: {failed} of {len(trials)} trials failed, more than hydra.sweeper.max_failure_rate={rate} "
                    "allows (each one's reason is above)",
                    2,
                )
        self.write_results(study)
        if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
            message = f"error: no trial of study {study.study_name} completed (each failed trial's reason is above)"
            stopped_jobs.end_sweep(self.config, message, 2)

    @staticmethod
    def tell(study: optuna.Study, trial: optuna.Trial, ret: Any) -> bool:
        """The job's `return_value` into the study, or the trial failed; whether it has a value."""
        try:
            value = float(stopped_jobs.job_value(ret))
            if not math.isfinite(value):
                log.warning(f"trial {trial.number} failed: its value is {value}")
                value = None
        except Exception as exc:  # noqa: BLE001 - the job failed: record it and go on
            log.warning(f"trial {trial.number} failed: {first_line(exc)}")
            value = None
        return record(study, trial, value)

    def tell_stopped_batch(self, study: optuna.Study, trials: list, returns: list, sweep_dir: Path) -> None:
        """After a job SLURM stopped: the trials the launcher returned as usual; the others COMPLETE with their finished
        job's value (metrics.json), or FAIL where it did not finish, replaced by the next start as a killed process's."""
        for trial, ret in zip(trials, returns):
            self.tell(study, trial, ret)
        stopped = []
        for trial in trials[len(returns) :]:
            job_dir = sweep_dir / str(trial.number)
            if (state := job_state(job_dir)) is None:
                value = json.loads((job_dir / "metrics.json").read_text())["best_val_loss"]
                self.tell(study, trial, SimpleNamespace(return_value=value))
            else:
                log.warning(f"trial {trial.number} failed: it did not finish ({state})")
                record(study, trial, None)
                stopped.append(trial.number)
        mark_abandoned(study, stopped)

    def write_results(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        abandoned = set(study.user_attrs.get(ABANDONED, []))
        results = {"name": "optuna", "study_name": study.study_name, "n_trials": len(trials), "storage": masked(self.storage)}
        if any(t.state == TrialState.COMPLETE for t in trials):
            best = study.best_trial
            results.update(best_trial=best.number, best_params=best.params, best_value=best.value)
            log.info(f"Best parameters: {best.params}; best value: {best.value}")
        results["trials"] = [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
            | ({"abandoned": True} if t.number in abandoned else {})
            for t in trials
        ]
        OmegaConf.save(OmegaConf.create(results), Path(self.config.hydra.sweep.dir) / "optimization_results.yaml")
