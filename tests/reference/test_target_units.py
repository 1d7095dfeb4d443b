"""model.standardize_target=true trains a regressor the same in any units of the target (conf/experiment/csv.yaml)."""

import numpy as np
import pandas as pd
import pytest

from src.train import train
from tests.support.parity import assert_same_decisions


def table(path, scale: float):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["y"] = (x @ [1.0, -0.5, 0.25, 0.0] + 0.3 * rng.normal(size=400)) * scale
    frame.to_csv(path, index=False)
    return path


def test_a_target_in_small_units_learns_as_in_ordinary_units_in_both_runners(make_config, tmp_path):
    runs = {}
    for scale in (1.0, 1e-6):  # e.g. a quantity in kg against the same in mg... here 1e-6 of the units
        overrides = (
            "experiment=csv",
            f"data.path={table(tmp_path / f'units_{scale}.csv', scale)}",
            "data.target=y",
            "model/net=mlp",
            "model.net.hidden=[16,16]",
            "data.batch_size=32",
            "trainer.max_epochs=30",
            "importance.repeats=0",
        )
        runs[scale] = [
            train(make_config(*overrides, f"runner={runner}", subdir=f"{runner}_{scale}")) for runner in ("lightning", "plain")
        ]
        assert_same_decisions(*runs[scale])  # the plain loop takes the same gradients as the fused steps
    ordinary, small = runs[1.0][0], runs[1e-6][0]
    assert ordinary.test["test_r2"] > 0.8
    # a loss near 1e-12 left Adam's steps to its eps: the small-units run learned almost nothing in 30 epochs
    assert small.test["test_r2"] == pytest.approx(ordinary.test["test_r2"], abs=0.01)
    assert small.best_val_loss == pytest.approx(ordinary.best_val_loss * 1e-12, rel=1e-3)  # reported in the target's units
