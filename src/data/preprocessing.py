"""What is learned from the training rows, as plain data a checkpoint carries. A row's inputs are laid out as
[transformed numerics and date features] [missing indicators (0/1)] [category codes as floats]; numerics are standardised
(data.feature_transform=standard) or first mapped through their training quantiles to a normal distribution (quantile)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from src.data.columns import factorized_keys, override_list, sorted_labels, typed_spelling
from src.data.readers import as_numbers, float_values, missing_text_mask, missing_values_error
from src.errors import UserError

UNKNOWN, MISSING = 0, 1  # the reserved category codes; a vocabulary's values take 2, 3, ...
DATE_FEATURES = ("year", "month", "day_of_year_sin", "day_of_year_cos", "day_of_week_sin", "day_of_week_cos")
CHUNK_ROWS = 1 << 16  # rows transformed at a time: bounds the float64 temporaries


def columns_of(state: dict[str, Any], kind: str) -> list[str]:
    return [c for c, k in state["columns"].items() if k == kind]


def prepare_columns(
    frame: pd.DataFrame, kinds: dict[str, str], rows: np.ndarray, missing: str, name: str, row_offset: int = 0
) -> None:
    """Turn text numbers and ISO dates into typed columns in place, checking every value of `rows`; the first bad
    value is named with its 1-based row (`row_offset` + position + 1)."""
    for column, kind in kinds.items():
        checked = None
        if kind == "numeric":
            checked = checked_numbers(frame[column], rows, column, name, missing, row_offset)
        elif kind == "date":
            checked = checked_dates(frame[column], rows, column, name, row_offset)
        if checked is not None:  # replaced only when converted: a float column is checked in place, not copied
            frame[column] = checked


def checked_numbers(
    values: pd.Series, rows: np.ndarray, column: str, name: str, missing: str, row_offset: int
) -> np.ndarray | None:
    what = f"column {column!r} of {name}"
    numbers, text = as_numbers(values)
    if text is not None:
        bad = np.isnan(numbers) & ~missing_text_mask(text).to_numpy()
        bad_rows = rows[bad[rows]]
        if bad_rows.size:
            row = int(bad_rows.min())
            raise UserError(
                f"{what} is not numeric: row {row + row_offset + 1} holds {text.iloc[row]!r}; fix that row, "
                f"or make it a category with data.categorical={override_list(column)}, or choose the columns with data.features=[...]"
            )
    taken = numbers[rows]
    nan, infinite = np.isnan(taken) & (missing == "refuse"), np.isinf(taken)  # NaN is imputed unless refused
    if (nan | infinite).any():
        first = int(rows[nan | infinite].min()) + row_offset + 1
        fix = "fill or drop those rows first" if missing == "refuse" else "replace them with numbers (empty cells are imputed)"
        raise missing_values_error(what, int(nan.sum()), int(infinite.sum()), first, fix)
    return None if text is None else numbers


def checked_dates(values: pd.Series, rows: np.ndarray, column: str, name: str, row_offset: int) -> pd.Series | None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return None
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    dates = pd.to_datetime(text.where(text != ""), format="ISO8601", errors="coerce")
    bad = (dates.isna() & (text != "")).to_numpy()
    bad_rows = rows[bad[rows]]
    if bad_rows.size:
        row = int(bad_rows.min())
        raise UserError(
            f"column {column!r} of {name} is not an ISO date (YYYY-MM-DD): row {row + row_offset + 1} holds {text.iloc[row]!r}"
        )
    return dates


def numeric_block(frame: pd.DataFrame, rows: np.ndarray, state: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Numeric and date features of `rows` as float64 (NaN where missing), and each source column's missing mask."""
    numeric, dates = columns_of(state, "numeric"), columns_of(state, "date")
    # column-major: each column is gathered into contiguous memory (the row-major copy is made once, where needed)
    block = np.empty((len(rows), len(numeric) + len(DATE_FEATURES) * len(dates)), dtype=np.float64, order="F")
    missing = {}
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and np.all(np.diff(rows) == 1):
        rows = slice(int(rows[0]), int(rows[-1]) + 1)  # consecutive rows: a view of each column, no gather
    for j, column in enumerate(numeric):
        block[:, j] = float_values(frame[column])[rows]
        missing[column] = np.isnan(block[:, j])
    for i, column in enumerate(dates):
        start = len(numeric) + len(DATE_FEATURES) * i
        block[:, start : start + len(DATE_FEATURES)] = date_features(frame[column].iloc[rows])
        missing[column] = np.isnan(block[:, start])
    return block, missing


