"""`python -m src.ensemble`: the mean prediction of several runs' best checkpoints, beside each member's metrics."""

import json

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from src.ensemble import ensemble, member_sources, print_ensemble_table
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


def test_an_ensemble_of_one_run_twice_is_that_run(cancer_run, tmp_path, capsys):
    run_dir, result = cancer_run
    with pytest.warns(UserWarning, match="is given more than once, so it counts more than once in the mean"):
        metrics = ensemble(compose_ensemble([run_dir, run_dir], tmp_path))
    # printed to a pipe or a log file, each row's label on one line, not cut to "mean predicti…" in 80 columns
    printed = capsys.readouterr().out
    for label in ("member 1: network (", "mean of members", "mean prediction", "blend (weights fit on validation)"):
        assert f"│ {label}" in printed
    assert "the result is the mean prediction (combine=mean)" in printed  # shown in bold only, lost in a plain log
    assert metrics["n_members"] == 2
    # the training run's own test metrics (its test_loss is a mean over batches; here it is over rows)
    assert {k: v for k, v in metrics["test"].items() if k != "test_loss"} == pytest.approx(
        {k: v for k, v in result.test.items() if k != "test_loss"}, rel=1e-6
    )
    assert metrics["members"][0]["test"] == metrics["members"][1]["test"] == pytest.approx(metrics["test"])
    trained = pd.read_csv(run_dir / "test_predictions.csv")
    averaged = pd.read_csv(tmp_path / "test_predictions.csv")
    pd.testing.assert_frame_equal(averaged, trained, check_exact=False, rtol=0, atol=1e-6)  # labels exactly


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


def test_a_multirun_folder_gives_its_jobs_in_job_order_networks_and_lightgbm_alike(tmp_path):
    for job in ("0", "1", "10", "2"):
        (tmp_path / job / "checkpoints").mkdir(parents=True)
        (tmp_path / job / "checkpoints" / "best.ckpt").touch()
        (tmp_path / job / "metrics.json").write_text('{"stop_reason": "early_stopping"}')
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "lightgbm_model.txt").touch()  # a LightGBM run (src.baseline) is a member too: its folder
    (tmp_path / "3" / "metrics.json").write_text("{}")
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "4").mkdir()  # a refused job: Hydra made its folder, the job no model
    with pytest.warns(UserWarning, match=r"^runs: job\(s\) 4 of .* have no model \(refused, or stopped before a checkpoint\)"):
        found = member_sources([str(tmp_path)])
    assert [p.parent.parent.name if p.suffix == ".ckpt" else p.name for p in found] == ["0", "1", "2", "3", "10"]
    assert found[3] == tmp_path / "3"
    with pytest.raises(UserError, match="holds no run with checkpoints/best.ckpt"):
        member_sources([str(tmp_path / ".hydra")])


def test_a_sweeps_member_is_named_by_its_job_number_not_a_bare_number(capsys):
    # `runs=logs/cancer/multiruns/<time>`: a row read `network (0, epoch 2)`, the 0 taken for a seed
    scores = {"test_acc": 0.9}
    members = [
        {"kind": "network", "checkpoint": "multiruns/t/0/checkpoints/best.ckpt", "epoch": 2, "weight": 0.5, "test": scores},
        {"kind": "lightgbm", "checkpoint": "runs/2026-12-05_06-10-08_735261", "epoch": 40, "weight": 0.5, "test": scores},
    ]
    metrics = {"test": scores, "members": members, "members_mean": scores, "combine": "mean"}
    print_ensemble_table({**metrics, "mean_prediction": {"test": scores}, "blend": {"test": scores}}, title="t")
    printed = capsys.readouterr().out
    assert "member 1: network (job 0, epoch 2)" in printed
    assert "member 2: lightgbm (2026-12-05_06-10-08_735261, round 40)" in printed  # a single run: its folder


