"""Predict new rows with a trained model: `python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv`.

Input and output may be CSV or Parquet; the input's columns are matched by name and preprocessed with what the
checkpoint saved, in chunks of `chunk_rows`. Any problem stops before the output file is touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.errors import UserError, user_errors_exit


def required_path(cfg: DictConfig, key: str) -> Path:
    value = cfg.get(key)
    if value is None or str(value).strip() == "":
        raise UserError(f"{key} is required: python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv")
    if not isinstance(value, str):  # Hydra parses `a,b.csv` as a list and `1.csv`-like values stay strings
        raise UserError(f"{key} must be a single path; got {value!r} (quote it if it contains commas or brackets)")
    return Path(value)


def check_threshold(threshold, saved) -> float | None:
    if saved.task != "binary":
        if threshold is not None:
            raise UserError(f"threshold applies to binary classifiers only; {saved.path} is a {saved.task} model")
        return None
    if threshold is None:
        return float(saved.model.threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise UserError(f"threshold must be a number in [0, 1]; got {threshold!r}")
    return float(threshold)


def check_chunk_rows(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"chunk_rows must be an integer >= 1; got {value!r}")
    return value


def check_output(output: Path, input_path: Path) -> None:
    if output.is_dir():
        raise UserError(f"output {output} is a folder; give a file name, e.g. {output / 'preds.csv'}")
    if not output.parent.is_dir():
        raise UserError(f"output folder {output.parent} does not exist")
    if input_path.exists() and output.resolve() == input_path.resolve():
        raise UserError(f"output {output} is the input file; choose another name so the input is kept")


def prediction_frame(outputs, task: str, threshold: float | None, class_labels: list[str]):
    """Regression: `prediction`; binary: `probability` (of class 1), `class` (0/1 at the threshold) and the original
    `label` when the checkpoint knows it; multiclass: one `probability_<label>` per class and the predicted `label`."""
    import numpy as np
    import pandas as pd

    if task == "regression":
        return pd.DataFrame({"prediction": outputs})
    if task == "multiclass":  # a probability per class, then the most probable class and its label
        labels = class_labels or [str(c) for c in range(outputs.shape[1])]
        frame = pd.DataFrame({f"probability_{label}": outputs[:, c] for c, label in enumerate(labels)})
        frame["class"] = outputs.argmax(1)
        frame["label"] = [labels[c] for c in frame["class"]]
        return frame
    classes = (outputs > threshold).astype(int)  # torchmetrics' rule: class 1 above the threshold
    frame = pd.DataFrame({"probability": outputs, "class": classes})
    if len(class_labels) == 2:
        frame["label"] = np.asarray(class_labels, dtype=object)[classes]
    return frame


KEEP_COLUMNS = ("identifiers", "all", "none")


def carried_columns(keep, state: dict) -> list[str] | None:
    """The input columns written beside the predictions: the identifiers training set aside, all (None), or none."""
    if keep not in KEEP_COLUMNS:
        raise UserError(f"keep_columns must be one of {', '.join(KEEP_COLUMNS)}; got {keep!r}")
    if keep == "all":
        return None
    return list(state.get("identifiers") or {}) if keep == "identifiers" else []


def with_carried_columns(carried, predictions, input_path: Path):
    import pandas as pd

    clash = [c for c in carried.columns if c in predictions.columns]
    if clash:
        raise UserError(
            f"{input_path} has columns named like the predictions ({', '.join(clash)}); rename them or set keep_columns=none"
        )
    return pd.concat([carried.reset_index(drop=True), predictions], axis=1)


@contextmanager
def atomic_table_writer(path: Path) -> Iterator:
    """write(frame) appends rows to a temporary file beside `path`, renamed over it only when every chunk is in:
    a failure never leaves a partial file. Parquet for a .parquet/.pq name, CSV otherwise."""
    from src.data.readers import is_parquet

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    parquet_writer = None
    try:
        with os.fdopen(fd, "w", newline="") as handle:

            def write(frame) -> None:
                nonlocal parquet_writer
                if is_parquet(path):
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    if parquet_writer is None:
                        parquet_writer = pq.ParquetWriter(tmp, table.schema)
                    parquet_writer.write_table(table)
                else:
                    frame.to_csv(handle, index=False, header=handle.tell() == 0, float_format="%.9g")

            yield write
        if parquet_writer is not None:
            parquet_writer.close()
        os.replace(tmp, path)
    except BaseException as exc:
        if parquet_writer is not None:
            parquet_writer.close()
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # disk full, read-only folder, no permission: one line, the old file kept
            from src.runs.atomic import WriteFailed

            raise WriteFailed(path, exc) from None
        raise


def predict(cfg: DictConfig) -> int:
    """Check everything, predict chunk by chunk, write the output file; returns the number of rows predicted."""
    import torch

    from src.data.prediction_input import prediction_chunks
    from src.models.inference import predict_in_batches
    from src.runs.checkpoints.read import load_saved_run

    ckpt_path, input_path, output = (required_path(cfg, key) for key in ("ckpt_path", "input", "output"))
    check_output(output, input_path)
    chunk_rows = check_chunk_rows(cfg.get("chunk_rows", 100_000))
    saved = load_saved_run(ckpt_path)
    threshold = check_threshold(cfg.get("threshold"), saved)
    datamodule = saved.build_datamodule()  # the preprocessing fitted on the training split, saved in the checkpoint
    carry = carried_columns(cfg.get("keep_columns", "identifiers"), saved.data_state)
    rows = 0
    with atomic_table_writer(output) as write:
        for frame, carried, done in prediction_chunks(input_path, saved.data_state, chunk_rows, carry):
            x = datamodule.transform_frame(frame, str(input_path), row_offset=done)
            outputs = predict_in_batches(saved.model, x, batch_size=4096).numpy()
            if not torch.isfinite(torch.from_numpy(outputs)).all():
                raise UserError(
                    f"the model produced non-finite predictions for {input_path} (values far outside the training data?)"
                )
            predictions = prediction_frame(outputs, saved.task, threshold, saved.class_labels)
            write(with_carried_columns(carried, predictions, input_path))
            rows += len(frame)
    return rows


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        rows = predict(cfg)
    print(f"wrote {rows} predictions to {cfg.output}")


if __name__ == "__main__":
    main()
