"""What a run (or an evaluation of a checkpoint) leaves besides its metrics: the test predictions, the figures
drawn from them, and the check that the model beats a constant guess. Training and `src.eval` share it, so an
evaluation of the best checkpoint reproduces the training run's files.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import numpy as np

from src.models.inference import predict_in_batches
from src.reporting.diagnosis import Diagnosis, diagnose
from src.reporting.importance import report_importance
from src.reporting.results import RunResult
from src.runs.atomic import write_atomically
from src.runs.resume import flatten_config


def write_test_report(
    out_dir: Path, model, datamodule, matrices: dict[str, list], loggers=(), step: int = 0, history: RunResult | None = None
) -> Diagnosis:
    """test_predictions.csv and figures/*.png (also to the loggers that take images or artifacts); returns the diagnosis.

    The model must hold the weights that were tested (the best checkpoint's, after training)."""
    from src.reporting.figures import (
        confusion_matrix_figure,
        loss_curves_figure,
        predicted_vs_actual_figure,
        residuals_figure,
        save_figures,
    )

    x_test, y_test = datamodule.splits["test"]
    actual = y_test.reshape(-1).numpy()
    predicted = predict_in_batches(model, x_test, datamodule.batch_size).numpy()
    threshold = getattr(model, "threshold", None)
    write_test_predictions(
        out_dir / "test_predictions.csv", actual, predicted, datamodule.task, threshold, datamodule.class_labels
    )

    figures = {}
    if history is not None:
        figures["loss_curves"] = loss_curves_figure(history.train_loss, history.val_loss, history.best_epoch)
    if datamodule.task == "regression":
        figures["predicted_vs_actual"] = predicted_vs_actual_figure(actual, predicted, datamodule.target_name)
        figures["residuals"] = residuals_figure(actual, predicted, datamodule.target_name)
    elif "test_confusion_matrix" in matrices:
        figures["confusion_matrix"] = confusion_matrix_figure(matrices["test_confusion_matrix"], datamodule.class_labels)
    save_figures(figures, out_dir / "figures", loggers, step)

    x_val, y_val = datamodule.splits["val"]
    return diagnose(model, x_val, y_val, datamodule.task, datamodule.batch_size, datamodule.class_labels)


def write_test_predictions(
    path: Path, actual: np.ndarray, predicted: np.ndarray, task: str, threshold: float | None, class_labels=()
) -> None:
    """The data behind the test figures, one row per test row in split order."""
    import pandas as pd

    if task == "regression":
        frame = pd.DataFrame({"actual": actual, "predicted": predicted})
    elif task == "multiclass":  # a probability per class, and the most probable class
        labels = list(class_labels) or [str(c) for c in range(predicted.shape[1])]
        frame = pd.DataFrame(
            {"actual": actual.astype(int), **{f"probability_{label}": predicted[:, c] for c, label in enumerate(labels)}}
        )
        frame["predicted"] = predicted.argmax(1)
    else:
        # the rule torchmetrics' binary metrics use: class 1 when the probability is above the threshold
        frame = pd.DataFrame(
            {"actual": actual.astype(int), "probability": predicted, "predicted": (predicted > threshold).astype(int)}
        )
    write_atomically(path, lambda handle: frame.to_csv(handle, index=False, float_format="%.9g"), text=True)


def report_run(cfg, run_dir: Path, result: RunResult, model, datamodule, loggers, resume=None) -> None:
    """Everything a finished (or interrupted) training run leaves: figures and test predictions, the loggers'
    hyperparameters and final metrics, metrics.json, the metrics table and, when it did not end the ordinary
    way, one line that says why."""
    from src.reporting.loggers import finalize_loggers, log_final_metrics
    from src.reporting.results import print_metrics_table, write_metrics_json
    from src.reporting.stops import stop_message
    from src.runs.resume import resume_command

    if result.test:  # an interrupted run, or one without a finite val_loss, tested nothing to report on
        # the model now holds the tested (best) weights: figures, test predictions and the constant-guess check
        diagnosis = write_test_report(
            run_dir, model, datamodule, result.matrices, loggers, step=result.stopped_epoch, history=result
        )
        result.warnings, result.diagnostics = diagnosis.warnings, diagnosis.details
        report_importance(cfg.get("importance"), run_dir, result, model, datamodule, loggers, cfg.seed)  # what it learned
    if not result.interrupted:
        final = {"hp/best_val_loss": result.best_val_loss, **{f"hp/{k}": v for k, v in result.test.items()}}
        log_final_metrics(loggers, hyperparameters(cfg), final, step=result.stopped_epoch)
    finalize_loggers(loggers, "success")
    message = stop_message(result, resume_command(run_dir))
    extra = {"experiment": cfg.name, "seed": cfg.seed, "stop_message": message}
    if datamodule.task == "binary":  # class 1: the one precision, recall and F1 are about
        extra["positive_class"] = datamodule.class_labels[1]
    if resume is not None:
        extra["resumed_from"] = {"checkpoint": str(resume.checkpoint), "epoch": resume.epochs_done}
    write_metrics_json(run_dir / "metrics.json", result, extra=extra)
    print_metrics_table(result, title=f"{cfg.name} ({cfg.runner}) test metrics", class_labels=datamodule.class_labels)
    if message:
        print(message, file=sys.stderr)
    print_run_folder(run_dir, checkpoint=run_dir / "checkpoints" / "best.ckpt" if result.test else None)


def hyperparameters(cfg) -> dict[str, int | float | str | bool]:
    """The settings a logger's hyperparameter table shows: plain values (lists as text), the class names (`_target_`)
    but not Hydra's other underscore keys (`_partial_`)."""
    return {
        key: value if isinstance(value, (int, float, str, bool)) else str(value)
        for key, value in flatten_config(cfg).items()
        if key.rsplit(".", 1)[-1] == "_target_" or not key.rsplit(".", 1)[-1].startswith("_")
    }


def shown_path(path: Path) -> str:
    """Relative to the working folder when it is inside it (as a user typed logs/...), else absolute."""
    relative = os.path.relpath(Path(path).resolve(), Path.cwd())
    return str(path) if relative.startswith("..") else relative


def print_run_folder(run_dir: Path, checkpoint: Path | None = None) -> None:
    """The run's folder on a line of its own (never wrapped, so it can be copied), and commands ready to paste."""
    print(f"run: {shown_path(run_dir)}")
    if checkpoint is not None and checkpoint.is_file():
        ckpt = shlex.quote(shown_path(checkpoint))
        print(f"evaluate: python -m src.eval ckpt_path={ckpt}")
        print(f"predict:  python -m src.predict ckpt_path={ckpt} input=new.csv output=predictions.csv")


def write_prediction_report(
    out_dir: Path,
    actual: np.ndarray,
    predicted: np.ndarray,
    task: str,
    target_name: str,
    class_labels: list[str],
    threshold: float | None,
    matrices: dict[str, list],
    history: RunResult | None = None,
) -> None:
    """test_predictions.csv and figures/*.png from predictions alone: for models that are not a network
    (the LightGBM baseline). Binary `predicted` holds probabilities; multiclass one probability per class."""
    from src.reporting.figures import (
        confusion_matrix_figure,
        loss_curves_figure,
        predicted_vs_actual_figure,
        residuals_figure,
        save_figures,
    )

    if task == "multiclass":
        import pandas as pd

        pd.DataFrame({"actual": actual.astype(int), "predicted": predicted.argmax(1)}).to_csv(
            out_dir / "test_predictions.csv", index=False
        )
    else:
        write_test_predictions(out_dir / "test_predictions.csv", actual, predicted, task, threshold, class_labels)
    figures = {}
    if history is not None:
        figures["loss_curves"] = loss_curves_figure(history.train_loss, history.val_loss, history.best_epoch)
    if task == "regression":
        figures["predicted_vs_actual"] = predicted_vs_actual_figure(actual, predicted, target_name)
        figures["residuals"] = residuals_figure(actual, predicted, target_name)
    elif "test_confusion_matrix" in matrices:
        figures["confusion_matrix"] = confusion_matrix_figure(matrices["test_confusion_matrix"], class_labels)
    save_figures(figures, out_dir / "figures")