def test_a_multirun_folder_with_an_unfinished_job_is_refused_by_name(tmp_path):
    # an interrupted job (a cluster's time limit, Ctrl+C) or one still training has a best.ckpt from mid-training
    for job, metrics in (("0", '{"interrupted": false}'), ("1", '{"interrupted": true}'), ("2", None)):
        (tmp_path / job / "checkpoints").mkdir(parents=True)
        (tmp_path / job / "checkpoints" / "best.ckpt").touch()
        if metrics:
            (tmp_path / job / "metrics.json").write_text(metrics)
    with pytest.raises(
        UserError, match=rf"did not finish \(interrupted, or still training\): {tmp_path / '1'}, {tmp_path / '2'}; resume"
    ):
        member_sources([str(tmp_path)])
    assert member_sources([str(tmp_path / "0")]) == [tmp_path / "0" / "checkpoints" / "best.ckpt"]  # named alone: taken


def test_a_multirun_folders_diverged_jobs_are_left_out_with_a_warning(tmp_path):
    # the lesson's [3, 3, 3] regressor diverges on about one seed in five: the ensemble of a seeds sweep went on to refuse
    for job, best_val_loss in (("0", "NaN"), ("1", "0.52"), ("2", "Infinity")):
        (tmp_path / job / "checkpoints").mkdir(parents=True)
        (tmp_path / job / "checkpoints" / "best.ckpt").touch()
        (tmp_path / job / "metrics.json").write_text(f'{{"best_val_loss": {best_val_loss}}}')
    with pytest.warns(UserWarning, match=r"^runs: job\(s\) 0, 2 of .* diverged and are left out$"):
        assert member_sources([str(tmp_path)]) == [tmp_path / "1" / "checkpoints" / "best.ckpt"]
    (tmp_path / "1" / "metrics.json").write_text('{"best_val_loss": NaN}')
    with pytest.raises(UserError, match="every job of .* diverged"):
        member_sources([str(tmp_path)])


def test_members_of_another_split_are_refused(cancer_run, tmp_path_factory, tmp_path):
    other = train_cancer(tmp_path_factory, "data.random_state=7")
    with pytest.raises(UserError, match=r"another split .*random_state differ"):
        ensemble(compose_ensemble([cancer_run[0], other], tmp_path))


def test_members_of_other_folds_are_refused(tmp_path_factory, tmp_path):
    # each fold's checkpoint was rebuilt on the lesson's split: the blend was fit on rows some members trained on
    folds = [train_cancer(tmp_path_factory, "cv.folds=3", f"cv.fold={fold}", "trainer.max_epochs=1") for fold in (0, 1)]
    with pytest.raises(UserError, match=r"are folds 1 and 0 of a cross-validation: .*combine the seeds of one fold instead"):
        ensemble(compose_ensemble(folds, tmp_path))


def test_blend_weights_are_the_least_squares_mix_of_the_members():
    from src.ensemble import blend_weights

    rng = np.random.default_rng(0)
    truth = rng.normal(size=5000)
    good, worse = truth + 0.5 * rng.normal(size=5000), truth + 1.0 * rng.normal(size=5000)
    weights = blend_weights([good, worse], truth, "regression")
    # independent errors of variances 0.25 and 1: the best mix is 0.8 / 0.2
    assert weights.sum() == pytest.approx(1) and weights == pytest.approx([0.8, 0.2], abs=0.03)
    # the same errors, twice as large: without the bounds the fit would weigh them 2 and -1
    assert blend_weights([good, truth + 2 * (good - truth)], truth, "regression") == pytest.approx([1, 0], abs=1e-6)


def regression_table(path, rows=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "c": rng.choice(["x", "y", "z"], rows)})
    frame["price"] = np.sin(2 * frame["a"]) + frame["b"] ** 2 + (frame["c"] == "x") + 0.1 * rng.normal(size=rows)
    frame.to_csv(path, index=False)
    return frame


