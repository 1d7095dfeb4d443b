"""What the model learned: each table column's permutation importance on the validation rows (as scikit-learn's
`permutation_importance`): the drop in R2 or accuracy when the column, with all its preprocessed inputs, is shuffled."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from src.data.preprocessing import DATE_FEATURES, columns_of
from src.models.inference import predict_in_batches
from src.models.metrics import r2_score

METRIC = {"regression": "r2", "binary": "acc", "multiclass": "acc"}
# a wide table or a large net scores fewer rows: about this many floating-point operations in all (torch's count), so
# the importance costs about what TabM's on a 10-column table of 10k rows does; and at least MIN_ROWS rows
FLOP_BUDGET, MIN_ROWS = 2e12, 100


@dataclass
class Importance:
    metric: str  # the validation metric whose drop is reported (r2 or acc)
    baseline: float  # that metric on the unshuffled rows
    mean: dict[str, float]  # column -> mean drop, most important first
    std: dict[str, float]  # column -> standard deviation of the drop over the repeats
    repeats: int
    rows: int  # validation rows scored (a sample above max_rows)
    seconds: float = 0.0
    kinds: dict[str, str] = field(default_factory=dict)  # column -> numeric, categorical or date


def input_columns(state: dict) -> dict[str, list[int]]:
    """Each table column the model reads -> the positions of its inputs in a batch's x, in src/data/preprocessing.py's
    layout: numerics, date features, missing indicators, category codes."""
    numeric, dates, categorical = (columns_of(state, kind) for kind in ("numeric", "date", "categorical"))
    owners = [*numeric, *(c for c in dates for _ in DATE_FEATURES), *state["missing_indicators"], *categorical]
    positions: dict[str, list[int]] = {}
    for i, column in enumerate(owners):  # the column each input of x comes from
        positions.setdefault(column, []).append(i)
    return {c: positions[c] for c in state["columns"] if c in positions}  # table order


def score(task: str, actual: torch.Tensor, predicted: torch.Tensor, threshold: float) -> float:
    if task == "regression":
        return r2_score(predicted, actual)
    if task == "binary":
        return int(((predicted > threshold).long() == actual.long()).sum()) / len(actual)  # exact: no float32 noise
    return int((predicted.argmax(1) == actual.long()).sum()) / len(actual)


def flops_per_row(model, x: torch.Tensor) -> int | None:
    """The floating-point operations of one row's prediction, as torch counts them; None where it cannot follow the net."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    try:  # out of Lightning's inference mode, in which torch's module tracker fails on a module returning a parameter
        with torch.inference_mode(False), counter:
            predict_in_batches(model, x[:1], 1)
    except Exception:  # noqa: BLE001 - a net it cannot follow (the FT-Transformer): its rows are left as they are
        return None
    return counter.get_total_flops()


def permutation_importance(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    columns: dict[str, list[int]],
    repeats: int = 3,
    max_rows: int = 10_000,
    seed: int = 0,
    batch_size: int = 4096,
    threshold: float = 0.5,
) -> Importance:
    """The mean and spread, over `repeats` shuffles, of the drop in the task's metric when each column is shuffled.
    Above `max_rows` rows (fewer for a wide table or a large net) a random sample is scored."""
    start = time.perf_counter()
    if flops := flops_per_row(model, x):
        max_rows = min(max_rows, max(MIN_ROWS, int(FLOP_BUDGET // (flops * (len(columns) * repeats + 1)))))
    generator = np.random.default_rng(seed)  # its own generator: the run's random state is left as it was
    if len(x) > max_rows:
        rows = torch.as_tensor(np.sort(generator.choice(len(x), size=max_rows, replace=False)))
        x, y = x[rows], y[rows]
    y = y.reshape(-1)
    baseline = score(task, y, predict_in_batches(model, x, batch_size), threshold)
    drops: dict[str, list[float]] = {}
    shuffled = x.clone()
    for column, positions in columns.items():
        for _ in range(repeats):
            order = torch.as_tensor(generator.permutation(len(x)))
            shuffled[:, positions] = x[:, positions][order]
            predicted = predict_in_batches(model, shuffled, batch_size)
            drops.setdefault(column, []).append(baseline - score(task, y, predicted, threshold))
        shuffled[:, positions] = x[:, positions]
    # rounded: drops that cancel (+1/30, -1/30, 0) give 0, not a rounding error printed as +3.7e-17
    mean = dict(sorted(((c, round(float(np.mean(d)), 12)) for c, d in drops.items()), key=lambda item: -item[1]))
    std = {c: round(float(np.std(drops[c])), 12) for c in mean}
    return Importance(METRIC[task], baseline, mean, std, repeats, rows=len(x), seconds=time.perf_counter() - start)


def validation_importance(settings, model, datamodule, seed: int) -> Importance | None:
    """The run's importance on its validation rows with the settings of `importance` (None when turned off)."""
    if settings is None or settings.get("repeats", 0) == 0:
        return None
    importance = permutation_importance(
        model,
        *datamodule.splits["val"],
        datamodule.task,
        input_columns(datamodule.preprocessing),
        repeats=settings.repeats,
        max_rows=settings.max_rows,
        seed=seed,
        batch_size=max(datamodule.batch_size, 4096),  # prediction only: larger batches are cheaper
        threshold=float(getattr(model, "threshold", 0.5) or 0.5),
    )
    importance.kinds = {c: datamodule.preprocessing["columns"][c] for c in importance.mean}
    return importance


def log_importance(loggers, importance: Importance, step: int) -> None:
    """TensorBoard: one scalar per column under importance/ (other loggers have the figure and metrics.json)."""
    from lightning.pytorch.loggers import TensorBoardLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            for column, value in importance.mean.items():
                logger.experiment.add_scalar(f"importance/{column}", value, global_step=step)
