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


def load_csv_table(path: str, target: str, task: str, features: list[str] | None = None) -> Table:
    """A user's CSV: a header row, numeric feature columns; the target numeric (regression) or two labels (binary)."""
    import pandas as pd

    file = Path(path)
    if file.is_dir():
        raise UserError(f"data.path {path} is a folder; give a CSV file")
    if not file.is_file():
        raise UserError(f"data.path: no such file: {path}")
    try:
        # every cell as text, so a stray word is reported where it is instead of turning the column into objects
        frame = pd.read_csv(file, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: expected a header row with the column names, then one row per example") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV: {str(exc).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    columns = list(frame.columns)
    if all(_is_number(c) for c in columns):
        raise UserError(f"{path} has no header: its first row is numbers ({_listed(columns, 5)}); add a row with the column names")
    if target not in columns:
        raise UserError(f"data.target {target!r} is not a column of {path} (columns: {_listed(columns)})")
    if features is None:
        features = [c for c in columns if c != target]
    unknown = [f for f in features if f not in columns]
    if unknown:
        raise UserError(f"data.features {', '.join(map(repr, unknown))} not in {path} (columns: {_listed(columns)})")
    if target in features:
        raise UserError(f"data.features includes the target {target!r}; a model cannot be given its own answer")
    if not features:
        raise UserError(f"data.features is empty: {path} needs at least one feature column besides {target!r}")
    if len(frame) == 0:
        raise UserError(f"{path} has a header but no rows")

    hint = "" if len(features) < len(columns) - 1 else "; list the numeric feature columns in data.features=[...]"
    x = np.column_stack([_numeric_column(frame[c], f"column {c!r} of {path}", hint) for c in features])
    if task == "binary":
        y, class_labels = _binary_target(frame[target], f"data.target {target!r} of {path}")
    else:
        y, class_labels = _numeric_column(frame[target], f"data.target {target!r} of {path}"), []
    return Table(x=x, y=y, feature_names=list(features), target_name=target, task=task, class_labels=class_labels)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _listed(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _numeric_column(column, what: str, hint: str = "") -> np.ndarray:
    """The column as float64; a word names its first row, empty or infinite cells are counted (rows are 1-based)."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    missing = column.isna()
    not_numbers = values.isna() & ~missing
    if not_numbers.any():
        row = int(np.argmax(not_numbers.to_numpy()))
        raise UserError(f"{what} is not numeric: row {row + 1} holds {column.iloc[row]!r}{hint}")
    values = values.to_numpy(dtype=np.float64)
    infinite = int(np.isinf(values).sum())
    if missing.any() or infinite:
        raise UserError(
            f"{what} has {int(missing.sum()) + infinite} missing or infinite values "
            f"({int(missing.sum())} NaN or empty, {infinite} infinite); fill or drop those rows first"
        )
    return values


def _binary_target(column, what: str) -> tuple[np.ndarray, list[str]]:
    """0/1 in the order of the labels (numeric order when every label is a number, else alphabetical)."""
    if column.isna().any():
        raise UserError(f"{what} has {int(column.isna().sum())} empty or NaN labels; fill or drop those rows first")
    labels = column.str.strip()
    if all(_is_number(v) for v in labels.unique()):
        numbers = labels.astype(np.float64)
        if not np.isfinite(numbers).all():
            raise UserError(f"{what} has {int((~np.isfinite(numbers)).sum())} infinite or NaN labels; fill or drop those rows first")
        labels = numbers.map(lambda v: f"{v:g}")
        distinct = sorted(labels.unique(), key=float)
    else:
        distinct = sorted(labels.unique())
    if len(distinct) != 2:
        raise UserError(
            f"{what} must hold exactly two distinct labels for data.task=binary; got {len(distinct)}: {_listed(distinct, 5)}"
        )
    return (labels == distinct[1]).to_numpy(dtype=np.float64), distinct


def select_features(table: Table, features: list[str] | None, source: str) -> Table:
    """Keep the named feature columns of a built-in table, in the given order."""
    if features is None:
        return table
    unknown = [f for f in features if f not in table.feature_names]
    if unknown or not features:
        raise UserError(f"data.features {list(features)} must name columns of {source} (columns: {_listed(table.feature_names)})")
    index = [table.feature_names.index(f) for f in features]
    return Table(table.x[:, index], table.y, list(features), table.target_name, table.task, table.class_labels)


def load_table(
    name: str,
    data_home: str | None = None,
    download: bool = True,
    path: str | None = None,
    target: str | None = None,
    task: str | None = None,
    features: list[str] | None = None,
) -> Table:
    """Load a built-in dataset by its config name, or a CSV (name csv) with its path, target column and task."""
    if name == "csv":
        return load_csv_table(path, target, task, features)
    if data_home is None:
        data_home = os.environ.get("SCIKIT_LEARN_DATA")
    if name == "breast_cancer":
        table = load_breast_cancer_table()
    elif name == "california_housing":
        table = load_california_housing_table(data_home, download)
    else:
        raise UserError(f"data.name must be one of breast_cancer, california_housing, csv; got {name!r}")
    if task is not None and task != table.task:
        raise UserError(f"data.task={task} does not fit {name}, whose target is {table.task}; leave data.task as it is")
    if target is not None and target != table.target_name:
        raise UserError(f"data.target={target!r} does not fit {name}, whose target is {table.target_name!r}; use data=csv for other tables")
    return select_features(table, features, name)


def describe_source(name: str, path: str | None) -> str:
    return Path(path).name if name == "csv" and path else name
