"""Where the rows come from: a source is one function returning a `Table`, named by `data.source._target_`; adding a
dataset is one such function and one YAML file in conf/data/ (docs/extending_data.md)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from palmerpenguins import load_penguins
from sklearn.datasets import fetch_california_housing, get_data_home, load_breast_cancer

from src.data.readers import read_table_file
from src.errors import UserError, first_line, require
from src.models.nets.build import check_settings, project_class


@dataclass
class Table:
    """The raw table: feature columns and the target column, one row per example, as they come."""

    frame: pd.DataFrame
    target: str | None  # the column to predict; None: the config must name it (data.target)
    name: str  # how messages name the data: a dataset's name or a file's path
    task: str | None = None  # regression | binary | multiclass when the source knows; None: inferred from the target
    class_labels: list[str] | None = None  # a target stored as codes 0..n-1: the label of each code

    @property
    def x(self) -> np.ndarray:
        """The lesson's feature matrix (float64), for an all-numeric table."""
        return self.frame.drop(columns=self.target).to_numpy(dtype=np.float64)

    @property
    def y(self) -> np.ndarray:
        return self.frame[self.target].to_numpy(dtype=np.float64)


def source_function(source: dict) -> Callable[..., Table]:
    """The function `source` names: only functions of this project (src.) are called from a config or a checkpoint."""
    target = source.get("_target_")
    if not isinstance(target, str) or not target.startswith("src."):
        raise UserError(
            f"data.source._target_ must name a function of this project, e.g. src.data.sources.read_file; got {target!r}"
        )
    function = project_class(target, "data.source._target_")  # a module that fails to import: its own error
    require(callable(function), f"data.source._target_ names no function of this project: {target}")
    check_settings(function, source, "data.source", target)
    return function


def breast_cancer() -> Table:
    """The lesson's binary classification table (ships inside scikit-learn: works offline)."""
    bunch = load_breast_cancer(as_frame=True)
    return Table(bunch.frame, "target", "breast_cancer", task="binary", class_labels=[str(n) for n in bunch.target_names])


def california_housing(data_home: str | None = None, download: bool = True) -> Table:
    """The lesson's regression table, from scikit-learn's cache (`data_home`, else $SCIKIT_LEARN_DATA)."""
    require(isinstance(download, bool), f"data.source.download must be true or false; got {download!r}")
    home = get_data_home(data_home or None)  # None: scikit-learn's own choice, $SCIKIT_LEARN_DATA or ~/scikit_learn_data
    try:
        with warnings.catch_warnings():  # its "Retry downloading from url" lines: the one error below says it failed
            warnings.filterwarnings("ignore", "Retry downloading", UserWarning)
            bunch = fetch_california_housing(data_home=home, download_if_missing=download, as_frame=True)
    except OSError as exc:  # no cache file, and either download=false or no network (URLError is an OSError)
        failed = first_line(getattr(exc, "reason", None) or exc)[:120]
        reason = "downloads are off (data.source.download=false)" if not download else f"the download failed ({failed})"
        raise UserError(
            f"California housing is not in scikit-learn's cache at {home} and {reason}; point SCIKIT_LEARN_DATA "
            "(or data.source.data_home) at a folder holding cal_housing_py3.pkz, or run experiment=cancer"
        ) from None
    return Table(bunch.frame, "MedHouseVal", "california_housing", task="regression")


def penguins() -> Table:
    """Palmer penguins (from the `palmerpenguins` package): 344 rows, two text columns, missing values, three classes."""
    return Table(load_penguins(), "species", "penguins")


def read_file(path: str, target: str | None = None) -> Table:
    """A user's CSV (with a header row) or Parquet file; `data=csv data.path=... data.target=...` points here."""
    return Table(read_table_file(path), target, str(path))
