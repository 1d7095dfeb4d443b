"""The benchmark's yardstick is the lesson's loop on the project's own data, and both runners are timed alike."""

import pytest
import torch

from benchmarks.bench import EPOCHS, lesson_command, lightning_command
from benchmarks.lesson_loop import lesson_data
from tests.conftest import compose_config


def test_the_lesson_loop_trains_on_the_same_rows_and_scaling_as_the_project():
    from src.train import build_datamodule

    x_train, y_train, x_valid, y_valid = lesson_data("cancer")
    datamodule = build_datamodule(compose_config("experiment=cancer"))
    assert torch.allclose(datamodule.splits["train"][0], x_train, atol=1e-6)
    assert torch.equal(datamodule.splits["train"][1], y_train)
    assert torch.allclose(datamodule.splits["val"][0], x_valid, atol=1e-6)
    assert torch.equal(datamodule.splits["val"][1], y_valid)


def test_both_runners_run_the_same_epochs_on_one_thread():
    for experiment, (short, long) in EPOCHS.items():
        assert long - short >= 300
        lightning, lesson = lightning_command(experiment, long, "logs"), lesson_command(experiment, long)
        assert f"trainer.max_epochs={long}" in lightning and "torch_threads=1" in lightning
        assert lesson[-2:] == ["--epochs", str(long)]
        assert any(arg.startswith("callbacks.early_stopping.patience=") for arg in lightning)  # never stops early


def test_overrides_reach_only_the_lightning_runs_and_come_last():
    command = lightning_command("cancer", 10, "logs", ["model.optimizer.foreach=false", "+model.optimizer.fused=true"])
    assert command[-2:] == ["model.optimizer.foreach=false", "+model.optimizer.fused=true"]
    optimizer = compose_config(*command[3:]).model.optimizer  # what the run composes
    assert optimizer.fused is True and optimizer.foreach is False


@pytest.mark.slow
def test_the_lightning_floor_runs_the_lessons_arithmetic_so_what_differs_is_lightnings_cost(tmp_path, monkeypatch):
    from benchmarks.lightning_floor import VARIANTS, train_variant

    monkeypatch.chdir(tmp_path)  # Lightning's own folder, if any, lands here
    weights = {}
    for variant in VARIANTS[:3]:
        torch.manual_seed(0)
        weights[variant] = train_variant(variant, epochs=5, skip=0)[1].state_dict()
    lesson = weights["lesson"]
    for variant in VARIANTS[1:3]:
        assert all(torch.equal(lesson[name], value) for name, value in weights[variant].items()), variant