def date_features(dates: pd.Series) -> np.ndarray:
    """Year, month, and day of year and of week as points on a circle (31 December sits next to 1 January)."""
    year, month, day_of_year, day_of_week = (
        getattr(dates.dt, part).to_numpy(dtype=np.float64, na_value=np.nan)
        for part in ("year", "month", "dayofyear", "dayofweek")
    )
    day_of_year, day_of_week = 2 * np.pi * (day_of_year - 1) / 366, 2 * np.pi * day_of_week / 7
    return np.column_stack([year, month, np.sin(day_of_year), np.cos(day_of_year), np.sin(day_of_week), np.cos(day_of_week)])


def quantile_transformer_from_state(quantiles: list[list[float]]) -> QuantileTransformer:
    """The fitted transformer again, from its quantiles (n_quantiles x n_features) as saved in a checkpoint."""
    table = np.asarray(quantiles, dtype=np.float64)
    transformer = QuantileTransformer(n_quantiles=table.shape[0], output_distribution="normal")
    transformer.quantiles_ = table
    transformer.references_ = np.linspace(0, 1, table.shape[0], endpoint=True)
    transformer.n_quantiles_ = table.shape[0]
    transformer.n_features_in_ = table.shape[1]
    return transformer


def fit_feature_transform(kind: str, x_train: np.ndarray) -> dict[str, Any]:
    """What `apply_feature_transform` needs, as plain lists: the quantiles (if any), then the scaler's mean and scale."""
    state: dict[str, Any] = {"quantiles": None, "scaler_mean": [], "scaler_scale": []}
    if x_train.shape[1] == 0:  # no numeric or date column: nothing to fit
        return state
    if kind == "quantile":
        n_quantiles = min(1000, x_train.shape[0])
        transformer = QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal", random_state=0).fit(x_train)
        state["quantiles"] = transformer.quantiles_.tolist()
        x_train = transformer.transform(x_train)
    scaler = StandardScaler().fit(x_train)
    state.update(scaler_mean=scaler.mean_.tolist(), scaler_scale=scaler.scale_.tolist())
    return state


