"""What the model learned: each input column's permutation importance on the validation rows."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from src.config import validate_importance
from src.errors import UserError
from src.reporting.importance import input_columns, permutation_importance
from src.train import train
from tests.conftest import compose_config


class Linear(nn.Module):
    """A fixed model: predicts weights @ x, as a task module's `predict` would."""

    def __init__(self, weights):
        super().__init__()
        self.weights = nn.Parameter(torch.tensor(weights, dtype=torch.float32), requires_grad=False)

    def predict(self, x):
        return (x @ self.weights).unsqueeze(1)


def test_the_column_the_target_is_made_of_ranks_first_and_noise_is_near_zero():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(2000, 3)), dtype=torch.float32)
    y = 3 * x[:, 0] + 0.5 * x[:, 1]  # column 2 is noise the model does not use
    model = Linear([3.0, 0.5, 0.0])
    importance = permutation_importance(model, x, y, "regression", {"signal": [0], "weak": [1], "noise": [2]}, repeats=3)
    assert list(importance.mean) == ["signal", "weak", "noise"]
    assert importance.baseline == pytest.approx(1.0)
    # shuffling a column of variance share s costs about 2s of R2 (its variance, twice: lost and added as noise)
    assert importance.mean["signal"] == pytest.approx(2 * 9 / 9.25, abs=0.1)
    assert importance.mean["noise"] == 0.0


def test_a_classifiers_shuffles_that_cancel_give_an_importance_of_exactly_0_not_rounding_noise():
    # 30 rows: the shuffles of column a cost +1/30, -1/30 and 0 of accuracy; float32 accuracies gave +1.9868e-08
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(30, 2)), dtype=torch.float32)
    y = (x[:, 1] + 0.3 * x[:, 0] > 0).float()
    importance = permutation_importance(Linear([0.3, 1.0]), x, y, "binary", {"a": [0], "b": [1]}, repeats=3, seed=3)
    assert importance.mean == {"b": 0.3, "a": 0.0}
    assert importance.baseline == 26 / 30


def test_a_column_with_several_inputs_is_shuffled_as_one():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3000, 3)), dtype=torch.float32)
    y = x[:, 0] + x[:, 1] + x[:, 2]
    model = Linear([1.0, 1.0, 1.0])
    importance = permutation_importance(model, x, y, "regression", {"day": [0, 1], "size": [2]}, repeats=2)
    assert set(importance.mean) == {"day", "size"}
    assert importance.mean["day"] > 1.5 * importance.mean["size"]  # both its inputs lost at once


def test_above_max_rows_a_sample_is_scored():
    x, y = torch.randn(500, 2), torch.randn(500)
    importance = permutation_importance(Linear([1.0, 0.0]), x, y, "regression", {"a": [0], "b": [1]}, max_rows=100)
    assert importance.rows == 100


class LinearLayer(nn.Module):
    """A model whose prediction torch's FLOP counter follows: one nn.Linear."""

    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def predict(self, x):
        return self.linear(x)


def test_a_wide_table_or_a_large_net_scores_fewer_rows_so_the_importance_stays_affordable(monkeypatch):
    import src.reporting.importance as importance_module

    monkeypatch.setattr(importance_module, "FLOP_BUDGET", 2e9)  # a small budget, so the test is quick
    x, y, model = torch.randn(5000, 600), torch.randn(5000), LinearLayer(600)
    wide = permutation_importance(model, x, y, "regression", {f"c{i}": [i] for i in range(600)}, repeats=1)
    # 1,200 operations a row (600 multiply-adds) and 601 predictions: 2e9 / (1200 * 601) rows
    assert wide.rows == 2773
    narrow = permutation_importance(model, x, y, "regression", {"c0": [0], "c1": [1]}, repeats=3)
    assert narrow.rows == 5000  # every validation row, as before
    monkeypatch.setattr(importance_module, "FLOP_BUDGET", 1e3)
    assert permutation_importance(model, x, y, "regression", {"c0": [0]}).rows == importance_module.MIN_ROWS


