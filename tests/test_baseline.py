"""The LightGBM baseline sees exactly the network run's rows, stops on validation, and searches on validation only."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import src.baseline
from src.baseline import baseline, raw_splits
from src.train import build_datamodule
from tests.conftest import compose_config, needs_housing


def baseline_config(tmp_path, *overrides):
    return compose_config(*overrides, output_dir=tmp_path, config_name="baseline")


@needs_housing
def test_baseline_tests_on_the_network_runs_test_rows_and_writes_its_report(tmp_path):

    cfg = baseline_config(tmp_path, "experiment=housing", "baseline.max_rounds=40")
    result = baseline(cfg)

    datamodule = build_datamodule(cfg)  # what src.train builds for the network run
    datamodule.setup("fit")
    splits = raw_splits(datamodule)
    for stage, (x_scaled, y) in datamodule.splits.items():  # same rows, same order, same features, only unscaled
        torch.testing.assert_close(datamodule.transform_frame(splits[stage].x.copy(), "rows"), x_scaled)
        np.testing.assert_array_equal(splits[stage].y.astype(np.float32), y.squeeze(1).numpy())
    predictions = pd.read_csv(tmp_path / "test_predictions.csv")
    np.testing.assert_allclose(predictions["actual"], datamodule.splits["test"][1].squeeze(1).numpy(), rtol=1e-6)

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["runner"] == "lightgbm" and metrics["rows"] == {"train": 12384, "val": 4128, "test": 4128}
    assert set(metrics["versions"]) == {"lightgbm", "optuna", "scikit-learn"}
    assert metrics["test"]["test_r2"] == pytest.approx(result.test["test_r2"]) and result.test["test_r2"] > 0.6
    assert {"loss_curves.png", "predicted_vs_actual.png", "residuals.png"} <= {p.name for p in (tmp_path / "figures").iterdir()}


def test_early_stopping_keeps_the_round_with_the_lowest_validation_loss(tmp_path):
    # a high learning rate overfits the cancer data within a few rounds, so validation turns before training does
    cfg = baseline_config(tmp_path, "baseline.early_stopping_rounds=10", "baseline.params.learning_rate=0.5")
    result = baseline(cfg)
    assert result.best_epoch == int(np.argmin(result.val_loss)) + 1
    assert result.stopped_epoch == result.best_epoch + 10 and result.stop_reason == "early_stopping"
    assert np.argmin(result.train_loss) + 1 > result.best_epoch  # the training loss alone would have gone on
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test"]["test_acc"] > 0.9 and len(metrics["matrices"]["test_confusion_matrix"]) == 2


def test_the_search_never_gives_lightgbm_a_test_row(tmp_path, monkeypatch):
    import lightgbm

    seen_rows: list[pd.Index] = []
    real_dataset = lightgbm.Dataset

    def recording_dataset(data, label=None, **kwargs):
        seen_rows.append(data.index)
        return real_dataset(data, label, **kwargs)

    monkeypatch.setattr(lightgbm, "Dataset", recording_dataset)
    fits = []
    real_fit = src.baseline.fit_lightgbm
    monkeypatch.setattr(src.baseline, "fit_lightgbm", lambda *args, **kwargs: fits.append(1) or real_fit(*args, **kwargs))
    cfg = baseline_config(tmp_path, "baseline.trials=3", "baseline.max_rounds=20")
    result = baseline(cfg)

    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    test_rows = set(raw_splits(datamodule)["test"].x.index)
    assert len(fits) == 3 and len(seen_rows) == 6  # a training and a validation set per trial, nothing else
    assert all(test_rows.isdisjoint(rows) for rows in seen_rows)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["search"]["trials"] == 3 and metrics["search"]["on"] == "validation"
    assert metrics["best_val_loss"] == pytest.approx(metrics["search"]["best_val_loss"])
    assert result.test  # the test split is used once, after the search, to report


def test_categorical_columns_reach_lightgbm_as_categories():
    from src.baseline import Split, fit_lightgbm, lightgbm_params

    rng = np.random.default_rng(0)
    colour = pd.Categorical(rng.choice(["red", "green", "blue"], 400))
    x = pd.DataFrame({"colour": colour, "size": rng.normal(size=400)})
    x.loc[::7, "size"] = np.nan  # missing values go to LightGBM as they are
    y = (colour == "red").astype(float) * 3 + rng.normal(scale=0.1, size=400)
    train, val = Split(x[:300], y[:300]), Split(x[300:], y[300:])
    fitted = fit_lightgbm(train, val, lightgbm_params("regression", 0, {"min_child_samples": 5}, 0, 1), 50, 10)
    assert fitted.booster.dump_model()["feature_infos"]["colour"]["values"]  # LightGBM's record of a categorical split
    assert fitted.best_val_loss < 0.05


def test_bad_baseline_settings_are_one_line_errors(tmp_path):
    from src.errors import UserError

    with pytest.raises(UserError, match=r"baseline.trials must be an integer >= 0; got -1"):
        baseline(baseline_config(tmp_path, "baseline.trials=-1"))


def test_a_real_table_reaches_lightgbm_as_the_network_reads_it(tmp_path):
    from src.data.preprocessing import DATE_FEATURES
    from tests.support.tables import table

    frame = table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    overrides = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=kind", "data.categorical=[cylinders]"]
    result = baseline(baseline_config(tmp_path, *overrides, "baseline.max_rounds=50"))

    datamodule = build_datamodule(baseline_config(tmp_path, *overrides))
    datamodule.setup("fit")
    x = raw_splits(datamodule)["train"].x
    # the identifier 'code' is left out, the date is its calendar features, listed categories are categories
    assert list(x.columns) == ["size", "weight", "colour", "indoor", "cylinders"] + [f"day.{f}" for f in DATE_FEATURES]
    assert list(x["cylinders"].cat.categories) == ["4", "6", "8"] and list(x["indoor"].cat.categories) == ["False", "True"]
    assert int(x["colour"].isna().sum()) == int(frame.loc[x.index, "colour"].isna().sum())
    assert result.test["test_acc"] > 0.9  # the kind is the weight above 50


def test_column_names_with_brackets_colons_or_quotes_reach_lightgbm(tmp_path):
    """LightGBM refuses JSON's syntax characters in feature names: 'area [m2]' ended the baseline in a traceback."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area [m2]": rng.uniform(30, 200, 300), "ratio: a/b": rng.normal(size=300), 'say "hi"': 1.0})
    frame["price, usd"] = frame["area [m2]"] * 3000 + rng.normal(size=300) * 1e4
    frame.to_csv(tmp_path / "t.csv", index=False)
    overrides = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target='price, usd'", "baseline.max_rounds=50"]
    result = baseline(baseline_config(tmp_path, *overrides))
    assert result.test["test_r2"] > 0.9  # the area is the price


def test_a_baseline_no_better_than_a_constant_guess_warns_as_a_network_does(tmp_path, capsys):
    # the networks' check (src/reporting/diagnosis.py) was never run on LightGBM's predictions; a feature that never
    # changes leaves LightGBM no split, so it predicts the training mean for every row
    y = np.random.default_rng(0).normal(size=300)
    pd.DataFrame({"a": 1.0, "y": y}).to_csv(path := tmp_path / "noise.csv", index=False)
    cfg = baseline_config(tmp_path / "noise", "experiment=csv", f"data.path={path}", "data.target=y")
    baseline(cfg)
    [warning] = json.loads((tmp_path / "noise" / "metrics.json").read_text())["warnings"]
    assert warning.startswith("no better than a constant guess: validation R2 is ")
    assert f"warning: {warning}" in capsys.readouterr().out.replace("\n", "")

    baseline(baseline_config(tmp_path / "cancer"))  # a baseline that learns: no warning
    assert json.loads((tmp_path / "cancer" / "metrics.json").read_text())["warnings"] == []
