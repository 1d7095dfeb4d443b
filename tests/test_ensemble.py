"""`python -m src.ensemble`: the mean prediction of several runs' best checkpoints, beside each member's metrics."""

import json

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from src.ensemble import best_checkpoints, ensemble
from src.errors import UserError
from tests.conftest import CONF, compose_config


def compose_ensemble(runs, output_dir):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("ensemble", overrides=[f"paths.output_dir={output_dir}", f"runs=[{','.join(map(str, runs))}]"])


def train_cancer(tmp_path_factory, *overrides):
    from src.train import train

    run_dir = tmp_path_factory.mktemp("cancer_member")
    train(compose_config("trainer.max_epochs=8", "model.optimizer.lr=0.01", *overrides, output_dir=run_dir))
    return run_dir


def test_an_ensemble_of_one_run_twice_is_that_run(cancer_run, tmp_path):
    run_dir, result = cancer_run
    metrics = ensemble(compose_ensemble([run_dir, run_dir], tmp_path))
    assert metrics["n_members"] == 2
    # the training run's own test metrics (its test_loss is a mean over batches; here it is over rows)
    assert {k: v for k, v in metrics["test"].items() if k != "test_loss"} == pytest.approx(
        {k: v for k, v in result.test.items() if k != "test_loss"}, rel=1e-6
    )
    assert metrics["members"][0]["test"] == metrics["members"][1]["test"] == pytest.approx(metrics["test"])
    trained = pd.read_csv(run_dir / "test_predictions.csv")
    averaged = pd.read_csv(tmp_path / "test_predictions.csv")
    np.testing.assert_allclose(averaged.to_numpy(), trained.to_numpy(), atol=1e-6)


def test_the_ensemble_predicts_the_mean_of_its_members(cancer_run, tmp_path_factory, tmp_path):
    first, _ = cancer_run
    second = train_cancer(tmp_path_factory, "seed=1")
    metrics = ensemble(compose_ensemble([first, second], tmp_path))
    probabilities = [pd.read_csv(run / "test_predictions.csv")["probability"] for run in (first, second)]
    assert not np.allclose(*probabilities)  # two different members
    averaged = pd.read_csv(tmp_path / "test_predictions.csv")
    np.testing.assert_allclose(averaged["probability"], (probabilities[0] + probabilities[1]) / 2, atol=1e-6)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"] == metrics["test"] and len(written["members"]) == 2
    assert written["members_mean"]["test_acc"] == pytest.approx(np.mean([m["test"]["test_acc"] for m in written["members"]]))


def test_a_multirun_folder_gives_its_jobs_in_job_order(tmp_path):
    for job in ("0", "1", "10", "2"):
        (tmp_path / job / "checkpoints").mkdir(parents=True)
        (tmp_path / job / "checkpoints" / "best.ckpt").touch()
    (tmp_path / ".hydra").mkdir()
    assert [p.parent.parent.name for p in best_checkpoints([str(tmp_path)])] == ["0", "1", "2", "10"]
    with pytest.raises(UserError, match="holds no run with checkpoints/best.ckpt"):
        best_checkpoints([str(tmp_path / ".hydra")])


def test_members_of_another_split_are_refused(cancer_run, tmp_path_factory, tmp_path):
    other = train_cancer(tmp_path_factory, "data.random_state=7")
    with pytest.raises(UserError, match=r"another split .*random_state differ"):
        ensemble(compose_ensemble([cancer_run[0], other], tmp_path))
