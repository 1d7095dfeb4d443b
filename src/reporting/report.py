"""What a run (or an evaluation of a checkpoint) leaves besides its metrics: the test predictions, the figures
drawn from them, and the check that the model beats a constant guess. Training and `src.eval` share it, so an
evaluation of the best checkpoint reproduces the training run's files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from src.models.inference import predict_in_batches
from src.reporting.diagnosis import Diagnosis, diagnose
from src.reporting.results import RunResult


def write_test_report(
    out_dir: Path, model, datamodule, matrices: dict[str, list], logger=None, step: int = 0, history: RunResult | None = None
) -> Diagnosis:
    """test_predictions.csv and figures/*.png (also into TensorBoard when given its logger); returns the diagnosis.

    The model must hold the weights that were tested (the best checkpoint's, after training)."""
    from src.reporting.figures import (
        confusion_matrix_figure,
        loss_curves_figure,
        predicted_vs_actual_figure,
        residuals_figure,
        save_figures,
    )

    table = datamodule.table
    x_test, y_test = datamodule.splits["test"]
    actual = y_test.reshape(-1).numpy()
    predicted = predict_in_batches(model, x_test, datamodule.batch_size).numpy()
    threshold = getattr(model, "threshold", None)
    write_test_predictions(out_dir / "test_predictions.csv", actual, predicted, table.task, threshold)

    figures = {}
    if history is not None:
        figures["loss_curves"] = loss_curves_figure(history.train_loss, history.val_loss, history.best_epoch)
    if table.task == "regression":
        figures["predicted_vs_actual"] = predicted_vs_actual_figure(actual, predicted, table.target_name)
        figures["residuals"] = residuals_figure(actual, predicted, table.target_name)
    elif "test_confusion_matrix" in matrices:
        figures["confusion_matrix"] = confusion_matrix_figure(matrices["test_confusion_matrix"], table.class_labels)
    save_figures(figures, out_dir / "figures", logger, step)

    x_val, y_val = datamodule.splits["val"]
    return diagnose(model, x_val, y_val, table.task, datamodule.batch_size, table.class_labels)


def write_test_predictions(path: Path, actual: np.ndarray, predicted: np.ndarray, task: str, threshold: float | None) -> None:
    """The data behind the test figures, one row per test row in split order."""
    import pandas as pd

    if task == "regression":
        frame = pd.DataFrame({"actual": actual, "predicted": predicted})
    else:
        # the rule torchmetrics' binary metrics use: class 1 when the probability is above the threshold
        frame = pd.DataFrame({"actual": actual.astype(int), "probability": predicted, "predicted": (predicted > threshold).astype(int)})
    frame.to_csv(path, index=False, float_format="%.9g")


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

        pd.DataFrame({"actual": actual.astype(int), "predicted": predicted.argmax(1)}).to_csv(out_dir / "test_predictions.csv", index=False)
    else:
        write_test_predictions(out_dir / "test_predictions.csv", actual, predicted, task, threshold)
    figures = {}
    if history is not None:
        figures["loss_curves"] = loss_curves_figure(history.train_loss, history.val_loss, history.best_epoch)
    if task == "regression":
        figures["predicted_vs_actual"] = predicted_vs_actual_figure(actual, predicted, target_name)
        figures["residuals"] = residuals_figure(actual, predicted, target_name)
    elif "test_confusion_matrix" in matrices:
        figures["confusion_matrix"] = confusion_matrix_figure(matrices["test_confusion_matrix"], class_labels)
    save_figures(figures, out_dir / "figures")
