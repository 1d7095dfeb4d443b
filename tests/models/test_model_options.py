"""The options beyond the lesson: off by default (the lesson's network, weight for weight), each doing what it says."""

from functools import partial

import pytest
import torch

from src.models.for_task import model_for_task
from src.models.network import PeriodicEmbedding, build_network, build_relu_stack

adam = partial(torch.optim.Adam, lr=1e-3)


def lessons_network(n_features: int, hidden: list[int]) -> torch.nn.Sequential:
    """The lesson's nn.Sequential, written out as the lesson does."""
    layers, width = [], n_features
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))


def test_defaults_build_the_lessons_network_with_the_same_initial_weights():
    torch.manual_seed(0)
    ours = build_network(8, [3, 3, 3])
    torch.manual_seed(0)
    lesson = lessons_network(8, [3, 3, 3])
    assert [type(m) for m in ours] == [type(m) for m in lesson]
    assert ours.state_dict().keys() == lesson.state_dict().keys()
    for name, tensor in lesson.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name


def test_norm_and_dropout_sit_in_every_hidden_block():
    net = build_relu_stack(4, [8, 8], norm="batch", dropout=0.3)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert [type(m).__name__ for m in build_relu_stack(4, [8], norm="layer")] == ["Linear", "LayerNorm", "ReLU", "Linear"]


def test_periodic_embedding_gives_each_feature_its_own_frequencies():
    embed = PeriodicEmbedding(n_features=3, n_frequencies=5, dim=4, sigma=0.1)
    assert embed(torch.randn(7, 3)).shape == (7, 12)
    x = torch.zeros(2, 3)
    x[1, 0] = 1.0  # changing feature 0 changes only feature 0's block of the output
    out = embed(x)
    assert not torch.equal(out[0, :4], out[1, :4]) and torch.equal(out[0, 4:], out[1, 4:])


def test_model_follows_the_task_and_keeps_its_options_in_the_hyperparameters():
    regressor = model_for_task("regression", 8, hidden=[4], optimizer=adam, dropout=0.1, lr_schedule="cosine")
    classifier = model_for_task("binary", 8, hidden=[4], optimizer=adam, threshold=0.3, norm="layer")
    assert type(regressor).__name__ == "Regressor" and "threshold" not in regressor.hparams
    assert type(classifier).__name__ == "BinaryClassifier" and classifier.hparams["threshold"] == 0.3
    # what src.eval and src.predict rebuild a model from: the class and its hyperparameters, without an optimizer
    rebuilt = type(classifier)(**classifier.hparams, optimizer=None)
    assert rebuilt.net.state_dict().keys() == classifier.net.state_dict().keys()


def learning_rates(schedule: str, total_steps: int = 100) -> list[float]:
    model = model_for_task("regression", 2, hidden=[4], optimizer=partial(torch.optim.AdamW, lr=0.01), lr_schedule=schedule)
    optimizer = model.make_optimizer()
    scheduler = model.make_lr_scheduler(optimizer, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_cosine_schedule_starts_at_the_optimizers_rate_and_ends_near_zero():
    rates = learning_rates("cosine")
    assert rates[0] == pytest.approx(0.01) and rates[-1] < 1e-4
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_onecycle_warms_up_to_the_optimizers_rate_then_anneals():
    rates = learning_rates("onecycle")
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert rates[peak] == pytest.approx(0.01, rel=1e-3) and 20 <= peak <= 40
    assert rates[0] < 0.001 and rates[-1] < 1e-5


def test_no_schedule_keeps_the_learning_rate():
    model = model_for_task("regression", 2, hidden=[4], optimizer=adam)
    assert model.make_lr_scheduler(model.make_optimizer(), 100) is None
