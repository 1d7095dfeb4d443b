from functools import partial

import numpy as np
import pytest
import torch

from src.models.tasks import (
    BinaryModule,
    MulticlassModule,
    RegressionModule,
    balanced_class_weights,
    task_module,
)

adam = partial(torch.optim.Adam, lr=1e-3)


def mlp(*hidden: int) -> dict:
    return {"_target_": "src.models.nets.mlp.MLP", "hidden": list(hidden)}


def test_mlp_has_the_lessons_layers():
    model = BinaryModule(mlp(25, 20, 15, 10, 5), adam, n_num_features=30)
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(30, 25), (25, 20), (20, 15), (15, 10), (10, 5), (5, 1)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.net) == 5


def test_regressor_output_is_a_column_of_unbounded_values():
    torch.manual_seed(0)  # a random net of width 3 may map every row near 0: the check is of the output layer
    model = RegressionModule(mlp(3, 3, 3), adam, n_num_features=8)
    with torch.no_grad():
        out = model.predict(torch.randn(17, 8) * 100)
    assert out.shape == (17, 1)
    assert out.abs().max() > 1  # linear output: not squashed


def test_binary_predictions_are_probabilities():
    model = BinaryModule(mlp(25, 20, 15, 10, 5), adam, n_num_features=30)
    with torch.no_grad():
        out = model.predict(torch.randn(50, 30) * 10)
    assert out.shape == (50, 1)
    assert ((out >= 0) & (out <= 1)).all()


def test_multiclass_predictions_are_probabilities_over_the_classes():
    model = MulticlassModule(mlp(8), adam, n_num_features=4, n_outputs=5)
    with torch.no_grad():
        out = model.predict(torch.randn(20, 4))
    assert out.shape == (20, 5)
    torch.testing.assert_close(out.sum(1), torch.ones(20))


def test_losses_are_the_lessons():
    reg = RegressionModule(mlp(4), adam, n_num_features=2)
    assert torch.isclose(reg.loss(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])), torch.tensor(5.0))
    clf = BinaryModule(mlp(4), adam, n_num_features=2)
    logits, t = torch.logit(torch.tensor([[0.9], [0.2]])), torch.tensor([[1.0], [0.0]])
    expected = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.8))) / 2
    assert torch.isclose(clf.loss(logits, t), expected)


def test_multiclass_loss_is_cross_entropy_on_the_logits():
    model = MulticlassModule(mlp(4), adam, n_num_features=2, n_outputs=3)
    logits, target = torch.randn(6, 3), torch.tensor([[0.0], [1.0], [2.0], [2.0], [1.0], [0.0]])
    torch.testing.assert_close(model.loss(logits, target), torch.nn.functional.cross_entropy(logits, target.reshape(-1).long()))


def test_balanced_class_weights_are_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    y = [0] * 50 + [1] * 30 + [2] * 7
    expected = compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=np.array(y))
    assert balanced_class_weights([50, 30, 7]) == pytest.approx(list(expected), rel=1e-12)


def test_class_weights_weight_each_row_by_its_class():
    counts = [30, 10]
    model = task_module("binary", mlp(4), adam, n_num_features=2, class_weights="balanced", class_counts=counts)
    w = torch.tensor(balanced_class_weights(counts))
    logits, target = torch.randn(8, 1), torch.tensor([[0.0], [1.0], [1.0], [0.0], [0.0], [0.0], [1.0], [0.0]])
    rows = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), target, reduction="none")
    weights = w[target.long()]
    torch.testing.assert_close(model.loss(logits, target), (weights * rows).sum() / weights.sum())
    multi = task_module(
        "multiclass", mlp(4), adam, n_num_features=2, n_outputs=3, class_weights="balanced", class_counts=[5, 3, 2]
    )
    logits3, target3 = torch.randn(8, 3), torch.tensor([0, 1, 2, 2, 1, 0, 0, 0]).float().unsqueeze(1)
    expected = torch.nn.functional.cross_entropy(
        logits3, target3.reshape(-1).long(), weight=torch.tensor(balanced_class_weights([5, 3, 2]))
    )
    torch.testing.assert_close(multi.loss(logits3, target3), expected)


def test_task_module_follows_the_task():
    for task, cls, n_outputs in [
        ("regression", RegressionModule, 1),
        ("binary", BinaryModule, 1),
        ("multiclass", MulticlassModule, 4),
    ]:
        model = task_module(task, mlp(4), adam, n_num_features=3, n_outputs=n_outputs)
        assert type(model) is cls and model.net[-1].out_features == n_outputs


def test_standardized_target_is_fitted_on_the_training_rows_and_mapped_back():
    x, y = torch.randn(64, 3), torch.randn(64, 1) * 7 + 100
    model = task_module("regression", mlp(4), adam, n_num_features=3, standardize_target=True, training_rows=(x, y))
    assert model.target_mean == pytest.approx(y.mean().item(), rel=1e-6)
    assert model.target_std == pytest.approx(y.std().item(), rel=1e-6)
    torch.nn.init.zeros_(model.net[-1].weight)
    torch.nn.init.zeros_(model.net[-1].bias)
    with torch.no_grad():  # a net that outputs 0 predicts the training mean, in the target's units
        torch.testing.assert_close(model.predict(x), torch.full((64, 1), model.target_mean))
        # losses stay in the target's units: the mean squared error of predicting the mean
        torch.testing.assert_close(model.loss(model(x), y), ((y - model.target_mean) ** 2).mean())
    # the default keeps the lesson's regressor: the outputs are the predictions
    assert task_module("regression", mlp(4), adam, n_num_features=3, training_rows=(x, y)).link(y) is y
