"""CSV and Parquet files read as typed columns by pyarrow (fast for millions of rows), checked against the
machine's memory first. Only when pyarrow refuses a file does pandas' slower reader run, to name the bad line."""

from __future__ import annotations

import codecs
import csv
import os
from contextlib import suppress
from pathlib import Path

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from src.errors import UserError, first_line, require

PARQUET_SUFFIXES = (".parquet", ".pq")
# other formats a table is often saved in: read as a CSV, their bytes would come out as column names
OTHER_FORMATS = (".xlsx", ".xlsm", ".xls", ".ods", ".json", ".jsonl", ".zip", ".feather", ".arrow", ".pkl", ".pickle", ".h5")
DELIMITERS = (",", ";", "\t", "|")  # tried in this order; a CSV's is the one that splits its first lines alike
# a cell spelled like one of these is missing: pyarrow's default null spellings and the UCI repository's "?"
MISSING_SPELLINGS = frozenset([*pacsv.ConvertOptions().null_values, "?"])
NAN_SPELLINGS = ("nan", "-nan", "+nan")  # in any case
# bytes of memory per cell while a table is loaded: the typed read (8), the float32 inputs (4), the training
# split's float64 copy that fits the scaler (8) and slack for the text of categorical columns
BYTES_PER_CELL = 24
ZERO_PADDED = r"^[+-]?0\d"  # a whole number written with leading zeros ('007'): a code
# charset-normalizer's names of the encodings of Korean, Japanese and Chinese spreadsheets' CSVs
EAST_ASIAN_ENCODINGS = ("cp949", "euc_kr", "johab", "cp932", "shift_jis", "euc_jp", "gb2312", "gbk", "gb18030", "big5", "cp950")
SAMPLE_BYTES = 1 << 20  # the first block of a CSV, read to find such codes


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def read_table_file(path: str | Path) -> pd.DataFrame:
    """The whole file as a DataFrame of typed columns (stripped names); every problem is a one-line UserError."""
    file = Path(path)
    require(not file.is_dir(), f"data.path {path} is a folder; give a CSV or Parquet file")
    require(file.is_file(), f"data.path: no such file: {path}")
    check_table_format(file, "data.path")
    check_fits_in_memory(file)
    if is_parquet(file):
        try:
            table = pq.read_table(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise UserError(f"{file} is not a readable Parquet file: {first_line(exc)}") from None
    else:
        read, parse = pacsv.ReadOptions(encoding=csv_encoding(file)), pacsv.ParseOptions(delimiter=csv_delimiter(file))
        table = read_csv_table(file, read=read, parse=parse)
    names = column_names(table.column_names)
    duplicated = sorted({c for c in names if names.count(c) > 1})
    require(not duplicated, f"{path} has duplicated columns: {', '.join(map(repr, duplicated))}; give each its own name")
    if not is_parquet(file):
        table = zero_padded_as_text(file, table, read, parse)
    # pandas' index written into a Parquet file: renaming drops the metadata that would make it the index again
    written = table.column_names
    index = [names[written.index(c)] for c in (table.schema.pandas_metadata or {}).get("index_columns", []) if c in written]
    table = table.rename_columns(names)
    # one block per column and the arrow buffers released as they are converted (the table is unusable after)
    frame = table.to_pandas(split_blocks=True, self_destruct=True, date_as_object=False)
    frame.attrs["pandas_index"] = index
    return frame


def zero_padded_as_text(file: Path, table: pa.Table, read: pacsv.ReadOptions, parse: pacsv.ParseOptions) -> pa.Table:
    """Whole numbers written with leading zeros ('007', '010') are codes, not quantities: such a column keeps its text.
    The file's first block decides which columns those are, so a big table is read twice only when it has such codes."""
    whole = [name for name, kind in zip(table.column_names, table.schema.types) if pa.types.is_integer(kind)]
    if not whole:
        return table
    as_text = csv_convert_options(column_types=dict.fromkeys(whole, pa.string()), include_columns=whole)
    first_block = pacsv.ReadOptions(encoding=read.encoding, block_size=SAMPLE_BYTES)
    try:
        with pacsv.open_csv(file, read_options=first_block, parse_options=parse, convert_options=as_text) as rows:
            sample = rows.read_next_batch()
    except (pa.ArrowInvalid, StopIteration):  # a first block pyarrow cannot read on its own: the whole file decides
        sample = read_csv_table(file, as_text, read, parse)
    padded = [
        name for name in whole if pc.any(pc.match_substring_regex(pc.utf8_trim_whitespace(sample[name]), ZERO_PADDED)).as_py()
    ]
    if not padded:
        return table
    as_text.include_columns = padded  # read again: those columns only
    text = read_csv_table(file, as_text, read, parse)
    for name in padded:
        table = table.set_column(table.column_names.index(name), name, text[name])
    return table


def check_table_format(file: Path, what: str) -> None:
    suffix = file.suffix.lower()
    if suffix in OTHER_FORMATS:
        raise UserError(
            f"{what} {file} is a {suffix} file; save the table as CSV (a header row, then one row per example) or Parquet"
        )
    with open(file, "rb") as handle:  # Excel's "Unicode Text" and Windows PowerShell write UTF-16, which no CSV reader here takes
        utf16 = handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    require(not utf16, f"{what} {file} is UTF-16 text; save it as CSV UTF-8 (Excel: Save As 'CSV UTF-8') and give that file")


def header_columns(path: str | Path, what: str = "data.path") -> list[str] | None:
    """The column names in a file's header, without reading the table (None when unreadable: the full reader says why)."""
    file = Path(path)
    check_table_format(file, what)
    try:
        if is_parquet(file):
            return column_names(pq.read_schema(file).names)
        with pa.input_stream(str(file), compression="detect") as stream:
            lines = stream.read(1 << 16).decode("utf-8-sig", errors="replace").splitlines()
        first = [line for line in lines if line.strip()][:1]  # blank lines before the header: pyarrow skips them too
        names = column_names(next(csv.reader(first, delimiter=csv_delimiter(file)))) if first else []
        return names if not all(map(reads_as_number, names)) else None  # all numbers: no header, as the reader says
    except Exception:  # noqa: BLE001  (a broken file is reported, with its reason, by read_table_file)
        return None


def is_missing_spelling(text: str) -> bool:
    """`text` (stripped) is how the table writes a missing value."""
    return text in MISSING_SPELLINGS or text.lower() in NAN_SPELLINGS


def missing_text_mask(text: pd.Series) -> pd.Series:
    """The cells of stripped `text` that spell a missing value."""
    return text.isin(MISSING_SPELLINGS) | text.str.lower().isin(NAN_SPELLINGS)


def float_values(values: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing: a view when it already is one (to_numpy with na_value copies)."""
    return values.to_numpy() if values.dtype == np.float64 else values.to_numpy(dtype=np.float64, na_value=np.nan)


def as_numbers(values: pd.Series) -> tuple[np.ndarray, pd.Series | None]:
    """The column as float64 (NaN where missing or not a number) and, unless it is numeric, its cells as stripped text."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return float_values(values), None
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64), text


def csv_delimiter(file: Path) -> str:
    """The delimiter that splits the header and the next lines into the same number (> 1) of fields."""
    # the bytes as pyarrow's reader sees them: a .csv.gz, .bz2, .zst or .lz4 file decompressed on the fly
    with pa.input_stream(str(file), compression="detect") as stream:
        sample = stream.read(1 << 20)
    lines = [line for line in sample.decode("utf-8", errors="replace").splitlines(keepends=True)[:20] if line.strip()]
    fields = {}
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:  # e.g. a cell longer than the csv module takes: the header decides
            widths = [lines[0].count(delimiter) + 1, 0] if lines else []
        if widths and min(widths) == max(widths) > 1:
            return delimiter
        fields[delimiter] = widths[0] if widths else 0
    # no delimiter splits every line alike (a short or long row among them): the one that splits the header most
    best = max(DELIMITERS, key=fields.get)  # the first of equals
    return best if fields[best] > 1 else ","


def csv_encoding(file: Path) -> str:
    """UTF-8 when the whole file decodes as UTF-8 (a byte-order mark allowed); else an East Asian encoding that
    charset-normalizer finds in its first block (Korean Excel's cp949, Japanese Shift-JIS, ...) when the whole file
    decodes in it; else Windows' cp1252 (a spreadsheet's export), else Latin-1, which reads any byte. The whole
    file, so training and predict always agree."""
    if decodes_as(file, "utf-8"):
        return "utf8"
    with pa.input_stream(str(file), compression="detect") as stream:
        guess = charset_normalizer.from_bytes(stream.read(SAMPLE_BYTES)).best()
    # cp1252 reads any such file without an error, as text no one wrote; a Western file is left to cp1252
    east_asian = [guess.encoding] if guess is not None and guess.encoding in EAST_ASIAN_ENCODINGS else []
    return next((encoding for encoding in [*east_asian, "cp1252"] if decodes_as(file, encoding)), "latin-1")


def decodes_as(file: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with pa.input_stream(str(file), compression="detect") as stream:
            while chunk := stream.read(1 << 24):
                if decoder.getstate()[0] or np.frombuffer(chunk, np.uint8).max() >= 0x80:  # ASCII needs no decoding
                    decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def csv_convert_options(**options) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(strings_can_be_null=True, null_values=sorted(MISSING_SPELLINGS), **options)


def column_names(raw_names: list) -> list[str]:
    """Names stripped; a column without one (a DataFrame's index written by pandas) is "Unnamed: <position>", as in pandas."""
    return [str(name).strip() or f"Unnamed: {i}" for i, name in enumerate(raw_names)]


def read_csv_table(
    file: Path,
    convert: pacsv.ConvertOptions | None = None,
    read: pacsv.ReadOptions | None = None,
    parse: pacsv.ParseOptions | None = None,
) -> pa.Table:
    """The CSV as typed columns; `read` and `parse` are sniffed when not given, and `parse` keeps what the read needed."""
    read = read or pacsv.ReadOptions(encoding=csv_encoding(file))
    parse = parse or pacsv.ParseOptions(delimiter=csv_delimiter(file))
    options = {"read_options": read, "parse_options": parse, "convert_options": convert or csv_convert_options()}
    try:
        try:  # blocks split at any line end (fast, in parallel); a quoted cell holding a line end needs them whole
            table = pacsv.read_csv(file, **options)
        except pa.ArrowInvalid:
            parse.newlines_in_values = True
            table = pacsv.read_csv(file, **options)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise UserError(f"{file} is empty: expected a header row with the column names, then one row per example") from None
        raise UserError(f"{file} is not a readable CSV: {csv_problem(file, parse.delimiter, read.encoding, exc)}") from None
    if table.num_columns and all(reads_as_number(c) for c in table.column_names):
        names = [c.strip() for c in table.column_names]
        raise UserError(f"{file} has no header: its first row is numbers ({listed(names, 5)}); add a row with the column names")
    return table


def csv_problem(file: Path, delimiter: str, encoding: str, exc: Exception) -> str:
    """pandas' message when it names a malformed row's line (pyarrow does not), else pyarrow's; read in chunks to spare memory."""
    try:
        for _ in pd.read_csv(file, sep=delimiter, encoding=encoding, dtype=str, chunksize=100_000):
            pass
    except (pd.errors.ParserError, UnicodeDecodeError) as pandas_exc:
        exc = pandas_exc
    except (ValueError, OSError):  # pandas has nothing better to say: pyarrow's message stands
        pass
    return first_line(exc)


def available_memory() -> int:
    """Bytes this process could still use: MemAvailable from /proc/meminfo, else the machine's physical memory."""
    with suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def estimated_shape(file: Path) -> tuple[int, int]:
    """(rows, columns): exact from a Parquet footer; for a CSV, from the size of its first megabyte's rows."""
    if is_parquet(file):
        try:
            meta = pq.read_metadata(file)
        except (OSError, ValueError):  # a broken file (ArrowInvalid is a ValueError) is reported by the reader
            return 0, 0
        return meta.num_rows, meta.num_columns
    with open(file, "rb") as handle:
        sample = handle.read(1 << 20)
    lines = sample.splitlines()
    if len(lines) < 2:
        return len(lines), 1
    columns = lines[0].count(csv_delimiter(file).encode()) + 1
    body = lines[1:-1] if len(sample) == 1 << 20 and len(lines) > 2 else lines[1:]  # the last line may be cut
    bytes_per_row = sum(len(line) + 1 for line in body) / len(body)
    return int((file.stat().st_size - len(lines[0]) - 1) / bytes_per_row), columns


def check_fits_in_memory(file: Path) -> None:
    """Refuse, before reading, a file whose table would not fit: an error beats the out-of-memory killer."""
    rows, columns = estimated_shape(file)
    need, available = rows * columns * BYTES_PER_CELL, available_memory()
    if need > available:
        raise UserError(
            f"{file} is too large for this machine's memory: loading it needs about {need / 1e9:.1f} GB "
            f"(~{rows:,} rows x {columns} columns) and {available / 1e9:.1f} GB is available; "
            "train on a sample of its rows, or on a machine with more memory"
        )


def reads_as_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def listed(names: list, limit: int = 20) -> str:
    return ", ".join(map(str, names[:limit])) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def not_a_column(setting: str, name: str, columns: list[str], where: str) -> str:
    """The message for a column name the table lacks; one spelled in another case is suggested (it may be past the list's end)."""
    alike = [c for c in columns if c.casefold() == str(name).casefold()]
    return f"{setting} {name!r} is not a column of {where} " + (
        f"(did you mean {alike[0]!r}?)" if alike else f"(columns: {listed(columns)})"
    )


def missing_values_error(what: str, nan: int, infinite: int, first: int, fix: str = "fill or drop those rows first") -> UserError:
    """One message for the NaN, empty and infinite numbers of a feature or a target column (`first`: 1-based row)."""
    return UserError(
        f"{what} has {nan + infinite} missing or infinite values ({nan} NaN or empty, {infinite} infinite), "
        f"first in row {first}; {fix}"
    )


def first_row(mask: np.ndarray) -> int:
    """The first flagged row, counted from 1 as the error messages count rows."""
    return int(np.argmax(mask)) + 1
