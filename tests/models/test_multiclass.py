"""Multiclass metrics equal scikit-learn's on the same predictions; ensembles train on their members, predict with the mean."""

from functools import partial

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from src.models.tasks import BinaryModule, MulticlassModule, RegressionModule

adam = partial(torch.optim.Adam, lr=1e-3)
MLP = {"_target_": "src.models.nets.mlp.MLP", "hidden": [4]}


class FixedOutputs(torch.nn.Module):
    """Row i's outputs are outputs[i]: x holds the row's index (lets metrics be checked on chosen predictions)."""

    def __init__(self, outputs: torch.Tensor) -> None:
        super().__init__()
        self.outputs = outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs[x[:, 0].long()]


def evaluated(model, outputs: torch.Tensor, target: torch.Tensor, batch_size: int = 16):
    model.net = FixedOutputs(outputs)
    rows = torch.arange(len(target)).float().unsqueeze(1)
    y = target.float().unsqueeze(1)
    batches = list(zip(rows.split(batch_size), y.split(batch_size)))
    with torch.no_grad():
        model.evaluate_batches(batches, "test")
    return model.epoch_results("test"), model.matrices["test"]


def test_multiclass_metrics_equal_scikit_learns():
    generator = torch.Generator().manual_seed(0)
    labels = ["Adelie", "Chinstrap", "Gentoo", "Other"]
    target = torch.randint(0, 4, (96,), generator=generator)
    logits = torch.randn(96, 4, generator=generator) + 1.5 * torch.nn.functional.one_hot(target, 4)
    model = MulticlassModule(MLP, adam, n_num_features=1, n_outputs=4, class_labels=labels)
    results, matrices = evaluated(model, logits, target)

    probs = torch.softmax(logits, 1).numpy().astype(np.float64)
    y, predicted = target.numpy(), probs.argmax(1)
    assert results["test_acc"] == pytest.approx(sk.accuracy_score(y, predicted), rel=1e-6)
    assert results["test_f1_macro"] == pytest.approx(sk.f1_score(y, predicted, average="macro"), rel=1e-6)
    assert results["test_f1_weighted"] == pytest.approx(sk.f1_score(y, predicted, average="weighted"), rel=1e-6)
    assert results["test_auroc"] == pytest.approx(sk.roc_auc_score(y, probs, multi_class="ovr", average="macro"), rel=1e-5)
    precision = sk.precision_score(y, predicted, average=None)
    recall = sk.recall_score(y, predicted, average=None)
    assert list(matrices["test_precision_per_class"]) == labels  # per class, by name
    assert list(matrices["test_precision_per_class"].values()) == pytest.approx(list(precision), rel=1e-6)
    assert list(matrices["test_recall_per_class"].values()) == pytest.approx(list(recall), rel=1e-6)
    assert matrices["test_confusion_matrix"] == sk.confusion_matrix(y, predicted).tolist()
    ce = torch.nn.functional.cross_entropy(logits, target)
    assert results["test_loss"] == pytest.approx(float(ce), rel=1e-5)  # batches of equal size: the mean is the mean


def test_auroc_averages_the_classes_the_test_rows_hold():
    """A rare class with no test row (a small table, an unstratified split) has no AUROC: it is left out of the mean,
    instead of counting as 0 (the mean of scikit-learn's AUROC of each class present)."""
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 3, (60,), generator=generator)  # class 3 ('rare') is in training only
    logits = torch.randn(60, 4, generator=generator) + 1.5 * torch.nn.functional.one_hot(target, 4)
    model = MulticlassModule(MLP, adam, n_num_features=1, n_outputs=4, class_labels=["a", "b", "c", "rare"])
    results, _ = evaluated(model, logits, target)

    probs = torch.softmax(logits, 1).numpy().astype(np.float64)
    present = [sk.roc_auc_score(target.numpy() == k, probs[:, k]) for k in range(3)]
    assert results["test_auroc"] == pytest.approx(np.mean(present), rel=1e-5)


@pytest.mark.parametrize("module, n_outputs", [(RegressionModule, 1), (BinaryModule, 1), (MulticlassModule, 3)])
def test_an_ensemble_trains_on_its_members_and_predicts_their_mean(module, n_outputs):
    generator = torch.Generator().manual_seed(1)
    members = torch.randn(12, 5, n_outputs, generator=generator)  # 12 rows, 5 members
    target = torch.randint(0, max(n_outputs, 2), (12, 1), generator=generator).float()
    model = module(MLP, adam, n_num_features=1, n_outputs=n_outputs)
    each = torch.stack([model.loss(members[:, k], target) for k in range(5)])
    torch.testing.assert_close(model.loss(members, target), each.mean())

    mean_prediction = torch.stack([model.link(members[:, k]) for k in range(5)]).mean(0)
    torch.testing.assert_close(model.to_predictions(members), mean_prediction)
    torch.testing.assert_close(model.evaluation_loss(members, target), model.prediction_loss(mean_prediction, target))
    single = members[:, 0]  # one net: the evaluation loss is its training loss
    torch.testing.assert_close(model.evaluation_loss(single, target), model.loss(single, target))


@pytest.mark.parametrize("module, n_outputs", [(BinaryModule, 1), (MulticlassModule, 4)])
def test_predictions_alone_are_scored_with_a_network_runs_metrics(module, n_outputs):
    """The LightGBM baseline and deep ensembles have only predictions: they report the same metrics, by the same
    names and definitions, and the same matrices, as the network run that made those predictions."""
    from src.reporting.prediction_metrics import metrics_from_predictions

    generator = torch.Generator().manual_seed(2)
    labels = [f"class {c}" for c in range(max(n_outputs, 2))]
    target = torch.randint(0, len(labels), (80,), generator=generator)
    outputs = torch.randn(80, n_outputs, generator=generator)
    model = module(MLP, adam, n_num_features=1, n_outputs=n_outputs, class_labels=labels)
    results, matrices = evaluated(model, outputs, target)

    probabilities = model.link(outputs).numpy().astype(np.float64)
    task = "binary" if n_outputs == 1 else "multiclass"
    scored, scored_matrices = metrics_from_predictions(
        task, target.numpy(), probabilities[:, 0] if n_outputs == 1 else probabilities, 0.5, labels
    )
    assert set(scored) == set(results)
    assert scored == pytest.approx(results, rel=1e-5)
    assert scored_matrices.keys() == matrices.keys()
    assert scored_matrices["test_confusion_matrix"] == matrices["test_confusion_matrix"]
    for name in set(matrices) - {"test_confusion_matrix"}:
        assert list(scored_matrices[name]) == labels
        assert list(scored_matrices[name].values()) == pytest.approx(list(matrices[name].values()), rel=1e-6)
