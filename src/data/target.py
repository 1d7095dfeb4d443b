"""The target column: its task (given, known by the source, or inferred) and its values as numbers. Class labels are
sorted (numerically when all are numbers), so code k is `class_labels[k]`."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from src.data.columns import check_no_comma_numbers, factorized_keys, number_text, sorted_labels
from src.data.readers import as_numbers, first_row, listed, missing_values_error, reads_as_number
from src.errors import UserError, is_number, require

TASKS = ("regression", "binary", "multiclass")
MAX_CLASSES = 20  # at most this many distinct whole-number labels are classes; more is a quantity to regress


@dataclass
class Target:
    y: np.ndarray  # float64, one per row (NaN where the row is dropped)
    keep: np.ndarray  # bool, rows with a target
    task: str
    class_labels: list[str]
    inferred: bool  # the task was inferred (printed with why)


# a regression target beyond this in absolute value: its squared errors overflow float32 (max 3.4e38)
LARGEST_TARGET = 1e19


def encode_target(
    values: pd.Series,
    what: str,
    task: str | None,
    missing: str,
    known_task: str | None = None,
    known_labels: list[str] | None = None,
    trained: bool = False,
) -> Target:
    """`what` names the column in messages, e.g. "data.target 'y' of houses.csv"; `trained`: `task` is a trained
    model's (eval), which data.task cannot change."""
    numbers = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numbers:  # no Python call per row: a million distinct targets stay cheap
        y = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing_rows = np.isnan(y)
    else:
        codes, keys = factorized_keys(values)
        missing_rows = np.array([k is None for k in keys] + [True])[codes]
        check_no_comma_numbers(pd.Series([k for k in keys if k is not None], dtype=object), what)
    require(not missing_rows.all(), f"{what} has no values: all {len(missing_rows)} rows are empty; choose another column")
    if missing_rows.any():
        if missing == "refuse":
            raise missing_values_error(what, int(missing_rows.sum()), 0, first_row(missing_rows))
        warnings.warn(f"{what}: {int(missing_rows.sum())} row(s) without a target are left out", UserWarning, stacklevel=2)
    keep = ~missing_rows
    if known_task is not None:
        if task is not None and task != known_task:
            raise UserError(
                f"data.task={task} does not fit {what.split(' of ')[-1]}, whose target is {known_task}; leave data.task as it is"
            )
        return Target(
            values.to_numpy(dtype=np.float64, na_value=np.nan), keep, known_task, list(known_labels or []), inferred=False
        )

    inferred = task is None
    if inferred and numbers:
        distinct = np.unique(y[keep])
        whole = bool(np.all(distinct == np.round(distinct)))  # infinity counts as whole
        task = "binary" if len(distinct) == 2 else "multiclass" if whole and len(distinct) <= MAX_CLASSES else "regression"
    elif inferred:
        task = infer_task(distinct := [k for k in dict.fromkeys(keys) if k is not None])
        # about a label per row ('$101.26', '12.5 kg', a name): not classes a model can learn
        if task == "multiclass" and len(distinct) > max(MAX_CLASSES, keep.sum() / 2):
            if len(words := [k for k in distinct if not reads_as_number(k)]) < len(distinct) / 2:  # numbers, and a few words
                raise UserError(
                    f"{what} is numbers but for {len(words)} text value(s) ({listed(words, 3)}): leave those cells empty to "
                    "leave their rows out, or write them as numbers"
                )
            raise UserError(
                f"{what} has {len(distinct)} distinct labels in {int(keep.sum())} rows ({listed(distinct, 3)}): too many "
                "classes to learn; write numbers without currency signs, units or separators for a regression, or keep "
                "them as classes with data.task=multiclass"
            )
    if task == "regression":
        return Target(regression_values(values, what, keep, trained), keep, task, [], inferred)
    if numbers:  # keyed only now: a regression target's million distinct numbers need no Python call each
        codes, keys = factorized_keys(values)
    labels = sorted_labels(k for k in keys if k is not None)
    check_classes(labels, what, task, trained)
    warn_of_labels_alike_but_for_case(labels, what)
    index = {label: float(i) for i, label in enumerate(labels)}
    per_key = np.array([np.nan if k is None else index[k] for k in keys] + [np.nan])
    return Target(per_key[codes], keep, task, labels, inferred)