def test_nets_and_trees_are_blended_with_weights_from_the_validation_rows_only(tmp_path):
    import torch

    from src.baseline import baseline
    from src.train import build_datamodule, train

    frame = regression_table(tmp_path / "t.csv")
    data = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price"]
    train(compose_config(*data, "trainer.max_epochs=15", "model.optimizer.lr=0.01", output_dir=tmp_path / "net"))
    baseline(compose_config(*data, "baseline.max_rounds=60", output_dir=tmp_path / "trees", config_name="baseline"))
    runs = [tmp_path / "net", tmp_path / "trees"]

    def blend(out, *extra):
        with initialize_config_dir(str(CONF), version_base="1.3"):
            cfg = compose(
                "ensemble", overrides=[f"paths.output_dir={out}", f"runs=[{','.join(map(str, runs))}]", "combine=blend", *extra]
            )
        return ensemble(cfg)

    metrics = blend(tmp_path / "blend")
    assert [m["kind"] for m in metrics["members"]] == ["network", "lightgbm"]
    assert metrics["test"] == metrics["blend"]["test"] and sum(metrics["blend"]["weights"]) == pytest.approx(1)
    members = [pd.read_csv(run / "test_predictions.csv")["predicted"] for run in runs]
    blended = pd.read_csv(tmp_path / "blend" / "test_predictions.csv")["predicted"]
    w = metrics["blend"]["weights"]
    np.testing.assert_allclose(blended, w[0] * members[0] + w[1] * members[1], rtol=1e-5, atol=1e-5)

    # the same table with other targets on the test rows only: the same weights, other test scores
    test_rows = build_datamodule(compose_config(*data, output_dir=tmp_path / "unused")).split_positions["test"]
    frame.loc[test_rows, "price"] = frame.loc[test_rows, "price"].sample(frac=1, random_state=1).to_numpy()
    frame.to_csv(tmp_path / "other_test_targets.csv", index=False)
    other = f"data_path={tmp_path / 'other_test_targets.csv'}"
    with pytest.raises(UserError, match=r"^the test rows of .*other_test_targets\.csv are not the ones .*net/checkpoints/best"):
        blend(tmp_path / "refused", other)  # the network's checkpoint knows its test rows
    # a checkpoint from before test fingerprints is blended on such a table as before: the weights never saw the test rows
    checkpoint = torch.load(tmp_path / "net" / "checkpoints" / "best.ckpt", weights_only=True)
    del checkpoint["TabularDataModule"]["test_fingerprint"]
    torch.save(checkpoint, tmp_path / "net" / "checkpoints" / "best.ckpt")
    changed = blend(tmp_path / "blend2", other)
    assert changed["blend"]["weights"] == pytest.approx(metrics["blend"]["weights"], abs=1e-9)
    assert changed["blend"]["val"] == pytest.approx(metrics["blend"]["val"])
    assert changed["test"]["test_r2"] < metrics["test"]["test_r2"] - 0.1


def test_a_diverged_member_is_refused_by_name(tmp_path):
    # a sweep's diverged job keeps a best.ckpt whose predictions are NaN: the blend's least squares crashed on them
    from src.train import train

    regression_table(tmp_path / "t.csv")
    data = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price", "trainer.max_epochs=2"]
    for run, lr in (("net", "0.01"), ("diverged", "1e30")):
        train(compose_config(*data, f"model.optimizer.lr={lr}", output_dir=tmp_path / run))
    with pytest.raises(UserError, match=r"diverged/checkpoints/best.ckpt predicts NaN or inf: .*leave it out of runs"):
        ensemble(compose_ensemble([tmp_path / "net", tmp_path / "diverged"], tmp_path / "ensemble"))


def test_trees_of_another_split_are_refused(tmp_path):
    from src.baseline import baseline
    from src.train import train

    regression_table(tmp_path / "t.csv")
    data = ["experiment=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price"]
    train(compose_config(*data, "trainer.max_epochs=2", output_dir=tmp_path / "net"))
    baseline(
        compose_config(
            *data, "data.random_state=7", "baseline.max_rounds=5", output_dir=tmp_path / "trees", config_name="baseline"
        )
    )
    with pytest.raises(UserError, match=r"trees was trained on other data or another split .*\(random_state differ\)"):
        ensemble(compose_ensemble([tmp_path / "net", tmp_path / "trees"], tmp_path / "out"))
