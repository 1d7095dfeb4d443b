"""Column kinds, decided once on the training rows: numbers are numeric, text and booleans categorical, ISO dates dates,
identifiers (nearly one distinct text per row, row numbers, pandas' index) ignored; `data.categorical`, `data.numeric`
and `data.drop` override any choice."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from src.data.readers import ZERO_PADDED, is_missing_spelling, listed, missing_text_mask, reads_as_number
from src.errors import UserError

KINDS = ("numeric", "categorical", "date", "ignored", "dropped")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
NUMBER_SHARE = 0.9  # a text column this much numbers is a numeric column with a few bad cells, named as errors
MOSTLY_NUMBERS = 0.75  # a text column this much numbers but less than NUMBER_SHARE is refused until given a kind
IDENTIFIER_SHARE = 0.5  # distinct values per (non-missing) training row above which text is an identifier
IDENTIFIER_MIN_VALUES = 10
ROW_NUMBER_MIN_VALUES = 20  # rows at least, for whole numbers stepping evenly down the file to be a row number
ID_NAME = re.compile(r"(^|[_ ])(id|ID|Id)$|[a-z](Id|ID)$")  # id, customer_id, PassengerId, CustomerID; not paid or valid
COMMA_NUMBER = re.compile(r"[-+]?\d[\d.]*,\d+")  # 3,14 or 1.234,5 (decimal commas), 1,000 (thousands separators)


def infer_column_kinds(
    frame: pd.DataFrame,
    features: list[str],
    train_rows: np.ndarray,
    categorical: list[str],
    numeric: list[str],
    drop: list[str],
    name: str,
) -> dict[str, str]:
    """{column: kind} for every feature column, in table order, from the training rows only."""
    kinds = dict.fromkeys(numeric, "numeric") | dict.fromkeys(categorical, "categorical") | dict.fromkeys(drop, "dropped")
    for column in features:
        if column not in kinds:
            # the file's layout, not a statistic: every row counts; a blank header over empty cells: a delimiter ending each line
            index = column in frame.attrs.get("pandas_index", ())
            layout = is_row_number(frame[column], column, index) or (
                column.startswith("Unnamed: ") and frame[column].isna().all()
            )
            kinds[column] = "ignored" if layout else infer_kind(frame[column].iloc[train_rows], column, name)
    return {column: kinds[column] for column in features}  # in table order


def infer_kind(values: pd.Series, column: str, name: str) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    cells = values.dropna()
    if len(cells) and isinstance(cells.iloc[0], (list, tuple, dict, np.ndarray)):  # a Parquet list or struct column
        held = "records" if isinstance(cells.iloc[0], dict) else "lists"
        raise UserError(
            f"column {column!r} of {name} holds {held}, not one number, text or date per cell; "
            f"leave it out with data.drop={override_list(column)}"
        )
    text = cells.astype(str).str.strip()
    text = text[~missing_text_mask(text)]
    if len(text) == 0:
        raise UserError(
            f"column {column!r} of {name} has no values in the training rows (all {len(values)} missing); "
            f"leave it out with data.drop={override_list(column)}"
        )
    numbers = pd.to_numeric(text, errors="coerce").notna()
    share = 0.0 if text.str.match(ZERO_PADDED).any() else numbers.mean()  # '007', as the reader keeps it: codes
    if share >= NUMBER_SHARE:
        return "numeric"  # a number column with a stray word: the numeric check names its row
    check_no_comma_numbers(text, f"column {column!r} of {name}")
    if share >= MOSTLY_NUMBERS:  # numbers with placeholder words, or text: not for us to guess which
        raise UserError(
            f"column {column!r} of {name} is {share:.0%} numbers and {1 - share:.0%} text (e.g. "
            f"{text[~numbers].iloc[0]!r}) in the training rows: write those cells as numbers or leave them empty, or give "
            f"the column a kind: data.categorical={override_list(column)} or data.drop={override_list(column)}"
        )
    if text.str.match(ISO_DATE).all():
        return "date"
    distinct = text.nunique()
    if distinct >= IDENTIFIER_MIN_VALUES and distinct >= IDENTIFIER_SHARE * len(text):
        return "ignored"
    return "categorical"


def check_no_comma_numbers(text: pd.Series, what: str) -> None:
    """Numbers written with a comma read as text: as categories or class labels they would train a nonsense model."""
    commas = text.str.fullmatch(COMMA_NUMBER)
    # numbers over 999 with a thousands separator and the others without it are numbers too
    if commas.any() and (commas | pd.to_numeric(text, errors="coerce").notna()).mean() >= NUMBER_SHARE:
        raise UserError(
            f"{what} holds numbers written with a comma ({text[commas].iloc[0]!r}): write the file with decimal points and "
            "no thousands separators (pandas: to_csv(..., decimal='.'))"
        )


def is_row_number(values: pd.Series, column: str, index: bool = False) -> bool:
    """A row number or an ID, not a quantity: whole numbers stepping evenly down the file (1, 2, 3, ...), or distinct
    whole numbers under a blank header, an ID-like name (ID_NAME) or as pandas' index (`index`, `__index_level_0__`)."""
    if not pd.api.types.is_integer_dtype(values) or len(values) < ROW_NUMBER_MIN_VALUES or values.isna().any():
        return False
    if index or column.startswith(("Unnamed: ", "__index_level_")) or ID_NAME.search(column):
        return values.is_unique
    steps = np.diff(values.to_numpy(dtype=np.int64))
    return bool(steps[0] != 0 and np.all(steps == steps[0]))