def with_positive_label(target: Target, label, what: str) -> Target:
    """Make `label` class 1 of a binary target (the one precision, recall and F1 are about); None keeps the sorted order."""
    if label is None:
        return target
    require(target.task == "binary", f"data.positive_label applies to a binary target; {what} is {target.task}: leave it null")
    text = number_text(float(label)) if is_number(label) else str(label)
    if text not in target.class_labels:
        raise UserError(f"data.positive_label={label!r} is not a label of {what} (labels: {listed(target.class_labels)})")
    if text == target.class_labels[0]:  # swap the two codes; rows without a target stay NaN
        return replace(target, y=1.0 - target.y, class_labels=target.class_labels[::-1])
    return target


def check_classes(labels: list[str], what: str, task: str, trained: bool = False) -> None:
    require(
        len(labels) >= 2,
        f"{what} has one value ({listed(labels)}) in every row: there is nothing to predict; choose another column",
    )
    if task == "binary" and len(labels) != 2:
        got = f"got {len(labels)}: {listed(labels, 5)}"
        if trained:
            raise UserError(f"{what} must hold two distinct labels, as this binary classifier was trained on; {got}")
        raise UserError(
            f"{what} must hold exactly two distinct labels for data.task=binary; {got}; use data.task=multiclass for more classes"
        )


def warn_of_labels_alike_but_for_case(labels: list[str], what: str) -> None:
    """'Yes' and 'yes' are two classes: most often one class written two ways, so the user is told."""
    by_folded: dict[str, list[str]] = {}
    for label in labels:
        by_folded.setdefault(label.casefold(), []).append(label)
    alike = [" and ".join(repr(label) for label in group) for group in by_folded.values() if len(group) > 1]
    if alike:
        warnings.warn(
            f"{what} has labels that differ only in case ({'; '.join(alike[:3])}): each is a class of its own; "
            "if they mean one class, write them alike in the file",
            UserWarning,
            stacklevel=3,
        )


def infer_task(labels: list[str]) -> str:
    """Text labels: two are binary, more multiclass; numbers written as text: as numbers (see encode_target)."""
    if len(labels) == 2:
        return "binary"
    if not all(reads_as_number(k) for k in labels):
        return "multiclass"
    whole = all(float(k).is_integer() for k in labels)
    return "multiclass" if whole and len(labels) <= MAX_CLASSES else "regression"


def regression_values(values: pd.Series, what: str, keep: np.ndarray, trained: bool = False) -> np.ndarray:
    y, text = as_numbers(values)
    if text is not None:
        bad = np.isnan(y) & keep
        if bad.any():
            row = int(np.argmax(bad))
            hint = "the model is a regressor" if trained else "use data.task=binary or multiclass for labels"
            raise UserError(f"{what} is not numeric: row {row + 1} holds {text.iloc[row]!r}; {hint}")
    infinite = np.isinf(y)
    if infinite.any():
        raise missing_values_error(what, 0, int(infinite.sum()), first_row(infinite))
    largest = float(np.abs(y[keep]).max())
    if largest > LARGEST_TARGET:
        divisor = 10.0 ** (math.floor(math.log10(largest)) - 2)
        raise UserError(
            f"{what} holds values up to {largest:.3g}: their squared errors overflow the float32 training loss; "
            f"rescale the column first (e.g. divide it by {divisor:.0e})"
        )
    if not trained and np.ptp(y[keep]) == 0:  # every metric of a constant would be perfect or undefined
        raise UserError(f"{what} has one value ({y[keep][0]:g}) in every row: there is nothing to predict; choose another column")
    return y


def describe_task(target: Target, column: str) -> str:
    if not target.inferred:
        return f"task: {target.task} (set by data.task)"
    if target.task == "regression":
        return f"task: regression (inferred: {column} holds many distinct numbers; data.task overrides)"
    return f"task: {target.task} (inferred: {column} has {len(target.class_labels)} labels: {listed(target.class_labels, 8)}; data.task overrides)"
