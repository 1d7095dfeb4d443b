"""`python -m src.eval`: a checkpoint re-evaluated from what it carries reproduces its training run's report."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from src.errors import UserError
from src.eval import evaluate
from tests.conftest import compose_config, run_module
from tests.support.commands import compose_eval


def check_eval_reproduces_training(run_dir, result, eval_dir):
    metrics = evaluate(compose_eval(f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", output_dir=eval_dir))
    assert metrics["epoch"] == result.best_epoch
    assert metrics["test"] == pytest.approx(result.test, rel=1e-6)
    assert metrics["matrices"] == result.matrices
    assert json.loads((eval_dir / "metrics.json").read_text())["test"] == metrics["test"]
    # the data behind the figures, then the figures themselves
    trained = pd.read_csv(run_dir / "test_predictions.csv")
    evaluated = pd.read_csv(eval_dir / "test_predictions.csv")
    pd.testing.assert_frame_equal(evaluated, trained, check_exact=False, rtol=0, atol=1e-6)  # labels exactly
    figures = sorted(p.name for p in (eval_dir / "figures").glob("*.png"))
    assert figures and set(figures) < {p.name for p in (run_dir / "figures").glob("*.png")}  # all but the loss curves
    for name in figures:
        np.testing.assert_array_equal(imread(eval_dir / "figures" / name), imread(run_dir / "figures" / name))
    return figures


def test_eval_of_best_checkpoint_reproduces_the_cancer_report(cancer_run, tmp_path):
    run_dir, result = cancer_run
    assert check_eval_reproduces_training(run_dir, result, tmp_path) == ["confusion_matrix.png"]


def test_eval_of_best_checkpoint_reproduces_the_housing_report(housing_run, tmp_path):
    run_dir, result = housing_run
    assert check_eval_reproduces_training(run_dir, result, tmp_path) == ["predicted_vs_actual.png", "residuals.png"]


def test_eval_points_at_a_moved_table_file_with_data_path(tmp_path, capsys):
    from src.train import train
    from tests.support.tables import table

    table().to_csv(tmp_path / "t.csv", index=False)
    run_dir = tmp_path / "run"
    settings = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=kind", "trainer.max_epochs=3"]
    result = train(compose_config(*settings, output_dir=run_dir))
    (tmp_path / "t.csv").rename(tmp_path / "moved.csv")
    ckpt = f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"
    with pytest.raises(UserError, match=r"no longer at .*t\.csv; give its place with data_path=FILE"):
        evaluate(compose_eval(ckpt, output_dir=tmp_path / "eval1"))
    with pytest.raises(UserError, match=r"^data_path: no such file: .*mvoed\.csv$"):  # the setting given, not data.path
        evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'mvoed.csv'}", output_dir=tmp_path / "eval3"))
    # a file without some of the trained columns: named as such, not as data.features or data.target the user never set
    table().drop(columns=["kind", table().columns[0]]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(
        UserError, match=rf"short\.csv lacks the column\(s\) {table().columns[0]}, kind this model was trained with"
    ):
        evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'short.csv'}", output_dir=tmp_path / "eval4"))
    capsys.readouterr()
    metrics = evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'moved.csv'}", output_dir=tmp_path / "eval2"))
    assert metrics["test"] == pytest.approx(result.test, rel=1e-6)
    # the table scored is named, not the one the checkpoint was trained on (no longer there)
    assert metrics["data"] == str(tmp_path / "moved.csv") and "moved.csv" in capsys.readouterr().out.split("\n")[0]


def test_eval_refuses_a_table_whose_test_rows_changed_since_training(tmp_path):
    """Rows appended or shuffled, or data_path naming another table with the same columns: the saved split settings would
    pick other test rows (some of them training rows), so eval refuses rather than report other numbers."""
    import torch

    from src.train import train
    from tests.support.tables import table

    original = table()
    original.to_csv(tmp_path / "t.csv", index=False)
    run_dir = tmp_path / "run"
    settings = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=kind", "trainer.max_epochs=1"]
    result = train(compose_config(*settings, output_dir=run_dir))
    ckpt = f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"

    def refused(file: str) -> str:
        return (
            rf"^the test rows of .*{file} are not the ones .*best\.ckpt was trained and tested on \(the file changed since "
            r"training, or data_path names another table\); eval scores the test split of training$"
        )

    changes = {"appended": pd.concat([original, original.head(50)]), "shuffled": original.sample(frac=1, random_state=1)}
    for change, frame in changes.items():
        frame.to_csv(tmp_path / "t.csv", index=False)
        with pytest.raises(UserError, match=refused("t.csv")):
            evaluate(compose_eval(ckpt, output_dir=tmp_path / change))
        assert not (tmp_path / change).exists()  # no metrics.json, no report
    table(seed=1).to_csv(tmp_path / "other.csv", index=False)  # the same columns, other rows
    with pytest.raises(UserError, match=refused("other.csv")):
        evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'other.csv'}", output_dir=tmp_path / "other"))
    assert not (tmp_path / "other").exists()
    original.assign(kind=original["kind"].where(original.index % 9 > 0, "medium")).to_csv(tmp_path / "three.csv", index=False)
    with pytest.raises(
        UserError,
        match=r"^data.target 'kind' of .*three.csv must hold two distinct labels, as this binary "
        r"classifier was trained on; got 3: heavy, light, medium$",
    ):  # no data.task hint: eval takes none
        evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'three.csv'}", output_dir=tmp_path / "three"))
    original.to_csv(tmp_path / "t.csv", index=False)
    metrics = evaluate(compose_eval(ckpt, output_dir=tmp_path / "unchanged"))
    assert metrics["test"] == pytest.approx(result.test, rel=1e-6)
    # a checkpoint saved before test rows were fingerprinted is evaluated as before
    checkpoint = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    del checkpoint["TabularDataModule"]["test_fingerprint"]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    changes["shuffled"].to_csv(tmp_path / "t.csv", index=False)
    assert evaluate(compose_eval(f"ckpt_path={tmp_path / 'old.ckpt'}", output_dir=tmp_path / "old"))["test"]


def test_eval_of_an_ensemble_reproduces_its_members_scores(tmp_path):
    """TabM (experiment=csv) reports each of its k members alone under test_members: eval's report has them too."""
    from src.train import train
    from tests.support.tables import table

    table().to_csv(tmp_path / "t.csv", index=False)
    settings = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=kind", "trainer.max_epochs=2"]
    result = train(compose_config(*settings, output_dir=tmp_path / "run"))
    assert "test_members" in result.matrices
    check_eval_reproduces_training(tmp_path / "run", result, tmp_path / "eval")


