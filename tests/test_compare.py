import json

import pytest

from src.compare import compare, compare_rows
from src.errors import UserError
from tests.conftest import compose_config


def test_compare_runs_both_runners_into_one_directory_with_the_overlay_figure(tmp_path):
    cfg = compose_config("trainer.max_epochs=3", output_dir=tmp_path, config_name="compare")
    results = compare(cfg)
    for runner in ("plain", "lightning"):
        metrics = json.loads((tmp_path / runner / "metrics.json").read_text())
        assert metrics["runner"] == runner and metrics["stopped_epoch"] == 3
    assert (tmp_path / "loss_curves.png").stat().st_size > 10_000
    rows = {row[0]: row[1:] for row in compare_rows(results)}
    assert rows["stop epoch"] == ("3", "3")
    assert rows["best epoch"][0] == rows["best epoch"][1]
    assert {"test_acc", "ms / epoch", "wall time (s)", "best val_loss"} <= rows.keys()


def test_compare_puts_the_lightgbm_baseline_beside_the_network(tmp_path):
    cfg = compose_config(
        "trainer.max_epochs=3",
        "runners=[lightning,lightgbm]",
        "baseline.max_rounds=20",
        output_dir=tmp_path,
        config_name="compare",
    )
    results = compare(cfg)
    assert json.loads((tmp_path / "lightgbm" / "metrics.json").read_text())["runner"] == "lightgbm"
    rows = {row[0]: row[1:] for row in compare_rows(results)}
    assert rows["test_acc"] == tuple(f"{results[r].test['test_acc']:.6f}" for r in ("lightning", "lightgbm"))
    assert (tmp_path / "loss_curves.png").is_file()  # the network's curves; the baseline's rounds are in its own folder


def test_compare_refuses_a_setting_one_runner_lacks_before_any_runner_trains(tmp_path):
    cfg = compose_config(
        "trainer.max_epochs=1",
        "runners=[lightning,plain]",
        "trainer.gradient_clip_val=0.5",
        output_dir=tmp_path,
        config_name="compare",
    )
    with pytest.raises(UserError, match=r"trainer.gradient_clip_val=0.5 is a Lightning Trainer flag; runner=plain"):
        compare(cfg)
    assert not (tmp_path / "lightning").exists()  # the Lightning run did not start
