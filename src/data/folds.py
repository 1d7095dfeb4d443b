"""k-fold cross-validation rows: the lesson's test split stays as it is; the other rows are cut into k folds.

Pure functions of (row count, targets, settings), so a run, the plain runner and the out-of-fold report all
compute the same folds. The test rows are chosen by the lesson's first `train_test_split` call, unchanged; the
remaining rows are cut with scikit-learn's StratifiedKFold for classification (each fold keeps the class mix)
or KFold for regression, shuffled with `random_state`.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split


def test_rows(n_rows: int, test_fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) row indices exactly as the lesson's first `train_test_split(x, y, test_size, random_state)` cuts them."""
    rest, test = train_test_split(np.arange(n_rows), test_size=test_fraction, random_state=random_state)
    return rest, test


def fold_rows(
    y: np.ndarray, test_fraction: float, random_state: int, folds: int, stratify: bool
) -> tuple[list[np.ndarray], np.ndarray]:
    """([validation rows of fold 0, ..., fold k-1], test rows): the folds partition every row that is not a test row."""
    rest, test = test_rows(len(y), test_fraction, random_state)
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=random_state)
        if stratify
        else KFold(folds, shuffle=True, random_state=random_state)
    )
    labels = np.asarray(y)[rest] if stratify else None
    return [rest[val] for _, val in splitter.split(rest, labels)], test


def split_for_fold(
    x: np.ndarray, y: np.ndarray, test_fraction: float, random_state: int, folds: int, fold: int, stratify: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fold `fold` validates, the other folds train, the lesson's test rows test: the same dict as the lesson's split."""
    val_folds, test = fold_rows(y, test_fraction, random_state, folds, stratify)
    val = val_folds[fold]
    train = np.sort(np.concatenate([rows for i, rows in enumerate(val_folds) if i != fold]))
    return {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": (x[test], y[test])}