class WithToken(LinearLayer):
    """A net with a module that returns its own parameter (as a transformer's CLS token does)."""

    def __init__(self, n_inputs):
        super().__init__(n_inputs)
        self.token = nn.Embedding(1, 1)
        self.token.forward = lambda x: self.token.weight

    def predict(self, x):
        return self.linear(x) + self.token(x)


def test_the_importance_counts_a_nets_operations_inside_lightnings_test_and_goes_on_where_torch_cannot():
    from src.reporting.importance import flops_per_row

    x, plain, with_token = torch.randn(10, 3), LinearLayer(3), WithToken(3)
    with torch.inference_mode():  # as in Lightning's test loop, where the report runs
        assert flops_per_row(plain, x) == flops_per_row(with_token, x) == 6
    untraceable = LinearLayer(3)
    untraceable.predict = lambda x: (_ for _ in ()).throw(AssertionError("Expected gradient function to be set"))
    assert flops_per_row(untraceable, x) is None


def test_inputs_follow_the_preprocessing_layout():
    state = {
        "columns": {"size": "numeric", "colour": "categorical", "day": "date", "kind": "target", "weight": "numeric"},
        "missing_indicators": ["size", "day"],
    }
    # numerics (size, weight), the date's 6 features, the indicators (size, day), then the category's code
    assert input_columns(state) == {"size": [0, 8], "colour": [10], "day": [2, 3, 4, 5, 6, 7, 9], "weight": [1]}


def test_a_run_reports_each_table_column_once_in_metrics_json_and_a_figure(tmp_path):
    rng = np.random.default_rng(0)
    rows = 600
    colour = rng.choice(["red", "green", "blue"], rows)
    signal, noise = rng.normal(size=rows), rng.normal(size=rows)
    price = 4 * signal + np.select([colour == "red", colour == "green"], [2.0, -2.0], 0.0) + 0.1 * rng.normal(size=rows)
    frame = pd.DataFrame({"signal": signal, "colour": colour, "noise": noise, "price": price})
    frame["day"] = pd.date_range("2020-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    frame.to_csv(tmp_path / "t.csv", index=False)
    cfg = compose_config(
        "experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price", "trainer.max_epochs=40",
        "model.optimizer.lr=0.01", "callbacks.early_stopping.patience=40", output_dir=tmp_path / "run",
    )  # fmt: skip
    train(cfg)
    importance = json.loads((tmp_path / "run" / "metrics.json").read_text())["importance"]
    assert importance["metric"] == "r2" and importance["repeats"] == 3
    assert sorted(importance["mean"]) == ["colour", "day", "noise", "signal"]  # a category and a date count once
    assert importance["kinds"]["colour"] == "categorical" and importance["kinds"]["day"] == "date"
    assert list(importance["mean"])[:2] == ["signal", "colour"]
    assert abs(importance["mean"]["noise"]) < 0.05
    assert (tmp_path / "run" / "figures" / "importance.png").is_file()


def test_repeats_0_turns_it_off(make_config):
    cfg = make_config("trainer.max_epochs=1", "importance.repeats=0")
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["importance"] == {}
    assert not (run_dir / "figures" / "importance.png").exists()


@pytest.mark.parametrize("setting", ["importance.repeats=-1", "importance.max_rows=0", "importance.repeats=two"])
def test_a_bad_setting_is_named(setting):
    cfg = compose_config(setting)
    key = setting.split("=")[0]
    with pytest.raises(UserError, match=rf"{key} must be an integer"):
        validate_importance(cfg.importance)


def test_ms_per_epoch_leaves_out_the_importance_which_is_timed_on_its_own():
    # a 600-column table: 194 s of importance after 6 s of training read as 40,000 ms an epoch
    from src.reporting.results import RunResult

    result = RunResult("lightning", {}, 3, 0.1, stopped_epoch=150, wall_time_s=200.0, importance={"seconds": 194.0})
    assert result.ms_per_epoch == pytest.approx(40.0)
    assert RunResult("lightning", {}, 3, 0.1, stopped_epoch=150, wall_time_s=6.0).ms_per_epoch == pytest.approx(40.0)
