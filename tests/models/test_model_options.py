"""The options beyond the lesson: off by default (the lesson's network, weight for weight), each doing what it says."""

from functools import partial

import pytest
import torch

from src.errors import UserError
from src.models.nets.mlp import MLP
from src.models.tasks import task_module

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
    ours = MLP(8, hidden=[3, 3, 3])
    torch.manual_seed(0)
    lesson = lessons_network(8, [3, 3, 3])
    assert [type(m) for m in ours] == [type(m) for m in lesson]
    assert ours.state_dict().keys() == lesson.state_dict().keys()
    for name, tensor in lesson.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name


def test_norm_and_dropout_sit_in_every_hidden_block():
    net = MLP(4, hidden=[8, 8], norm="batch", dropout=0.3)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "CheapDropout", "Linear", "BatchNorm1d", "ReLU", "CheapDropout", "Linear"]
    assert [type(m).__name__ for m in MLP(4, hidden=[8], norm="layer")] == ["Linear", "LayerNorm", "ReLU", "Linear"]


@pytest.mark.parametrize(
    "embedding, width",
    [
        ({"kind": "periodic", "n_frequencies": 5, "d_embedding": 4, "frequency_init_scale": 0.1}, 12),
        ({"kind": "linear_relu", "d_embedding": 4}, 12),
        ({"kind": "piecewise_linear", "n_bins": 4, "d_embedding": 4, "bins": [[-1.0, 0.0, 1.0]] * 3}, 12),
    ],
)
def test_numeric_embeddings_give_each_feature_its_own_block(embedding, width):
    net = MLP(3, hidden=[5], embedding=embedding)
    encoder = net[0]
    assert encoder.out_features == width and net[1].in_features == width
    x = torch.zeros(2, 3)
    x[1, 0] = 0.5  # changing feature 0 changes only feature 0's block of the embedding
    out = encoder(x)
    assert not torch.equal(out[0, :4], out[1, :4]) and torch.equal(out[0, 4:], out[1, 4:])


def test_periodic_embedding_is_rtdl_num_embeddings():
    import rtdl_num_embeddings

    net = MLP(3, hidden=[5], embedding={"kind": "periodic", "n_frequencies": 5, "d_embedding": 4, "frequency_init_scale": 0.1})
    assert isinstance(net[0].numeric, rtdl_num_embeddings.PeriodicEmbeddings)


def test_piecewise_linear_bins_come_from_the_training_rows_only_and_are_plain_lists():
    torch.manual_seed(0)
    x_train = torch.randn(200, 2)
    embedding = {"kind": "piecewise_linear", "n_bins": 4, "d_embedding": 3}
    model = task_module(
        "regression",
        {"_target_": "src.models.nets.mlp.MLP", "hidden": [4], "embedding": embedding},
        adam,
        n_num_features=2,
        training_rows=(x_train, torch.randn(200, 1)),
    )
    bins = model.hparams["net"]["embedding"]["bins"]
    assert isinstance(bins, list) and all(isinstance(b, list) and isinstance(b[0], float) for b in bins)
    for column, edges in enumerate(bins):  # quantile edges: from the training column's min to its max
        assert edges[0] == pytest.approx(float(x_train[:, column].min())) and edges[-1] == pytest.approx(
            float(x_train[:, column].max())
        )
    rebuilt = type(model)(**model.hparams, optimizer=None)  # what eval/predict do: no data needed
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(5, 2)
    torch.testing.assert_close(rebuilt(x), model(x))


def test_model_follows_the_task_and_keeps_its_options_in_the_hyperparameters():
    net = {"_target_": "src.models.nets.mlp.MLP", "hidden": [4], "dropout": 0.1}
    regressor = task_module("regression", net, adam, n_num_features=8, lr_schedule="cosine")
    classifier = task_module("binary", {**net, "norm": "layer"}, adam, n_num_features=8, threshold=0.3)
    assert type(regressor).__name__ == "RegressionModule" and "threshold" not in regressor.hparams
    assert type(classifier).__name__ == "BinaryModule" and classifier.hparams["threshold"] == 0.3
    # what src.eval and src.predict rebuild a model from: the class and its hyperparameters, without an optimizer
    rebuilt = type(classifier)(**classifier.hparams, optimizer=None)
    assert rebuilt.net.state_dict().keys() == classifier.net.state_dict().keys()
    assert classifier.hparams["net"] == {**net, "norm": "layer"}  # plain settings, with the class as a string
    for task in ("regression", "multiclass"):  # a setting that cannot apply is refused, not ignored
        with pytest.raises(UserError, match=f"model.threshold applies to binary classification; data.task is {task}"):
            task_module(task, net, adam, n_num_features=8, threshold=0.3)


def learning_rates(schedule: str, total_steps: int = 100) -> list[float]:
    net = {"_target_": "src.models.nets.mlp.MLP", "hidden": [4]}
    model = task_module("regression", net, partial(torch.optim.AdamW, lr=0.01), n_num_features=2, lr_schedule=schedule)
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
    model = task_module("regression", {"_target_": "src.models.nets.mlp.MLP", "hidden": [4]}, adam, n_num_features=2)
    assert model.make_lr_scheduler(model.make_optimizer(), 100) is None
