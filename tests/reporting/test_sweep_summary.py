"""Multiruns: every job in its own folder, one summary of all of them ranked by validation loss."""

import json
import math

import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from src.reporting.sweep_summary import SweepSummary, ranked, varying_keys
from tests.conftest import needs_housing, run_module


def jobs_metrics(sweep_dir) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")}


def finished_job(sweep_dir, number: int, overrides: list[str], loss: float, acc: float) -> None:
    """A job's folder as a finished run leaves it: Hydra's overrides.yaml and the run's metrics.json."""
    (sweep_dir / str(number) / ".hydra").mkdir(parents=True)
    (sweep_dir / str(number) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    metrics = {"best_val_loss": loss, "best_epoch": 3, "stopped_epoch": 5, "test": {"test_acc": acc}, "wall_time_s": 1.0}
    (sweep_dir / str(number) / "metrics.json").write_text(json.dumps(metrics))


def summarize(sweep_dir) -> None:
    # paths.output_dir as conf/ has it: an interpolation that only a job can resolve
    paths = {"output_dir": "${hydra:runtime.output_dir}"}
    SweepSummary().on_multirun_end(config=OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}, "paths": paths}))


@pytest.mark.slow  # a subprocess run of the command
def test_grid_multirun_writes_each_job_apart_and_one_summary_best_first(tmp_path):
    proc = run_module(
        "src.train",
        "-m",
        "seed=0,1",
        "model.net.hidden=[8],[16,16]",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        f"paths.log_dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [sweep_dir] = (tmp_path / "cancer" / "multiruns").iterdir()
    metrics = jobs_metrics(sweep_dir)
    assert sorted(metrics) == ["0", "1", "2", "3"]
    assert all((sweep_dir / job / "checkpoints" / "best.ckpt").is_file() for job in metrics)

    summary = pd.read_csv(sweep_dir / "summary.csv", dtype={"job": str})
    assert len(summary) == 4
    assert list(summary["best_val_loss"]) == sorted(summary["best_val_loss"])
    for row in summary.to_dict("records"):
        job = metrics[row["job"]]
        assert row["best_val_loss"] == pytest.approx(job["best_val_loss"])
        assert row["test_acc"] == pytest.approx(job["test"]["test_acc"])
        assert row["wall_time_s"] == pytest.approx(job["wall_time_s"])
        assert job["seed"] == row["seed"]
    assert {(r["seed"], r["model.net.hidden"]) for r in summary.to_dict("records")} == {
        (s, h) for s in (0, 1) for h in ("[8]", "[16,16]")
    }
    assert "4 jobs, best val_loss first" in proc.stdout


def test_ranking_puts_unfinished_and_diverged_jobs_last():
    rows = [
        {"job": "0", "overrides": {"seed": "0"}, "best_val_loss": 0.3},
        {"job": "1", "overrides": {"seed": "1"}},  # no metrics.json: did not finish
        {"job": "2", "overrides": {"seed": "2"}, "best_val_loss": math.nan},
        {"job": "3", "overrides": {"seed": "3"}, "best_val_loss": 0.1},
    ]
    assert [r["job"] for r in ranked(rows)] == ["3", "0", "1", "2"]


def test_a_resubmitted_sweep_is_one_setting_over_its_seeds(tmp_path):
    # `-m seeds=3` stopped after job 1, then the same command with resume=latest: only job 2 started with it
    finished_job(tmp_path, 0, ["seeds=3", "seed=0"], 0.2, 0.9)
    finished_job(tmp_path, 1, ["seeds=3", "seed=1"], 0.4, 0.8)
    finished_job(tmp_path, 2, ["seeds=3", "resume=latest", "seed=2"], 0.6, 0.7)
    summarize(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv")
    assert "resume" not in table.columns
    assert set(table["overrides"]) == {"seeds=3 seed=0", "seeds=3 seed=1", "seeds=3 seed=2"}  # as the jobs were asked
    groups = pd.read_csv(tmp_path / "summary_mean_std.csv").to_dict("records")
    assert [(g["n"], g["best_val_loss_mean"], g["test_acc_mean"]) for g in groups] == [
        (3, pytest.approx(0.4), pytest.approx(0.8))
    ]


def test_out_of_fold_predictions_say_which_seed_predicted_each_row(tmp_path):
    # `-m cv.folds=2 seeds=2`: each of the 4 non-test rows is validated once per seed, by the fold that holds it out
    for number, (fold, seed) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        finished_job(tmp_path, number, ["cv.folds=2", f"cv.fold={fold}", f"seed={seed}"], 0.5, 0.8)
        rows = [0, 3] if fold == 0 else [1, 2]
        predictions = {"row": rows, "fold": fold, "actual": 1.0, "probability": [seed + row / 10 for row in rows]}
        pd.DataFrame(predictions).to_csv(tmp_path / str(number) / "val_predictions.csv", index=False)
    summarize(tmp_path)
    oof = pd.read_csv(tmp_path / "oof_predictions.csv")
    assert list(oof.columns) == ["seed", "row", "fold", "actual", "probability"]
    for seed in (0, 1):
        mine = oof[oof["seed"] == seed]
        assert list(mine["row"]) == [0, 1, 2, 3] and list(mine["fold"]) == [0, 1, 1, 0]
        assert list(mine["probability"]) == pytest.approx([seed + row / 10 for row in range(4)])


def test_only_the_swept_keys_become_columns():
    rows = [{"overrides": {"experiment": "housing", "seed": str(s)}} for s in range(3)]
    assert varying_keys(rows) == ["seed"]


@pytest.mark.slow  # a subprocess run of the command
@needs_housing
def test_optuna_search_minimises_the_validation_loss(tmp_path):
    proc = run_module(
        "src.train",
        "hparams_search=housing_optuna",
        "hydra.sweeper.n_trials=2",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        f"paths.log_dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "setup plugin alembic" not in proc.stdout + proc.stderr  # optuna's import: 7 lines of alembic's set-up
    sweep_dir = tmp_path / "housing_optuna" / "searches" / "housing_optuna"  # the same at every start (docs/sweeps.md)
    metrics = jobs_metrics(sweep_dir)
    assert len(metrics) == 2
    best_job = min(metrics, key=lambda job: metrics[job]["best_val_loss"])

    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(metrics[best_job]["best_val_loss"])  # chosen on validation only
    overrides = yaml.safe_load((sweep_dir / best_job / ".hydra" / "overrides.yaml").read_text())
    assert {o.split("=")[0] for o in overrides} >= {
        "search.width",
        "search.depth",
        "model.optimizer.lr",
        "data.batch_size",
        "model.optimizer.weight_decay",
    }
    config = yaml.safe_load((sweep_dir / best_job / "config.yaml").read_text())  # the resolved config of the job
    params = results["best_params"]
    assert config["model"]["net"]["hidden"] == [params["search.width"]] * params["search.depth"]
    assert config["data"]["batch_size"] == params["data.batch_size"]
    assert 0.0003 <= config["model"]["optimizer"]["lr"] <= 0.003
    assert len(pd.read_csv(sweep_dir / "summary.csv")) == 2


def test_epochs_stay_whole_numbers_in_summary_csv_when_a_job_was_refused(tmp_path):
    # `-m data.val_fraction=0.2,1.2`: job 1 is refused before training and leaves no metrics.json
    finished_job(tmp_path, 0, ["data.val_fraction=0.2"], 0.5, 0.8)
    (tmp_path / "1" / ".hydra").mkdir(parents=True)
    (tmp_path / "1" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["data.val_fraction=1.2"]))
    summarize(tmp_path)
    lines = (tmp_path / "summary.csv").read_text().splitlines()
    assert lines[0].startswith("job,data.val_fraction,best_val_loss,best_epoch,stopped_epoch,")
    assert lines[1].startswith("0,0.2,0.5,3,5,")  # not 3.0 and 5.0
    assert lines[2].startswith("1,1.2,,,,")


def test_the_summary_file_is_named_whole_on_one_line_above_a_narrow_table(tmp_path, capsys):
    # jobs without numbers (refused, or stopped before any) make a narrow table, and its title wrapped the path mid-name
    sweep_dir = tmp_path / "logs" / "cancer" / "multiruns" / "2026-12-05_06-10-08_735261"
    for number in (0, 1):
        (sweep_dir / str(number) / ".hydra").mkdir(parents=True)
        (sweep_dir / str(number) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={number}"]))
    summarize(sweep_dir)
    lines = capsys.readouterr().out.splitlines()
    assert any(str(sweep_dir / "summary.csv") in line for line in lines), "\n".join(lines)


def test_jobs_with_other_test_metrics_keep_them_beside_the_others_and_overrides_last(tmp_path):
    # `-m experiment=cancer,penguins`: the multiclass job's f1_macro came after the overrides column
    finished_job(tmp_path, 0, ["experiment=cancer"], 0.5, 0.8)
    finished_job(tmp_path, 1, ["experiment=penguins"], 0.9, 0.9)
    metrics = json.loads((tmp_path / "1" / "metrics.json").read_text())
    metrics["test"]["test_f1_macro"] = 0.7
    (tmp_path / "1" / "metrics.json").write_text(json.dumps(metrics))
    summarize(tmp_path)
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    assert header == [
        "job", "experiment", "best_val_loss", "best_epoch", "stopped_epoch", "test_acc", "test_f1_macro", "wall_time_s", "overrides"
    ]  # fmt: skip


def test_a_job_stopped_by_a_signal_has_no_result_in_the_summary_or_the_mean(tmp_path):
    # Ctrl+C in a joblib sweep: job 1 wrote metrics.json with interrupted: true at its best epoch so far
    finished_job(tmp_path, 0, ["seed=0"], 0.5, 0.8)
    finished_job(tmp_path, 1, ["seed=1"], 0.1, 0.9)
    metrics = json.loads((tmp_path / "1" / "metrics.json").read_text())
    (tmp_path / "1" / "metrics.json").write_text(json.dumps({**metrics, "interrupted": True, "test": {}}))
    summarize(tmp_path)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["best_val_loss"].tolist()[0] == 0.5 and math.isnan(summary["best_val_loss"].tolist()[1])
    (group,) = pd.read_csv(tmp_path / "summary_mean_std.csv").to_dict("records")
    assert (group["n"], group["diverged"], group["best_val_loss_mean"]) == (1, 0, 0.5)  # not 0.3 with the stopped job's 0.1


def test_a_sweep_of_one_job_is_one_job(tmp_path, capsys):
    finished_job(tmp_path, 0, ["seed=0"], 0.2, 0.9)
    summarize(tmp_path)
    assert "1 job, best val_loss first" in capsys.readouterr().out


def test_a_diverged_jobs_huge_loss_prints_short_in_the_summary_table(tmp_path, capsys):
    sweep_dir = tmp_path / "multiruns" / "s"
    finished_job(sweep_dir, 0, ["model.optimizer.lr=0.001"], loss=0.25, acc=0.95)
    finished_job(sweep_dir, 1, ["model.optimizer.lr=10000"], loss=2.512e34, acc=0.5)
    summarize(sweep_dir)
    out = capsys.readouterr().out
    assert "2.5120e+34" in out and "25120000" not in out, out


def test_the_sweep_ends_with_the_best_jobs_commands_not_the_last_jobs(tmp_path, capsys):
    # each job prints its own run/evaluate/predict lines: the last of them, above the table, were the last job's
    sweep_dir = tmp_path / "multiruns" / "s"
    finished_job(sweep_dir, 0, ["model.optimizer.lr=0.01"], loss=0.25, acc=0.95)
    finished_job(sweep_dir, 1, ["model.optimizer.lr=0.0001"], loss=0.77, acc=0.34)
    for job in (0, 1):
        (sweep_dir / str(job) / "checkpoints").mkdir()
        (sweep_dir / str(job) / "checkpoints" / "best.ckpt").touch()
    summarize(sweep_dir)
    last = capsys.readouterr().out.splitlines()[-4:]
    assert last[0] == "best job (lowest val_loss): 0"
    assert last[2].startswith("evaluate: python -m src.eval ckpt_path=") and last[2].endswith("s/0/checkpoints/best.ckpt")


def test_the_mean_table_puts_the_best_setting_first_and_the_best_job_is_one_of_its_own(tmp_path, capsys):
    # `-m seeds=2 model.optimizer.lr=0.1,0.01`: the table was in launch order, and the best job a lucky seed of lr=0.1
    for number, (lr, seed, loss) in enumerate([("0.1", 0, 0.1), ("0.1", 1, 0.9), ("0.01", 0, 0.31), ("0.01", 1, 0.3)]):
        finished_job(tmp_path, number, [f"model.optimizer.lr={lr}", f"seed={seed}"], loss, 0.8)
    summarize(tmp_path)
    out = capsys.readouterr().out
    mean_table = out[out.index("mean ± std over seed, best mean val_loss first") :].splitlines()
    assert [line.split()[1] for line in mean_table if line.startswith("│")] == ["0.01", "0.1"], out
    assert "│ 0.3050 ± 0.0071 │" in out  # four decimals, as every metric column
    groups = pd.read_csv(tmp_path / "summary_mean_std.csv").to_dict("records")
    assert [g["model.optimizer.lr"] for g in groups] == [0.01, 0.1]
    assert "best job (lowest val_loss of model.optimizer.lr=0.01): 3" in out.splitlines()


def test_numbers_show_four_decimals_and_settings_and_non_finite_losses_read_alike_in_table_and_csv(tmp_path, capsys):
    # `-m model.optimizer.lr=1e-3,1e-2,1e9`: Hydra gives the jobs 0.001, 0.01 and 1000000000.0; the last diverges
    finished_job(tmp_path, 0, ["model.optimizer.lr=0.001"], loss=0.5, acc=0.73)
    finished_job(tmp_path, 1, ["model.optimizer.lr=0.01"], loss=0.4, acc=0.99999994)
    finished_job(tmp_path, 2, ["model.optimizer.lr=1000000000.0"], loss=math.nan, acc=0.5)
    metrics = json.loads((tmp_path / "2" / "metrics.json").read_text())
    (tmp_path / "2" / "metrics.json").write_text(json.dumps({**metrics, "test": {}}))  # no model to test
    summarize(tmp_path)
    rows = [line.split("│")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    table = {cells[0].strip(): [cell.strip() for cell in cells[1:4]] for cells in rows}
    assert table == {  # lr, best val_loss, acc: it read 0.73 beside 0.7307, 1 for 0.99999994, 1e+09, nan
        "1": ["0.01", "0.4000", "1.0000"],
        "0": ["0.001", "0.5000", "0.7300"],
        "2": ["1000000000.0", "nan", "—"],
    }
    lines = (tmp_path / "summary.csv").read_text().splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["1", "0.01", "0.4"],
        ["0", "0.001", "0.5"],
        ["2", "1000000000.0", "nan"],
    ]
    assert lines[3].split(",")[5] == ""  # no test_acc: a value the job never had, — in the table


def test_a_partial_cross_validation_says_which_folds_its_mean_lacks(tmp_path, capsys):
    # `-m cv.folds=3 cv.fold=0,1`: fold 2 never ran, and the mean over two folds read like the 3-fold one
    for fold in (0, 1):
        finished_job(tmp_path, fold, ["cv.folds=3", f"cv.fold={fold}"], 0.5, 0.8)
    summarize(tmp_path)
    assert "note: fold 2 of cv.folds=3 has no result: the mean is over 2 of 3 folds" in capsys.readouterr().out.splitlines()
    finished_job(tmp_path, 2, ["cv.folds=3", "cv.fold=2"], 0.5, 0.8)
    summarize(tmp_path)
    assert "note:" not in capsys.readouterr().out
