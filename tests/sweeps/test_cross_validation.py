"""Mean ± std over seeds and folds, diverged jobs counted apart; both runners write the fold's validation rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from src.data.splits import fold_rows
from src.reporting.cross_validation import mean_and_std


def job(lr: str, seed: str, loss: float, acc: float) -> dict:
    return {"overrides": {"model.optimizer.lr": lr, "seed": seed}, "best_val_loss": loss, "test_acc": acc}


def test_jobs_differing_only_in_seed_are_one_setting_and_diverged_ones_are_counted_apart():
    rows = [job("0.1", "0", 1.0, 0.8), job("0.1", "1", 3.0, 0.6), job("0.1", "2", math.inf, 0.0), job("0.01", "0", 2.0, 0.7)]
    groups = {g["model.optimizer.lr"]: g for g in mean_and_std(rows, ["model.optimizer.lr", "seed"])}
    assert groups["0.1"]["n"] == 3 and groups["0.1"]["diverged"] == 1
    assert groups["0.1"]["best_val_loss_mean"] == 2.0 and groups["0.1"]["test_acc_mean"] == pytest.approx(0.7)
    assert groups["0.1"]["best_val_loss_std"] == pytest.approx(math.sqrt(2))
    assert groups["0.01"]["n"] == 1 and math.isnan(groups["0.01"]["best_val_loss_std"])


@pytest.mark.parametrize("runner", ["plain", "lightning"])
def test_each_runner_validates_on_the_same_fold(make_config, runner, tmp_path):
    from src.train import train

    cfg = make_config(f"runner={runner}", "cv.folds=3", "cv.fold=1", "trainer.max_epochs=1")
    train(cfg)
    written = pd.read_csv(tmp_path / "run" / "val_predictions.csv")
    y = load_breast_cancer().target  # the cancer source's rows in their order
    folds, _ = fold_rows(np.asarray(y, dtype=np.float32), 0.2, 21, 3, stratify=True)
    assert written["row"].tolist() == folds[1].tolist()
    assert (written["fold"] == 1).all()


def test_a_multiclass_fold_writes_each_class_probability_of_its_validation_rows(make_config, tmp_path):
    from src.train import train

    train(make_config("experiment=penguins", "cv.folds=3", "cv.fold=0", "trainer.max_epochs=2"))
    written = pd.read_csv(tmp_path / "run" / "val_predictions.csv")
    probabilities = written[["probability_Adelie", "probability_Chinstrap", "probability_Gentoo"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert (written["predicted"] == probabilities.argmax(1)).all()


def test_a_binary_fold_writes_class_codes_and_the_predicted_class_as_test_predictions_does(make_config, tmp_path):
    from src.train import train

    train(make_config("cv.folds=3", "cv.fold=0", "trainer.max_epochs=2", "model.optimizer.lr=0.01"))
    written = pd.read_csv(tmp_path / "run" / "val_predictions.csv")
    tested = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    # the classes' names too, as in test_predictions.csv, so oof_predictions.csv can be scored alike (they were missing)
    assert list(written.columns) == ["row", "fold", *tested.columns[1:]]  # as docs/sweeps.md says
    assert list(tested.columns) == ["row", "actual", "probability", "predicted", "actual_label", "predicted_label"]
    labels = np.asarray(load_breast_cancer().target_names)
    assert (written["actual_label"] == labels[written["actual"]]).all()
    assert written["actual"].dtype == np.int64 and set(written["actual"]) == {0, 1}  # class codes, not 0.0 and 1.0
    assert (written["predicted"] == (written["probability"] > 0.5).astype(int)).all()  # model.threshold, as in the test


def test_a_refused_job_is_not_counted_as_diverged():
    # `-m seeds=2 data.val_fraction=0.2,1.2`: the 1.2 jobs are refused before training and leave no metrics.json
    refused = [{"overrides": {"data.val_fraction": "1.2", "seed": s}} for s in ("0", "1")]
    ran = [{"overrides": {"data.val_fraction": "0.2", "seed": "0"}, "best_val_loss": 0.5, "test_acc": 0.8}]
    groups = {g["data.val_fraction"]: g for g in mean_and_std([*ran, *refused], ["data.val_fraction", "seed"])}
    assert (groups["1.2"]["n"], groups["1.2"]["diverged"]) == (0, 0)  # no job of it ran: none diverged
    assert (groups["0.2"]["n"], groups["0.2"]["diverged"], groups["0.2"]["best_val_loss_mean"]) == (1, 0, 0.5)
