"""New rows to predict: a CSV with a header, checked against the features a model was trained on.

Columns are matched by name, so their order in the file does not matter. Every problem is a `UserError` that
names it: the file, the missing or unknown columns, or the column and row (1-based, not counting the header)
of the first value that is not a finite number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from src.errors import UserError

NAN_SPELLINGS = {"nan", "-nan", "+nan"}


def read_feature_csv(path: str | Path, feature_names: list[str]) -> np.ndarray:
    """The file's feature columns as float64, in the trained order: shape (rows, len(feature_names))."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    try:
        # header=None: pandas would silently rename a repeated column name ("age" -> "age.1")
        raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: expected a header with the feature names and one row per example") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV: {str(exc).strip().splitlines()[0]}") from None

    columns = [str(c).strip() for c in raw.iloc[0]]
    check_columns(path, columns, feature_names)
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = columns
    if len(frame) == 0:
        raise UserError(f"{path} has a header but no rows to predict")
    return np.column_stack([numeric_column(path, name, frame[name]) for name in feature_names])


def check_columns(path: Path, columns: list[str], feature_names: list[str]) -> None:
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise UserError(f"{path} has duplicated columns: {quoted(duplicated)}")
    missing = [name for name in feature_names if name not in columns]
    unknown = [name for name in columns if name not in feature_names]
    problems = []
    if missing:
        problems.append(f"missing feature columns: {quoted(missing)}")
    if unknown:
        problems.append(f"unknown columns (not features of the model; remove them): {quoted(unknown)}")
    if problems:
        raise UserError(f"{path}: {'; '.join(problems)} (the model takes {len(feature_names)} named features)")


def numeric_column(path: Path, name: str, raw) -> np.ndarray:
    import pandas as pd

    text = raw.fillna("").astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    empty = (text == "").to_numpy()
    if empty.any():
        raise UserError(f"{path}: column '{name}' has an empty value in row {first_row(empty)}")
    not_numbers = np.isnan(values) & ~text.str.lower().isin(NAN_SPELLINGS).to_numpy()
    if not_numbers.any():
        row = first_row(not_numbers)
        raise UserError(f"{path}: column '{name}' has a non-numeric value {text.iloc[row - 1]!r} in row {row}")
    not_finite = ~np.isfinite(values)
    if not_finite.any():
        raise UserError(
            f"{path}: column '{name}' has {int(not_finite.sum())} NaN or infinite value(s), first in row {first_row(not_finite)}"
        )
    return values


def quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1