def apply_feature_transform(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    if state.get("quantiles") is not None:
        x = quantile_transformer_from_state(state["quantiles"]).transform(x)
    return (x - np.asarray(state["scaler_mean"])) / np.asarray(state["scaler_scale"])


def fit_preprocessing(
    frame: pd.DataFrame, train_rows: np.ndarray, kinds: dict[str, str], feature_transform: str, name: str
) -> dict[str, Any]:
    """Medians, missing indicators, vocabularies and the feature transform, from the training rows only."""
    state: dict[str, Any] = {"columns": dict(kinds)}
    block, missing = numeric_block(frame, train_rows, state)
    block = np.ascontiguousarray(block)  # row-major as the lesson's matrix: the scaler's sums, to the last bit
    empty = np.isnan(block).all(axis=0)
    if empty.any():
        source = (columns_of(state, "numeric") + [c for c in columns_of(state, "date") for _ in DATE_FEATURES])[np.argmax(empty)]
        raise UserError(
            f"column {source!r} of {name} has no values in the training rows (all {len(block)} missing); "
            f"leave it out with data.drop={override_list(source)}"
        )
    medians = np.nanmedian(block, axis=0)  # also fills a hole that only validation, test or predict rows have
    np.copyto(block, medians, where=np.isnan(block))
    state["medians"] = medians.tolist()
    state["missing_indicators"] = [c for c, mask in missing.items() if mask.any()]
    state.update(fit_feature_transform(feature_transform, block))
    state["vocabularies"] = {c: fit_vocabulary(frame[c].iloc[train_rows], c, name) for c in columns_of(state, "categorical")}
    state["identifiers"] = {c: identifier_counts(frame[c].iloc[train_rows]) for c in columns_of(state, "ignored")}
    warn_of_constant_columns(block, frame[columns_of(state, "categorical")].iloc[train_rows], state, name)
    return state


def warn_of_constant_columns(block: np.ndarray, categories: pd.DataFrame, state: dict[str, Any], name: str) -> None:
    """Features with one value, never missing, in every training row (`block`: their numbers, holes filled) are kept, as
    the training results must not change; but a newcomer wants to know such a column is useless."""
    sources = columns_of(state, "numeric") + [c for c in columns_of(state, "date") for _ in DATE_FEATURES]
    varying = {c for c, spread in zip(sources, np.ptp(block, axis=0)) if spread > 0} | set(state["missing_indicators"])
    one_category = {c for c, vocabulary in state["vocabularies"].items() if len(vocabulary) == 1 and categories[c].notna().all()}
    columns = [c for c in state["columns"] if (c in sources and c not in varying) or c in one_category]
    if not columns:
        return
    one = len(columns) == 1
    drop = "[" + ",".join(override_list(c)[1:-1] for c in columns) + "]"
    named = f"column{'' if one else 's'} {', '.join(map(repr, columns))} of {name}"
    warnings.warn(
        f"{named} {'has' if one else 'have'} one value in every training row, which carries no information; "
        f"data.drop={drop} leaves {'it' if one else 'them'} out",
        UserWarning,
        stacklevel=3,
    )


def fit_vocabulary(values: pd.Series, column: str, name: str) -> list[str]:
    seen = [key for key in factorized_keys(values)[1] if key is not None]  # pandas' uniques: the values present
    if not seen:
        raise UserError(
            f"categorical column {column!r} of {name} has only missing values in the training rows; "
            f"leave it out with data.drop={override_list(column)}"
        )
    return sorted_labels(seen)


def identifier_counts(values: pd.Series) -> list:
    """[distinct values, rows with a value, the data.<kind> list that would keep the column] for the printed columns line."""
    keep_as = "numeric" if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) else "categorical"
    return [int(values.nunique()), int(values.count()), keep_as]


def category_codes(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """Codes: 0 unknown, 1 missing, 2.. the vocabulary."""
    codes, keys = factorized_keys(values)
    index = {key: i + 2 for i, key in enumerate(vocabulary)}
    # a value unknown as written may be known as training's typed read spelt it (True, a timestamp)
    per_key = [MISSING if k is None else index.get(k) or index.get(typed_spelling(k), UNKNOWN) for k in keys]
    per_key = np.array(per_key + [MISSING], dtype=np.int64)
    return per_key[codes]  # code -1 (missing) takes the last entry


def transform_rows(frame: pd.DataFrame, rows: np.ndarray, state: dict[str, Any], where: str) -> np.ndarray:
    """The model's float32 inputs for `rows` (positions in frame), in that order; unseen categories are warned about."""
    categorical = columns_of(state, "categorical")
    indicators = state["missing_indicators"]
    medians = np.asarray(state["medians"], dtype=np.float64)
    n_block = len(medians)
    out = np.empty((len(rows), n_block + len(indicators) + len(categorical)), dtype=np.float32)
    for start in range(0, len(rows), CHUNK_ROWS):
        part = rows[start : start + CHUNK_ROWS]
        stop = start + len(part)
        block, missing = numeric_block(frame, part, state)
        if n_block:
            np.copyto(block, medians, where=np.isnan(block))
            out[start:stop, :n_block] = apply_feature_transform(block, state)
        for i, column in enumerate(indicators):
            out[start:stop, n_block + i] = missing[column]
        for i, column in enumerate(categorical):
            codes = category_codes(frame[column].iloc[part], state["vocabularies"][column])
            out[start:stop, n_block + len(indicators) + i] = codes
    for i, column in enumerate(categorical):
        unknown = out[:, n_block + len(indicators) + i] == UNKNOWN
        if unknown.any():
            example = str(frame[column].iloc[rows[np.argmax(unknown)]]).strip()
            warnings.warn(
                f"{int(unknown.sum())} value(s) of column {column!r} in {where} never appear in the training rows "
                f"(e.g. {example!r}); the model reads them as unknown",
                UserWarning,
                stacklevel=2,
            )
    return out
