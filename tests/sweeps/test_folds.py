"""k-fold rows: the folds partition the non-test rows, the test rows are the lesson's, classes stay mixed."""

from __future__ import annotations

import numpy as np
import pytest

from src.data.datamodule import split_like_the_lesson
from src.data.splits import fold_positions, fold_rows


@pytest.mark.parametrize("stratify", [True, False])
def test_folds_partition_the_rows_that_are_not_test_rows(stratify):
    y = np.random.default_rng(0).integers(0, 2, size=569).astype(np.float32)
    folds, test = fold_rows(y, test_fraction=0.2, random_state=21, folds=5, stratify=stratify)
    every = np.concatenate(folds)
    assert len(every) == len(set(every.tolist())), "a row is in two folds"
    assert set(every.tolist()) | set(test.tolist()) == set(range(569))
    assert not set(every.tolist()) & set(test.tolist()), "a test row is in a fold"


def test_test_split_is_the_lessons():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 3)), rng.integers(0, 2, size=300).astype(np.float32)
    lesson = split_like_the_lesson(x, y, 0.2, 0.2, 21)
    for fold in range(5):
        positions = fold_positions(y, 0.2, 21, folds=5, fold=fold, stratify=True)
        np.testing.assert_array_equal(x[positions["test"]], lesson["test"][0])
        assert len(positions["train"]) + len(positions["val"]) == 240


def test_classification_folds_keep_the_class_mix():
    y = np.array([0] * 100 + [1] * 400, dtype=np.float32)
    folds, _ = fold_rows(y, 0.2, 21, folds=4, stratify=True)
    shares = [y[rows].mean() for rows in folds]
    assert max(shares) - min(shares) < 0.02


def test_same_settings_same_folds():
    y = np.arange(200, dtype=np.float32)
    a, _ = fold_rows(y, 0.2, 21, 5, stratify=False)
    b, _ = fold_rows(y, 0.2, 21, 5, stratify=False)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_datamodule_trains_on_the_other_folds(make_config):
    from src.data.sources import breast_cancer
    from src.train import build_datamodule

    datamodule = build_datamodule(make_config("cv.folds=5", "cv.fold=2"))
    table = breast_cancer()
    folds, test = fold_rows(table.frame[table.target].to_numpy(), 0.2, 21, 5, stratify=True)
    assert len(datamodule.splits["val"][0]) == len(folds[2])
    assert len(datamodule.splits["train"][0]) == sum(len(f) for i, f in enumerate(folds) if i != 2)
    assert len(datamodule.splits["test"][0]) == len(test)


def test_more_folds_than_rows_is_one_error_line(make_config, tmp_path):
    # scikit-learn's ValueError (n_splits=12 greater than the number of samples) came out as every job's traceback
    from src.errors import UserError
    from src.train import build_datamodule

    rows = np.random.default_rng(0).normal(size=(10, 2))
    (tmp_path / "ten.csv").write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in rows))
    table = ["experiment=csv", f"data.path={tmp_path / 'ten.csv'}", "data.target=y"]
    for folds in (12, 5):  # 5: folds of 1 validation row, for which R2 and the report's spread mean nothing
        with pytest.raises(UserError, match=rf"^cv.folds={folds} is too many for the 8 rows that are not test rows: .*<= 4\)$"):
            build_datamodule(make_config(*table, f"cv.folds={folds}", "cv.fold=0"))
    assert len(build_datamodule(make_config(*table, "cv.folds=4", "cv.fold=0")).splits["val"][0]) == 2
