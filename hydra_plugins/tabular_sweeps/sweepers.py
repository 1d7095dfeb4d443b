"""This project's sweepers, on Hydra's public plugin API; see src/sweeps/sweeper.py and src/sweeps/optuna_search.py."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from src.errors import UserError
from src.sweeps import stopped_jobs
from src.sweeps.sweeper import shorthand_sweeps


class FoldsAndSeedsSweeper(Sweeper):
    """Hydra's basic sweeper (every combination of the swept values, in batches of max_batch_size jobs), with
    `cv.folds=K` and `seeds=N` standing for their sweeps."""

    def __init__(self, max_batch_size: int | None = None, params: Any = None) -> None:
        self.max_batch_size, self.params = max_batch_size, params or {}

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        arguments = [*(f"{k}={v}" for k, v in self.params.items()), *arguments]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)  # glob(...) reads config groups
        parsed = parser.parse_overrides([*arguments, *shorthand_sweeps(self.config, arguments)])
        choices: dict[str, list[str]] = {}  # a key given twice: the last one counts, as in Hydra's basic sweeper
        for override in parsed:
            key = override.get_key_element()
            values = override.sweep_string_iterator() if override.is_sweep_override() else [override.get_value_element_as_str()]
            choices[key] = [f"{key}={value}" for value in values]
        jobs = [list(job) for job in itertools.product(*choices.values())]
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")  # resume=latest finds the sweep by it
        size = self.max_batch_size or len(jobs)  # itertools.product gives one job at least
        returns, refused, diverged = [], {}, []
        for first in range(0, len(jobs), size):
            batch = jobs[first : first + size]
            self.validate_batch_is_legal(batch)
            try:
                results = self.launcher.launch(batch, initial_job_idx=first)
            except KeyboardInterrupt:  # Ctrl+C reached this process while other processes ran the jobs (joblib)
                stopped_jobs.report_interrupted_sweep(self.config)  # exits
            except SystemExit as exc:  # a job run in this process (the basic launcher) stopped on a signal: 130, 143
                if stopped_jobs.by_signal(exc):
                    stopped_jobs.report_interrupted_sweep(self.config, exc.code)  # exits
                raise
            except Exception as exc:
                stopped_jobs.wait_for_stopped_batch(exc, self.config, sweep_dir)
                stopped_jobs.report_stopped_jobs(exc, self.config, sweep_dir, range(first, first + len(batch)))  # exits if so
                raise
            for number, result in enumerate(results, start=first):
                try:  # a failed job's exception is raised here, as by Hydra's basic sweeper
                    value = stopped_jobs.job_value(result)
                    if isinstance(value, float) and not math.isfinite(value):  # best val_loss: it never had a model
                        diverged.append(number)
                except UserError as exc:  # a job's mistake: the other jobs go on
                    refused[number] = exc
            returns.append(results)
        if refused:
            stopped_jobs.report_refused_jobs(self.config, refused, len(jobs))  # exits
        if diverged:
            stopped_jobs.report_diverged_jobs(self.config, diverged, len(jobs))  # exits
        return returns


class ResumableOptunaSweeper(Sweeper):
    """hydra-optuna-sweeper's settings, with a search that continues its study (src/sweeps/optuna_search.py)."""

    def __init__(self, **settings: Any) -> None:
        from src.sweeps import optuna_search  # optuna loads only when a search runs

        self.search = optuna_search.ResumableOptunaSearch(**settings)

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.search.sweep(arguments)