def test_eval_data_home_reaches_the_built_in_source_and_data_path_is_refused_there(housing_run, tmp_path):
    run_dir, _ = housing_run
    ckpt = f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"
    with pytest.raises(UserError, match=f"not in scikit-learn's cache at {tmp_path} and downloads are off"):
        evaluate(compose_eval(ckpt, f"data_home={tmp_path}", "download=false", output_dir=tmp_path / "eval"))
    with pytest.raises(UserError, match="data_path is for a run on a file .*trained on 'california_housing'"):
        evaluate(compose_eval(ckpt, f"data_path={tmp_path / 'x.csv'}", output_dir=tmp_path / "eval2"))


def test_eval_needs_a_checkpoint(tmp_path):
    with pytest.raises(UserError, match="ckpt_path is required"):
        evaluate(compose_eval(output_dir=tmp_path))


@pytest.mark.slow  # a subprocess run of the command
def test_eval_command_prints_the_report_and_writes_its_files(cancer_run, tmp_path):
    run_dir, result = cancer_run
    proc = run_module("src.eval", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"paths.log_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert f"{result.test['test_acc']:.4f}" in proc.stdout
    (eval_dir,) = (tmp_path / "eval").iterdir()
    assert (eval_dir / "figures" / "confusion_matrix.png").is_file()
    assert json.loads((eval_dir / "metrics.json").read_text())["test"] == pytest.approx(result.test, rel=1e-6)


@pytest.mark.slow  # a subprocess run of the command
def test_eval_command_rejects_a_missing_checkpoint_in_one_line(tmp_path):
    proc = run_module("src.eval", f"ckpt_path={tmp_path / 'nope.ckpt'}", f"paths.log_dir={tmp_path}")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: checkpoint not found: {tmp_path / 'nope.ckpt'}"


def test_eval_takes_the_run_folder_or_its_checkpoints_folder_for_best_ckpt(cancer_run, tmp_path):
    # the checkpoints/ folder was refused, suggesting checkpoints/checkpoints/best.ckpt
    run_dir, result = cancer_run
    for given in (run_dir, run_dir / "checkpoints"):
        metrics = evaluate(compose_eval(f"ckpt_path={given}", output_dir=tmp_path / given.name))
        assert metrics["epoch"] == result.best_epoch and metrics["test"] == pytest.approx(result.test, rel=1e-6)
