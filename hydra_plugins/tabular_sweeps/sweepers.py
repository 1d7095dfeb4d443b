"""Thin plugin classes; see src/sweeps/sweeper.py and src/sweeps/optuna_search.py."""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.plugins.sweeper import Sweeper


class FoldsAndSeedsSweeper(BasicSweeper):
    """Hydra's basic sweeper, with `cv.folds=K` and `seeds=N` standing for their sweeps."""

    def sweep(self, arguments: list[str]) -> Any:
        from src.sweeps.sweeper import shorthand_sweeps

        return super().sweep([*arguments, *shorthand_sweeps(self.config, arguments)])


class ResumableOptunaSweeper(Sweeper):
    """hydra-optuna-sweeper's settings, with a search that continues its study (src/sweeps/optuna_search.py)."""

    def __init__(self, **settings: Any) -> None:
        from src.sweeps import optuna_search  # optuna loads only when a search runs

        self.sweeper = optuna_search.ResumableOptunaSweeperImpl(**settings)

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
