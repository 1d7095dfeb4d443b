"""The lesson's 60/20/20 split and k-fold cross-validation (the lesson's test rows kept, the rest cut into folds,
stratified for classification), as arrays of row positions: rows are never copied."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from src.errors import UserError, first_line


def split_rows(
    n_rows: int,
    test_fraction: float,
    val_fraction: float,
    random_state: int,
    stratify: np.ndarray | None = None,
    class_labels: list[str] = (),
) -> dict[str, np.ndarray]:
    """Test first, then validation out of the rest: 0.2 and 0.2 of all rows give the lesson's 0.2 / 0.25 calls; the
    positions come out in the order scikit-learn's train_test_split would give the rows themselves."""
    try:
        rest, test = train_test_split(np.arange(n_rows), test_size=test_fraction, random_state=random_state, stratify=stratify)
        rest_labels = None if stratify is None else stratify[rest]
        train, val = train_test_split(
            rest, test_size=val_fraction / (1 - test_fraction), random_state=random_state, stratify=rest_labels
        )
    except ValueError as exc:  # a class too small to be in every split: named by its label, not scikit-learn's code
        few = [f"{class_labels[int(c)]!r} ({n})" for c, n in zip(*np.unique(stratify, return_counts=True)) if n < 3]
        problem = f"classes with fewer than 3 rows cannot have one in each split: {', '.join(few)}" if few else first_line(exc)
        raise UserError(f"data.stratify=true cannot split these rows: {problem}; set data.stratify=false") from None
    return {"train": train, "val": val, "test": test}


def warn_of_absent_classes(codes: dict[str, np.ndarray], class_labels: list[str], hint: str) -> None:
    """A class without a row in a split (a rare class, an unstratified split): training cannot learn it, and validation
    or test cannot judge it (its recall is 0 and a binary AUROC undefined); said once per split."""
    counts = {stage: np.bincount(y, minlength=len(class_labels)) for stage, y in codes.items()}
    total = sum(counts.values())
    hint = hint if total.min() >= 3 else ""  # stratify refuses a class of fewer rows than splits
    for stage, count in counts.items():
        absent = [f"{class_labels[c]!r} ({total[c]} of {total.sum()} rows)" for c in np.flatnonzero(count == 0)]
        if absent:
            effect = "the model cannot learn it" if stage == "train" else "its metrics cannot judge it"
            name = {"train": "training", "val": "validation"}.get(stage, stage)
            named = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more classes" if len(absent) > 10 else "")
            warnings.warn(f"the {name} split holds no row of class {named}: {effect}{hint}", UserWarning, stacklevel=2)


def split_like_the_lesson(
    x: np.ndarray, y: np.ndarray, test_fraction: float, val_fraction: float, random_state: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The split applied to arrays (the lesson's own calls give the same rows)."""
    return {stage: (x[rows], y[rows]) for stage, rows in split_rows(len(y), test_fraction, val_fraction, random_state).items()}


def split_sizes(n_rows: int, test_fraction: float, val_fraction: float) -> tuple[int, int, int]:
    """Rows in train, validation and test, as scikit-learn's train_test_split rounds them (test sizes up)."""
    n_test = math.ceil(test_fraction * n_rows)
    n_val = math.ceil(val_fraction / (1 - test_fraction) * (n_rows - n_test))
    return n_rows - n_test - n_val, n_val, n_test


def check_enough_rows(n_rows: int, test_fraction: float, val_fraction: float, source: str) -> None:
    """Two rows per split at least: R2 and the scaler need a spread, and training needs something to learn from."""
    train, val, test = split_sizes(n_rows, test_fraction, val_fraction)
    if min(train, val, test) >= 2:
        return
    needed = next(n for n in range(n_rows + 1, 10 * n_rows + 100) if min(split_sizes(n, test_fraction, val_fraction)) >= 2)
    raise UserError(
        f"{source} has too few rows for the split: {n_rows} rows give {train} train / {val} validation / {test} test; "
        f"data.test_fraction={test_fraction} and data.val_fraction={val_fraction} need at least {needed} rows"
    )


def fold_rows(
    y: np.ndarray, test_fraction: float, random_state: int, folds: int, stratify: bool
) -> tuple[list[np.ndarray], np.ndarray]:
    """([validation rows of fold 0, ..., fold k-1], test rows): the folds partition every row that is not a test row."""
    # the test rows exactly as the lesson's first train_test_split(x, y, test_size, random_state) cuts them
    rest, test = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=random_state)
    if len(rest) < 2 * folds:  # two validation rows a fold, as check_enough_rows asks of the lesson's split
        raise UserError(
            f"cv.folds={folds} is too many for the {len(rest)} rows that are not test rows: each fold needs 2 validation "
            f"rows at least (cv.folds <= {len(rest) // 2})"
        )
    splitter = (StratifiedKFold if stratify else KFold)(folds, shuffle=True, random_state=random_state)
    labels = np.asarray(y)[rest] if stratify else None
    return [rest[val] for _, val in splitter.split(rest, labels)], test


def fold_positions(
    y: np.ndarray, test_fraction: float, random_state: int, folds: int, fold: int, stratify: bool
) -> dict[str, np.ndarray]:
    """Row positions of each split: fold `fold` validates, the other folds train, the lesson's test rows test."""
    val_folds, test = fold_rows(y, test_fraction, random_state, folds, stratify)
    train = np.sort(np.concatenate([rows for i, rows in enumerate(val_folds) if i != fold]))
    return {"train": train, "val": val_folds[fold], "test": test}
