"""Predict new rows with a trained model: `python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv`.
CSV or Parquet, columns matched by name and preprocessed as the checkpoint saved, in chunks; the output is written whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.config import check_command_line
from src.errors import UserError, is_number, require, require_int, user_errors_exit


def required_path(cfg: DictConfig, key: str) -> Path:
    value = cfg.get(key)
    if value is None or str(value).strip() == "":
        raise UserError(f"{key} is required: python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv")
    if not isinstance(value, str):  # Hydra parses `a,b.csv` as a list and `1.csv`-like values stay strings
        raise UserError(f"{key} must be a single path; got {value!r} (quote it if it contains commas or brackets)")
    return Path(value)


def check_threshold(threshold, saved) -> float | None:
    if saved.task != "binary":
        require(threshold is None, f"threshold applies to binary classifiers only; {saved.path} is a {saved.task} model")
        return None
    if threshold is None:
        return float(saved.model.threshold)
    require(is_number(threshold) and 0 <= threshold <= 1, f"threshold must be a number in [0, 1]; got {threshold!r}")
    return float(threshold)


def check_output(output: Path, input_path: Path) -> None:
    require(not output.is_dir(), f"output {output} is a folder; give a file name, e.g. {output / 'preds.csv'}")
    require(output.parent.is_dir(), f"output folder {output.parent} does not exist")
    suffix = output.suffix.lower()
    if suffix not in ("", ".csv", ".txt", ".parquet", ".pq"):  # e.g. .xlsx, .json, .gz: a CSV under another format's name
        raise UserError(f"output {output} would be a plain CSV under a {suffix} name; write .csv, or .parquet (compressed)")
    if input_path.exists() and output.resolve() == input_path.resolve():
        raise UserError(f"output {output} is the input file; choose another name so the input is kept")


def prediction_frame(outputs, task: str, threshold: float | None, class_labels: list[str]):
    """test_predictions.csv's columns without the actual values: regression `prediction`; classifiers a probability
    (multiclass: `probability_<label>` per class), `class` and, when known, `label`."""
    from src.reporting.report import prediction_frame as test_prediction_frame

    if task == "multiclass":  # a class without a name in the data is named by its code
        class_labels = class_labels or [str(c) for c in range(outputs.shape[1])]
    frame = test_prediction_frame(None, outputs, task, threshold, class_labels)
    return frame.rename(columns={"predicted": "prediction" if task == "regression" else "class", "predicted_label": "label"})


def carried_columns(keep, state: dict) -> list[str] | None:
    """The input columns written beside the predictions: the identifiers training set aside, all (None), or none."""
    identifiers = [c for c, (_, rows, *_) in (state.get("identifiers") or {}).items() if rows]  # not an empty column
    choices = {"identifiers": identifiers, "all": None, "none": []}
    require(isinstance(keep, str) and keep in choices, f"keep_columns must be one of {', '.join(choices)}; got {keep!r}")
    return choices[keep]


def whole_numbers_as_written(carried):
    """A CSV's whole numbers come back as the file writes them (71, not 71.0): its numeric columns are read as floats."""
    for name in carried.select_dtypes("float").columns:
        known = carried[name].dropna()
        if ((known % 1 == 0) & (known.abs() < 2**53)).all():
            carried[name] = carried[name].astype("Int64")
    return carried


def prediction_tables(saved, input_path: Path, chunk_rows: int, carry, threshold, csv_to_csv: bool) -> Iterator:
    import numpy as np
    import pandas as pd

    from src.data.prediction_input import prediction_chunks
    from src.models.inference import predict_in_batches

    datamodule = saved.build_datamodule()  # the preprocessing fitted on the training split, saved in the checkpoint
    for frame, carried, done in prediction_chunks(input_path, saved.data_state, chunk_rows, carry):
        carried = whole_numbers_as_written(carried) if csv_to_csv else carried
        x = datamodule.transform_frame(frame, str(input_path), row_offset=done)
        outputs = predict_in_batches(saved.model, x, batch_size=4096).numpy()
        if not np.isfinite(outputs).all():
            raise UserError(f"the model produced non-finite predictions for {input_path} (values far outside the training data?)")
        predictions = prediction_frame(outputs, saved.task, threshold, saved.class_labels)
        if clash := [c for c in carried.columns if c in predictions.columns]:
            raise UserError(
                f"{input_path} has columns named like the predictions ({', '.join(clash)}); rename them or set keep_columns=none"
            )
        yield pd.concat([carried.reset_index(drop=True), predictions], axis=1)


def write_tables(tables: Iterator, handle, parquet: bool) -> int:
    """Every table into the open file: one CSV with one header, or one Parquet file; the rows written."""
    rows, writer = 0, None  # Parquet's writer, made with the first table's schema
    with ExitStack() as writers:
        for table in tables:
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                arrow = pa.Table.from_pandas(table, preserve_index=False)
                if writer is None:
                    writer = writers.enter_context(pq.ParquetWriter(handle, arrow.schema))
                writer.write_table(arrow)
            else:
                table.to_csv(handle, index=False, header=handle.tell() == 0)  # floats in their shortest exact spelling
            rows += len(table)
    return rows


def predict(cfg: DictConfig) -> int:
    from src.atomic import write_atomically
    from src.data.readers import is_parquet
    from src.runs.checkpoints.read import load_saved_run

    ckpt_path, input_path, output = (required_path(cfg, key) for key in ("ckpt_path", "input", "output"))
    require(
        not str(cfg.output).endswith("/"), f"output {cfg.output} names a folder; give a file name, e.g. {output / 'preds.csv'}"
    )
    check_output(output, input_path)
    chunk_rows = cfg.get("chunk_rows", 100_000)
    require_int("chunk_rows", chunk_rows)
    saved = load_saved_run(ckpt_path)
    threshold = check_threshold(cfg.get("threshold"), saved)
    carry = carried_columns(cfg.get("keep_columns", "identifiers"), saved.data_state)
    parquet = is_parquet(output)
    tables = prediction_tables(saved, input_path, chunk_rows, carry, threshold, not (parquet or is_parquet(input_path)))
    # into a temporary file, renamed over `output` only when every chunk is in
    return write_atomically(output, lambda handle: write_tables(tables, handle, parquet), text=not parquet)


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        rows = predict(cfg)
    print(f"wrote {rows} predictions to {cfg.output}")


if __name__ == "__main__":
    check_command_line("predict")
    main()
