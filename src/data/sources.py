"""Where the rows come from: scikit-learn's bundled and cached datasets, or a user's CSV."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.errors import UserError


@dataclass
class Table:
    """Features and target as float64 arrays, with the names a checkpoint must remember."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    task: str  # "regression" or "binary"
    class_labels: list[str] = field(default_factory=list)  # binary: original label of class 0 and 1


def load_breast_cancer_table() -> Table:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Table(
        x=bunch.data.astype(np.float64),
        y=bunch.target.astype(np.float64),
        feature_names=[str(n) for n in bunch.feature_names],
        target_name="target",
        task="binary",
        class_labels=[str(n) for n in bunch.target_names],
    )


def load_california_housing_table(data_home: str | None, download: bool) -> Table:
    from sklearn.datasets import fetch_california_housing, get_data_home

    home = get_data_home(data_home)
    try:
        bunch = fetch_california_housing(data_home=data_home, download_if_missing=download)
    except OSError as exc:  # no cache file, and either download=false or no network (URLError is an OSError)
        hint = "point SCIKIT_LEARN_DATA (or data.data_home) at a folder holding cal_housing_py3.pkz, or run experiment=cancer"
        reason = "downloads are off (data.download=false)" if not download else f"the download failed ({_short(exc)})"
        raise UserError(f"California housing is not in scikit-learn's cache at {home} and {reason}; {hint}") from None
    return Table(
        x=bunch.data.astype(np.float64),
        y=bunch.target.astype(np.float64),
        feature_names=[str(n) for n in bunch.feature_names],
        target_name="MedHouseVal",
        task="regression",
    )


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).splitlines()[0][:120] if str(reason) else type(exc).__name__


def load_table(name: str, data_home: str | None = None, download: bool = True) -> Table:
    """Load a built-in dataset by its config name."""
    if data_home is None:
        data_home = os.environ.get("SCIKIT_LEARN_DATA")
    if name == "breast_cancer":
        return load_breast_cancer_table()
    if name == "california_housing":
        return load_california_housing_table(data_home, download)
    raise UserError(f"data.name must be one of breast_cancer, california_housing, csv; got {name!r}")


def describe_source(name: str, path: str | None) -> str:
    return Path(path).name if name == "csv" and path else name
