"""R2 as scikit-learn scores it, for a target on any scale: the run's metrics, the baseline's and an ensemble's, the
constant-guess warning and the column importance all use it."""

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score as sklearn_r2

from src.models.metrics import task_metrics
from src.reporting.diagnosis import diagnose
from src.reporting.importance import score
from src.reporting.prediction_metrics import metrics_from_predictions
from tests.reporting.test_diagnosis import adam, mlp

# (scale, offset) of the target: a quantity in small units (torchmetrics scored it 1.0), and one far from zero
# against its spread (float32 sums lose the spread)
TARGETS = [(1e-5, 0.0), (7.0, -311030.0), (1.0, 0.0)]


def noisy_predictions(scale: float, offset: float, rows: int = 300):
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(rows, generator=generator) * scale + offset
    return target + torch.randn(rows, generator=generator) * scale, target  # R2 near 0: half the variance is noise


@pytest.mark.parametrize(("scale", "offset"), TARGETS)
def test_each_r2_a_user_sees_is_scikit_learns_whatever_the_targets_scale(scale, offset):
    preds, target = noisy_predictions(scale, offset)
    expected = sklearn_r2(target.double().numpy(), preds.double().numpy())
    assert expected < 0.5
    r2 = task_metrics("regression")["r2"]
    for start in range(0, len(target), 64):  # in mini-batches, as validation updates it
        r2.update(preds[start : start + 64].unsqueeze(1), target[start : start + 64].unsqueeze(1))
    assert float(r2.compute()) == pytest.approx(expected, abs=1e-6)
    assert metrics_from_predictions("regression", target.numpy(), preds.numpy())[0]["test_r2"] == pytest.approx(
        expected, abs=1e-6
    )
    assert score("regression", target, preds, 0.5) == pytest.approx(expected, abs=1e-6)


def test_a_constant_guess_on_a_small_scale_target_is_flagged():
    from src.models.tasks import RegressionModule

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 8, generator=generator), 1e-4 * torch.randn(400, 1, generator=generator)
    model = RegressionModule(mlp([4]), adam, n_num_features=8)
    with torch.no_grad():  # predicts the target's mean for every row
        for p in model.parameters():
            p.zero_()
        model.net[-1].bias.fill_(float(y.mean()))
    diagnosis = diagnose(model, x, y, "regression", batch_size=64)
    assert diagnosis.details["val_r2"] == pytest.approx(0.0, abs=1e-3)
    assert any("no better than a constant guess" in w for w in diagnosis.warnings)


def test_a_constant_target_scores_1_when_predicted_exactly_and_0_when_not():
    target = np.full(10, 0.1)
    assert metrics_from_predictions("regression", target, target)[0]["test_r2"] == 1.0
    assert metrics_from_predictions("regression", target, target + 0.01)[0]["test_r2"] == 0.0
