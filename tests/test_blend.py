"""`python -m src.blend`: the experiment's network and LightGBM trained on one split and blended on its validation rows."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks.results import Experiment, run_experiment
from src.blend import blend
from tests.conftest import compose_config


def small_table(path, rows=300):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    frame["price"] = np.sin(2 * frame["a"]) + frame["b"] ** 2 + 0.1 * rng.normal(size=rows)
    frame.to_csv(path, index=False)
    return ["experiment=csv", f"data.path={path}", "data.target=price", "trainer.max_epochs=5", "baseline.max_rounds=30"]


def test_the_recipe_trains_both_members_on_one_split_and_reports_their_blend(tmp_path):
    out = tmp_path / "blend"
    metrics = blend(compose_config(*small_table(tmp_path / "t.csv"), output_dir=out, config_name="blend"))
    assert [m["kind"] for m in metrics["members"]] == ["network", "lightgbm"]
    assert metrics["combine"] == "blend" and metrics["test"] == metrics["blend"]["test"]
    for kind in ("network", "lightgbm"):  # each member is an ordinary run in its own folder
        member = json.loads((out / "members" / kind / "metrics.json").read_text())
        [scored] = [m["test"] for m in metrics["members"] if m["kind"] == kind]
        assert scored["test_r2"] == pytest.approx(member["test"]["test_r2"], abs=1e-6)
    assert json.loads((out / "metrics.json").read_text())["blend"]["weights"] == metrics["blend"]["weights"]
    assert metrics["wall_time_s"] > 0  # the whole recipe's time, both members' training included


@pytest.mark.slow
def test_make_results_reports_the_blend_not_one_of_its_members(tmp_path):
    overrides = small_table(tmp_path / "t.csv")
    experiment = Experiment("blend", "python -m src.blend " + " ".join(overrides), [0], ["test_r2"])
    measured = run_experiment(experiment, 0, [], tmp_path / "logs")
    assert measured.error is None
    [blend_metrics] = [p for p in (tmp_path / "logs").rglob("metrics.json") if (p.parent / "members").is_dir()]
    assert measured.test == json.loads(blend_metrics.read_text())["test"]


def test_networks_2_blends_two_network_runs_on_their_own_seeds_with_lightgbm(tmp_path):
    out = tmp_path / "blend"
    cfg = compose_config(*small_table(tmp_path / "t.csv"), "networks=2", "seed=3", output_dir=out, config_name="blend")
    metrics = blend(cfg)
    assert [m["kind"] for m in metrics["members"]] == ["network", "network", "lightgbm"]
    seeds = [json.loads((out / "members" / name / "metrics.json").read_text())["seed"] for name in ("network_0", "network_1")]
    assert seeds == [3, 1003]
    assert len(metrics["blend"]["weights"]) == 3 and sum(metrics["blend"]["weights"]) == pytest.approx(1.0)


def test_networks_must_be_a_positive_integer(tmp_path):
    from src.errors import UserError

    cfg = compose_config(*small_table(tmp_path / "t.csv"), "networks=0", output_dir=tmp_path / "b", config_name="blend")
    with pytest.raises(UserError, match="networks must be an integer >= 1"):
        blend(cfg)
