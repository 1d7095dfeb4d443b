"""New rows to predict, from a CSV (with a header) or a Parquet file, read in chunks and matched to the model's
columns by name; a problem names the file, the columns, or the first bad value's column and row (1-based, after the header)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from src.data.readers import (
    as_numbers,
    check_table_format,
    column_names,
    csv_convert_options,
    csv_delimiter,
    csv_encoding,
    first_row,
    is_parquet,
    missing_text_mask,
)
from src.errors import UserError, first_line, require

CHUNK_ROWS = 100_000


def prediction_chunks(
    path: str | Path, state: dict[str, Any], chunk_rows: int = CHUNK_ROWS, carry: list[str] | None = ()
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, int]]:
    """(feature columns, carried columns, rows before it) per chunk, in file order; numeric features already float64.
    `carry`: columns passed through to the output as the file has them, where present (None: every column)."""
    path = Path(path)
    require(not path.is_dir(), f"input={path} is a folder; give the CSV or Parquet file of the rows to predict")
    require(path.is_file(), f"input file not found: {path}")
    check_table_format(path, "input")
    kinds = {c: k for c, k in state["columns"].items() if k in ("numeric", "categorical", "date")}
    allowed = set(state["columns"]) | set(state.get("table_columns", ())) | {state.get("target_name") or state.get("target")}
    missing = state.get("missing", "impute")
    if is_parquet(path):
        chunks = parquet_chunks(path, kinds, allowed, chunk_rows, carry)
    else:
        chunks = csv_chunks(path, kinds, allowed, missing, chunk_rows, carry)
    done = 0
    for frame in chunks:
        carried = frame[[c for c in frame.columns if c not in kinds or carry is None]].copy()
        frame = frame[list(kinds)]
        for column, kind in kinds.items():
            if kind == "numeric":
                frame[column] = numeric_values(path, column, frame[column], done, missing)
                if column in carried and not is_parquet(path):  # CSV: the text reader's chunks carry float64, as pyarrow's
                    carried[column] = frame[column]
        yield frame, carried, done
        done += len(frame)
    require(done > 0, f"{path} has a header but no rows to predict")


def check_header(path: Path, names: list[str], kinds: dict[str, str], allowed: set[str], carry: list[str] | None) -> list[str]:
    """The columns to read besides the features, in file order (carry None: all), once the header is checked."""
    duplicated = sorted({c for c in names if names.count(c) > 1})
    require(not duplicated, f"{path} has duplicated columns: {', '.join(map(repr, duplicated))}; give each its own name")
    missing = [name for name in kinds if name not in names]
    unknown = [name for name in names if name not in kinds and name not in allowed]
    problems = [f"missing feature columns: {', '.join(map(repr, missing))}"] if missing else []
    problems += [f"unknown columns (not features of the model; remove them): {', '.join(map(repr, unknown))}"] if unknown else []
    require(not problems, f"{path}: {'; '.join(problems)} (the model takes {len(kinds)} named features)")
    return [c for c in names if c not in kinds and (carry is None or c in carry)]


def csv_chunks(
    path: Path, kinds: dict[str, str], allowed: set[str], missing: str, chunk_rows: int, carry: list[str] | None
) -> Iterator[pd.DataFrame]:
    """Typed by pyarrow; when pyarrow refuses a value, pandas reads the rest as text and names the exact cell."""
    delimiter, encoding = csv_delimiter(path), csv_encoding(path)
    parse = pacsv.ParseOptions(delimiter=delimiter)
    done = 0
    # an empty or malformed file, a malformed row or a value that is not a number: the text reader names it, from `done` on
    with suppress(pa.ArrowInvalid):
        raw_names = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding=encoding), parse_options=parse).schema.names
        names = column_names(raw_names)  # read under these names (not the file's): two blank headers stay two columns
        types = {c: (pa.float64() if kind == "numeric" else pa.string()) for c, kind in kinds.items()}
        types |= {c: pa.string() for c in check_header(path, names, kinds, allowed, carry)}  # as the file writes them
        # about chunk_rows rows per block: 16 bytes per cell is a generous guess at a CSV cell's width
        block = max(1 << 20, min(1 << 28, chunk_rows * len(raw_names) * 16))
        read = pacsv.ReadOptions(encoding=encoding, block_size=block, column_names=names, skip_rows=1)
        convert = csv_convert_options(column_types=types, include_columns=list(types))
        for batch in pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert):
            frame = batch.to_pandas()
            if missing == "refuse" and any(frame[c].isna().any() for c, k in kinds.items() if k == "numeric"):
                break  # an empty cell or a NaN: the text reader tells which
            yield frame[[c for c in names if c in types]]
            done += len(frame)
        else:
            return
    yield from text_chunks(path, delimiter, encoding, kinds, allowed, chunk_rows, skip=done, carry=carry)


def text_chunks(
    path: Path,
    delimiter: str,
    encoding: str,
    kinds: dict[str, str],
    allowed: set[str],
    chunk_rows: int,
    skip: int,
    carry: list[str] | None,
) -> Iterator[pd.DataFrame]:
    """Every cell as text (pandas), from row `skip` on: slower, but it sees the exact cell that is wrong."""
    try:
        as_text = {"sep": delimiter, "encoding": encoding, "dtype": str, "keep_default_na": False}
        names = column_names(pd.read_csv(path, header=None, nrows=1, **as_text).iloc[0].fillna(""))
        carried_names = check_header(path, names, kinds, allowed, carry)
        for frame in pd.read_csv(path, skipinitialspace=True, chunksize=chunk_rows, skiprows=range(1, skip + 1), **as_text):
            frame.columns = names
            for column, kind in kinds.items():
                text = frame[column].fillna("").str.strip()  # a short row's missing cells are empty
                frame[column] = text if kind == "numeric" else text.where(text != "", None)
            yield frame[[c for c in names if c in kinds or c in carried_names]]  # in file order, as pyarrow's chunks
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: expected a header with the feature names and one row per example") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV: {first_line(exc)}") from None


def parquet_chunks(
    path: Path, kinds: dict[str, str], allowed: set[str], chunk_rows: int, carry: list[str] | None
) -> Iterator[pd.DataFrame]:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(f"{path} is not a readable Parquet file: {first_line(exc)}") from None
    index = (file.schema_arrow.pandas_metadata or {}).get("index_columns", [])  # pandas reads them back as the index
    raw_names = [n for n in file.schema_arrow.names if n not in index or n.strip() in allowed]  # unknown to the model: skipped
    names = column_names(raw_names)  # as training names them
    carried = check_header(path, names, kinds, allowed, carry)
    read = [c for c in names if c in kinds or c in carried]  # in file order, as the CSV readers' chunks
    raw = dict(zip(names, raw_names))
    for batch in file.iter_batches(batch_size=chunk_rows, columns=[raw[c] for c in read]):
        yield batch.to_pandas(date_as_object=False, ignore_metadata=True).set_axis(read, axis=1)  # as training: no index


def numeric_values(path: Path, name: str, raw: pd.Series, row_offset: int, missing: str) -> np.ndarray:
    """The column as float64; empty cells and NaN are missing (imputed, or refused with data.missing=refuse)."""
    values, text = as_numbers(raw)
    if text is not None:
        empty = (text == "").to_numpy()
        if missing == "refuse" and empty.any():
            raise UserError(f"{path}: column '{name}' has an empty value in row {first_row(empty) + row_offset}")
        not_numbers = np.isnan(values) & ~missing_text_mask(text).to_numpy()  # "NA", "?", ... are missing, not wrong
        if not_numbers.any():
            row = int(np.argmax(not_numbers))
            raise UserError(f"{path}: column '{name}' has a non-numeric value {text.iloc[row]!r} in row {row + 1 + row_offset}")
    bad = np.isinf(values) | (np.isnan(values) & (missing == "refuse"))  # an empty cell under refuse is named above
    if bad.any():
        kind = "NaN or infinite" if missing == "refuse" else "infinite"
        raise UserError(
            f"{path}: column '{name}' has {int(bad.sum())} {kind} value(s), first in row {first_row(bad) + row_offset}"
        )
    return values
