import torch
from functools import partial

from src.models.classifier import BinaryClassifier
from src.models.network import build_relu_stack
from src.models.regressor import Regressor

adam = partial(torch.optim.Adam, lr=1e-3)


def test_relu_stack_has_the_lessons_layers():
    net = build_relu_stack(30, [25, 20, 15, 10, 5])
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(30, 25), (25, 20), (20, 15), (15, 10), (10, 5), (5, 1)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in net) == 5


def test_regressor_output_is_a_column_of_unbounded_values():
    model = Regressor(n_features=8, hidden=[3, 3, 3], optimizer=adam)
    with torch.no_grad():
        out = model(torch.randn(17, 8) * 100)
    assert out.shape == (17, 1)
    assert out.abs().max() > 1  # linear output: not squashed


def test_classifier_outputs_probabilities():
    model = BinaryClassifier(n_features=30, hidden=[25, 20, 15, 10, 5], optimizer=adam)
    with torch.no_grad():
        out = model(torch.randn(50, 30) * 10)
    assert out.shape == (50, 1)
    assert ((out >= 0) & (out <= 1)).all()


def test_losses_are_the_lessons():
    reg = Regressor(n_features=2, hidden=[4], optimizer=adam)
    assert torch.isclose(reg.loss(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])), torch.tensor(5.0))
    clf = BinaryClassifier(n_features=2, hidden=[4], optimizer=adam)
    p, t = torch.tensor([[0.9], [0.2]]), torch.tensor([[1.0], [0.0]])
    expected = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.8))) / 2
    assert torch.isclose(clf.loss(p, t), expected)