def category_key(value) -> str | None:
    """The text a category is known by: numbers in one spelling (4, 4.0 and "4" are one category), text stripped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return None if np.isnan(value) else number_text(float(value))
    text = str(value).strip()
    if is_missing_spelling(text):
        return None
    if re.match(ZERO_PADDED, text):  # '007' is a code, kept as written (as the reader keeps its column's text)
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return number_text(number) if np.isfinite(number) else text


def typed_spelling(key: str) -> str:
    """How a training CSV read by pyarrow, which types true/TRUE as booleans and ISO dates as timestamps, spells the
    text `key` that predict reads: True, or 2024-03-01 00:00:00."""
    if key.lower() in ("true", "false"):
        return key.capitalize()
    moment = pd.to_datetime(key, errors="coerce") if ISO_DATE.match(key) else pd.NaT
    return key if moment is pd.NaT else str(moment)


def number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def factorized_keys(values: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Each row's index into a list of distinct keys (-1: missing): one Python call per distinct value, not per row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, [category_key(u) for u in uniques]


def sorted_labels(keys) -> list[str]:
    """Numeric order when every key is a number, else alphabetical."""
    keys = sorted(set(keys))
    try:
        return sorted(keys, key=float)
    except ValueError:
        return keys


def describe_columns(kinds: dict[str, str], vocabularies: dict[str, list[str]], identifiers: dict[str, list]) -> str:
    """The one line a run prints about its columns, e.g.
    feature columns: 4 numeric, 2 categorical (island: 3 values, sex: 2), 1 ignored (Name: 301 distinct values in 392 rows, ...)"""
    by_kind = {kind: [c for c, k in kinds.items() if k == kind] for kind in KINDS}
    parts = [f"{len(by_kind['numeric'])} numeric"]
    if by_kind["categorical"]:
        shown = [f"{c}: {len(vocabularies[c])}" + (" values" if i == 0 else "") for i, c in enumerate(by_kind["categorical"][:8])]
        more = ", ..." if len(by_kind["categorical"]) > 8 else ""
        parts.append(f"{len(by_kind['categorical'])} categorical ({', '.join(shown)}{more})")
    if by_kind["date"]:
        parts.append(f"{len(by_kind['date'])} date ({listed(by_kind['date'], 8)}: year, month, day of year and day of week)")
    if by_kind["ignored"]:
        shown = [
            f"{c}: no header and no values"
            if identifiers[c][1] == 0
            else f"{c}: {identifiers[c][0]} distinct values in {identifiers[c][1]} rows, looks like an identifier; "
            f"data.{identifiers[c][2]}={override_list(c)} keeps it"
            for c in by_kind["ignored"][:3]
        ]
        more = by_kind["ignored"][3:]  # a wide table's many text columns: named, not each explained
        shown += [f"and {listed(more, 8)}, likewise"] if more else []
        parts.append(f"{len(by_kind['ignored'])} ignored ({'; '.join(shown)})")
    if by_kind["dropped"]:
        parts.append(f"{len(by_kind['dropped'])} dropped by data.drop ({', '.join(by_kind['dropped'])})")
    return "feature columns: " + ", ".join(parts)


def override_list(column: str) -> str:
    """A one-column list as a Hydra override writes it: quoted where Hydra would not read the name as plain text."""
    plain = (
        re.fullmatch(r"[A-Za-z0-9_.\-]+", column)
        and not reads_as_number(column)
        and column.lower() not in ("true", "false", "null")
    )
    return f"[{column}]" if plain else f"['{column}']"
