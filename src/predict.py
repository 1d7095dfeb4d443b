"""Predict new rows with a trained model: `python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv`.

The input's feature columns are matched by name to the ones the model was trained on and scaled with the
checkpoint's scaler. Regression writes `prediction`; classification writes `probability` (of class 1),
`class` (0/1 at the threshold) and, when the checkpoint knows them, the original class `label`. Any problem
stops before the output file is touched: it appears complete or not at all.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.errors import UserError, user_errors_exit
from src.runs.atomic import write_atomically


def required_path(cfg: DictConfig, key: str) -> Path:
    value = cfg.get(key)
    if value is None or str(value).strip() == "":
        raise UserError(f"{key} is required: python -m src.predict ckpt_path=PATH input=new.csv output=preds.csv")
    if not isinstance(value, str):  # Hydra parses `a,b.csv` as a list and `1.csv`-like values stay strings
        raise UserError(f"{key} must be a single path; got {value!r} (quote it if it contains commas or brackets)")
    return Path(value)


def check_threshold(threshold, saved) -> float | None:
    if saved.task == "regression":
        if threshold is not None:
            raise UserError(f"threshold applies to classifiers only; {saved.path} is a regression model")
        return None
    if threshold is None:
        return float(saved.model.threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise UserError(f"threshold must be a number in [0, 1]; got {threshold!r}")
    return float(threshold)


def check_output(output: Path, input_path: Path) -> None:
    if output.is_dir():
        raise UserError(f"output {output} is a folder; give a file name, e.g. {output / 'preds.csv'}")
    if not output.parent.is_dir():
        raise UserError(f"output folder {output.parent} does not exist")
    if input_path.exists() and output.resolve() == input_path.resolve():
        raise UserError(f"output {output} is the input file; choose another name so the input is kept")


def prediction_frame(outputs, task: str, threshold: float | None, class_labels: list[str]):
    import pandas as pd

    if task == "regression":
        return pd.DataFrame({"prediction": outputs})
    classes = (outputs > threshold).astype(int)  # torchmetrics' rule: class 1 above the threshold
    frame = pd.DataFrame({"probability": outputs, "class": classes})
    if len(class_labels) == 2:
        frame["label"] = [class_labels[c] for c in classes]
    return frame


def predict(cfg: DictConfig):
    """Check everything, predict, write the output file; returns the predictions as a DataFrame."""
    import torch

    from src.data.prediction_input import read_feature_csv
    from src.models.checkpoints import load_saved_run
    from src.models.inference import predict_in_batches

    ckpt_path, input_path, output = (required_path(cfg, key) for key in ("ckpt_path", "input", "output"))
    check_output(output, input_path)
    saved = load_saved_run(ckpt_path)
    threshold = check_threshold(cfg.get("threshold"), saved)
    x = read_feature_csv(input_path, saved.feature_names)
    scaled = saved.build_datamodule().scale(x)  # the scaler fitted on the training split, saved in the checkpoint
    outputs = predict_in_batches(saved.model, scaled, batch_size=4096).numpy()
    if not torch.isfinite(torch.from_numpy(outputs)).all():
        raise UserError(f"the model produced non-finite predictions for {input_path} (values far outside the training data?)")
    frame = prediction_frame(outputs, saved.task, threshold, saved.class_labels)
    # whole or not at all: a failure never leaves a partial file (src/runs/atomic.py)
    write_atomically(output, lambda handle: frame.to_csv(handle, index=False, float_format="%.9g"), text=True)
    return frame


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        frame = predict(cfg)
    print(f"wrote {len(frame)} predictions to {cfg.output}")


if __name__ == "__main__":
    main()
