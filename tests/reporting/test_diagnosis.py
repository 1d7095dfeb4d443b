"""A model no better than a constant guess is reported, with dead ReLU layers named as the likely cause."""

import json
from functools import partial

import pytest
import torch

from src.models.tasks import BinaryModule, RegressionModule
from src.reporting.diagnosis import diagnose, hidden_layer_activity

adam = partial(torch.optim.Adam, lr=1e-2)


def mlp(hidden: list[int]) -> dict:
    return {"_target_": "src.models.nets.mlp.MLP", "hidden": hidden}


def kill_hidden_layer(model, index: int) -> None:
    """A bias far below anything the inputs can reach: every unit of the layer outputs 0 for every row."""
    linear = [m for m in model.net if isinstance(m, torch.nn.Linear)][index - 1]
    with torch.no_grad():
        linear.bias.fill_(-1e3)


def linear_data(rows: int = 512, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 8, generator=generator)
    y = x @ torch.linspace(-1, 1, 8).unsqueeze(1) + 0.1 * torch.randn(rows, 1, generator=generator)
    return x, y


def fitted_regressor(x, y):
    torch.manual_seed(0)
    model = RegressionModule(mlp([16, 16]), adam, n_num_features=8)
    optimizer = model.configure_optimizers()
    for _ in range(100):
        loss = model.loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_counts_units_that_never_fire_per_hidden_layer():
    torch.manual_seed(0)
    model = RegressionModule(mlp([3, 3, 3]), adam, n_num_features=8)
    with torch.no_grad():
        model.net[0].bias[1] = -1e3  # one unit of hidden layer 1
    kill_hidden_layer(model, 3)
    x, _ = linear_data()
    layers = hidden_layer_activity(model, x, batch_size=100)
    assert [(layer.index, layer.name, layer.units) for layer in layers] == [(1, "net.1", 3), (2, "net.3", 3), (3, "net.5", 3)]
    assert layers[0].dead >= 1 and not layers[0].all_dead
    assert layers[2].all_dead


def test_dead_layer_is_named_as_the_cause_of_a_constant_regressor():
    x, y = linear_data()
    model = fitted_regressor(x, y)
    healthy = diagnose(model, x, y, "regression", batch_size=64)
    assert healthy.warnings == [] and healthy.details["val_r2"] > 0.9

    kill_hidden_layer(model, 2)
    dead = diagnose(model, x, y, "regression", batch_size=64)
    assert dead.details["val_r2"] <= 0.01
    assert dead.details["dead_units"]["hidden layer 2 (net.3)"] == [16, 16]
    layer_warning, guess_warning = dead.warnings
    assert layer_warning.startswith("hidden layer 2 (net.3, 16 units) is dead")
    assert "no better than a constant guess" in guess_warning and "R2" in guess_warning
    assert "dead hidden layer 2 (net.3)" in guess_warning


def test_classifier_at_the_majority_rate_is_flagged_without_dead_units():
    torch.manual_seed(0)
    x = torch.randn(100, 4)
    y = (torch.arange(100) < 70).float().unsqueeze(1)  # 70% class 1
    model = BinaryModule(mlp([5]), adam, n_num_features=4)
    with torch.no_grad():  # a live network whose output is pushed to "always class 1"
        model.net[-1].bias.fill_(50.0)
    diagnosis = diagnose(model, x, y, "binary", batch_size=32, class_labels=["no", "yes"])
    assert diagnosis.details["val_acc"] == pytest.approx(0.7)
    assert diagnosis.details["majority_class_rate"] == pytest.approx(0.7)
    (warning,) = diagnosis.warnings
    assert "always predicting class 'yes' (1)" in warning and "has not learned" in warning


def test_training_run_reports_a_dead_layer_on_console_and_in_metrics_json(make_config, monkeypatch, capsys):
    import src.train

    build_model = src.train.build_model

    def build_dead_model(cfg, datamodule):
        model = build_model(cfg, datamodule)
        kill_hidden_layer(model, 2)  # dead units get no gradient: the layer stays dead through training
        return model

    monkeypatch.setattr(src.train, "build_model", build_dead_model)
    cfg = make_config("trainer.max_epochs=3")
    result = src.train.train(cfg)

    metrics = json.loads((make_dir(cfg) / "metrics.json").read_text())
    assert metrics["warnings"] == result.warnings and len(result.warnings) == 2
    assert metrics["warnings"][0].startswith("hidden layer 2 (net.3, 20 units) is dead")
    assert "majority-class rate" in metrics["warnings"][1]
    assert metrics["diagnostics"]["dead_units"]["hidden layer 2 (net.3)"] == [20, 20]
    console = " ".join(capsys.readouterr().out.split())
    assert "warning: hidden layer 2 (net.3, 20 units) is dead" in console
    assert "warning: no better than a constant guess" in console


def test_a_learning_run_has_no_warnings(cancer_run):
    run_dir, result = cancer_run
    assert result.test["test_acc"] > 0.8
    assert json.loads((run_dir / "metrics.json").read_text())["warnings"] == []


def make_dir(cfg):
    from pathlib import Path

    return Path(cfg.paths.output_dir)
