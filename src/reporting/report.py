"""What a run leaves in its folder: `RunReport` writes what the tested model shows, then the run's summary;
`src.eval` shares `write_test_report`, so evaluating the best checkpoint reproduces the training run's files."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd

from src.atomic import write_atomically
from src.models.inference import predict_in_batches
from src.reporting import figures
from src.reporting.diagnosis import Diagnosis, diagnose
from src.reporting.importance import Importance, log_importance, validation_importance
from src.reporting.loggers import log_final_metrics
from src.reporting.results import RunResult, print_metrics_table, print_run_folder, stop_message, write_metrics_json


class RunReport(L.Callback):
    """When testing ends, with the tested (best) weights in the model (runner=plain calls `write_test_outputs` itself):
    test_predictions.csv, figures/, the constant-guess check, each column's importance, a cv fold's val_predictions.csv.
    `finish` then writes the run's summary. `resume_command` is None for a temporary folder, removed at the end."""

    def __init__(
        self, run_dir: Path, name: str, seed: int, loggers, hyperparameters: dict, importance, resume, resume_command: str | None
    ) -> None:
        self.run_dir, self.name, self.seed, self.loggers = Path(run_dir), name, seed, list(loggers)
        self.hyperparameters, self.importance_settings, self.resume = hyperparameters, importance, resume
        self.resume_command = resume_command
        self.diagnosis = Diagnosis()
        self.importance: Importance | None = None

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:  # under DDP only rank 0 writes
            self.write_test_outputs(pl_module, trainer.datamodule, step=trainer.current_epoch)

    def write_test_outputs(self, model, datamodule, step: int) -> None:
        matrices = dict(model.matrices.get("test", {}))
        self.diagnosis = write_test_report(self.run_dir, model, datamodule, matrices, self.loggers, step)
        self.importance = validation_importance(self.importance_settings, model, datamodule, self.seed)
        if self.importance is not None:  # what it learned
            importance = {"importance": figures.importance_figure(asdict(self.importance))}
            figures.save_figures(importance, self.run_dir / "figures", self.loggers, step)
            log_importance(self.loggers, self.importance, step)
        if getattr(datamodule, "cv", None):  # a fold of a cv sweep: its out-of-fold predictions
            write_fold_predictions(self.run_dir / "val_predictions.csv", model, datamodule)

    def finish(self, result: RunResult, datamodule) -> None:
        """The run's summary, finished or interrupted: the loss curves, the loggers' hyperparameters and final metrics,
        metrics.json, the table and, when the run did not end the ordinary way, one line that says why."""
        if result.test:  # an interrupted run, or one without a finite val_loss, tested nothing to report on
            result.warnings, result.diagnostics = self.diagnosis.warnings, self.diagnosis.details
            result.importance = asdict(self.importance) if self.importance is not None else {}
            curves = figures.loss_curves_figure(result.train_loss, result.val_loss, result.best_epoch)
            figures.save_figures({"loss_curves": curves}, self.run_dir / "figures", self.loggers, result.stopped_epoch)
        if not result.interrupted:
            final = {"hp/best_val_loss": result.best_val_loss, **{f"hp/{k}": v for k, v in result.test.items()}}
            log_final_metrics(self.loggers, self.hyperparameters, final, step=result.stopped_epoch)
        for logger in self.loggers:
            logger.finalize("success")
        message = stop_message(result, self.resume_command)
        extra = {"experiment": self.name, "seed": self.seed, "stop_message": message}
        if datamodule.task == "binary":  # class 1: the one precision, recall and F1 are about
            extra["positive_class"] = datamodule.class_labels[1]
        if self.resume is not None:
            extra["resumed_from"] = {"checkpoint": str(self.resume.checkpoint), "epoch": self.resume.epochs_done}
        write_metrics_json(self.run_dir / "metrics.json", result, extra=extra)
        title = f"{self.name} ({result.runner}) {'test metrics' if result.test else 'run, not tested'}"
        print_metrics_table(result, title=title, class_labels=datamodule.class_labels)
        if message:
            print(message, file=sys.stderr)
        if self.resume_command is None:  # no commands for a folder about to go
            print(f"run: {self.run_dir} (temporary: removed when the run ends; nothing is kept)")
        else:
            print_run_folder(self.run_dir, checkpoint=self.run_dir / "checkpoints" / "best.ckpt" if result.test else None)


def write_test_report(out_dir: Path, model, datamodule, matrices: dict[str, list], loggers=(), step: int = 0) -> Diagnosis:
    """test_predictions.csv and figures/*.png (also to the loggers); returns the diagnosis. The model holds the tested weights."""
    x_test, y_test = datamodule.splits["test"]
    actual = y_test.reshape(-1).numpy()
    predicted = predict_in_batches(model, x_test, datamodule.batch_size).numpy()
    task, labels, threshold = datamodule.task, datamodule.class_labels, getattr(model, "threshold", None)
    rows = datamodule.split_positions["test"]
    write_prediction_report(
        out_dir, rows, actual, predicted, task, datamodule.target_name, labels, threshold, matrices, loggers=loggers, step=step
    )
    return diagnose(model, *datamodule.splits["val"], task, datamodule.batch_size, labels)


def prediction_frame(
    actual: np.ndarray | None, predicted: np.ndarray, task: str, threshold: float | None, class_labels=()
) -> pd.DataFrame:
    """Each row's actual value or class code (none for None), a classifier's probabilities, what the model predicts
    and, with `class_labels`, the classes as the table names them (test_predictions.csv and oof_predictions.csv alike)."""
    actuals = {} if actual is None else {"actual": actual if task == "regression" else actual.astype(int)}
    if task == "regression":
        return pd.DataFrame({**actuals, "predicted": predicted})
    if task == "multiclass":  # a probability per class, and the most probable class
        labels = list(class_labels) or [str(c) for c in range(predicted.shape[1])]
        probabilities = {f"probability_{label}": predicted[:, c] for c, label in enumerate(labels)}
        frame = pd.DataFrame({**actuals, **probabilities, "predicted": predicted.argmax(1)})
    else:  # the rule torchmetrics' binary metrics use: class 1 when the probability is above the threshold
        frame = pd.DataFrame({**actuals, "probability": predicted, "predicted": (predicted > threshold).astype(int)})
    if class_labels:
        frame = frame.assign(**{f"{c}_label": np.asarray(class_labels)[frame[c]] for c in ("actual", "predicted") if c in frame})
    return frame


def write_fold_predictions(path: Path, model, datamodule) -> None:
    """A cv fold's validation rows, by source row number, with the tested model's predictions (for oof_predictions.csv)."""
    x_val, y_val = datamodule.splits["val"]
    predicted = predict_in_batches(model, x_val, datamodule.batch_size).numpy()
    threshold, labels = getattr(model, "threshold", None), datamodule.class_labels
    frame = prediction_frame(y_val.reshape(-1).numpy(), predicted, datamodule.task, threshold, labels)
    frame.insert(0, "row", datamodule.split_positions["val"])
    frame.insert(1, "fold", datamodule.cv["fold"])
    frame.to_csv(path, index=False)


def write_prediction_report(
    out_dir: Path,
    rows: np.ndarray,
    actual: np.ndarray,
    predicted: np.ndarray,
    task: str,
    target_name: str,
    class_labels: list[str],
    threshold: float | None,
    matrices: dict[str, list],
    history: RunResult | None = None,
    loggers=(),
    step: int = 0,
) -> None:
    """test_predictions.csv and figures/*.png (also to the loggers) from predictions alone, for a network's test, the
    LightGBM baseline and ensembles: binary `predicted` holds probabilities, multiclass one probability per class;
    `rows` are the test rows' positions in the file, as oof_predictions.csv gives its rows."""
    frame = prediction_frame(actual, predicted, task, threshold, class_labels)  # one row per test row, in split order
    frame.insert(0, "row", rows)  # so the predictions join back to the user's table
    # each number in its shortest exact spelling for its dtype: a float32 target's 9.57 stays 9.57, not 9.56999969
    write_atomically(out_dir / "test_predictions.csv", lambda h: frame.to_csv(h, index=False), text=True)
    pictures = {}
    if history is not None:
        pictures["loss_curves"] = figures.loss_curves_figure(history.train_loss, history.val_loss, history.best_epoch)
    if task == "regression":
        pictures["predicted_vs_actual"] = figures.predicted_vs_actual_figure(actual, predicted, target_name)
        pictures["residuals"] = figures.residuals_figure(actual, predicted, target_name)
    elif "test_confusion_matrix" in matrices:
        pictures["confusion_matrix"] = figures.confusion_matrix_figure(matrices["test_confusion_matrix"], class_labels)
    figures.save_figures(pictures, out_dir / "figures", loggers, step)
