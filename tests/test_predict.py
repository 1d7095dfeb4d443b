"""`python -m src.predict`: new rows in, the trained model's predictions out, and never a partial file."""

import numpy as np
import pandas as pd
import pytest
import torch

from src.data import sources
from src.data.splits import split_like_the_lesson
from src.errors import UserError
from src.predict import predict
from tests.conftest import ROOT, run_module
from tests.support.commands import compose_predict


def raw_test_rows(name: str, path, reverse_columns: bool = True) -> pd.DataFrame:
    """The test split as a user would have it: unscaled, with a header, columns in another order."""
    table = getattr(sources, name)()
    features = table.frame.drop(columns=table.target)
    x_test, _ = split_like_the_lesson(features.to_numpy(), table.frame[table.target].to_numpy(), 0.2, 0.2, random_state=21)[
        "test"
    ]
    frame = pd.DataFrame(x_test, columns=features.columns)
    if reverse_columns:
        frame = frame[frame.columns[::-1]]
    frame.to_csv(path, index=False, float_format="%.17g")
    return frame


def test_classifier_predictions_of_new_rows_match_the_training_report(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    raw_test_rows("breast_cancer", tmp_path / "new.csv")
    predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'preds.csv'}"))

    preds = pd.read_csv(tmp_path / "preds.csv")
    report = pd.read_csv(run_dir / "test_predictions.csv")
    assert list(preds.columns) == ["probability", "class", "label"]
    np.testing.assert_allclose(preds["probability"], report["probability"], rtol=0, atol=1e-6)
    assert (preds["class"] == report["predicted"]).all()
    assert set(preds["class"]) == {0, 1}
    assert (preds["label"] == preds["class"].map({0: "malignant", 1: "benign"})).all()
    assert (report["predicted_label"] == preds["label"]).all()  # the report names the classes as predict does
    assert (report["actual_label"] == report["actual"].map({0: "malignant", 1: "benign"})).all()

    threshold = float(preds["probability"].median())
    predict(
        compose_predict(
            f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'high.csv'}", f"threshold={threshold}"
        )
    )
    high = pd.read_csv(tmp_path / "high.csv")
    assert (high["class"] == (high["probability"] > threshold).astype(int)).all()
    assert high["class"].sum() < preds["class"].sum()


def test_regressor_predictions_of_new_rows_match_the_training_report(housing_run, tmp_path):
    run_dir, _ = housing_run
    raw_test_rows("california_housing", tmp_path / "new.csv")
    predict(
        compose_predict(
            f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
            f"input={tmp_path / 'new.csv'}",
            f"output={tmp_path / 'preds.csv'}",
        )
    )
    preds = pd.read_csv(tmp_path / "preds.csv")
    assert list(preds.columns) == ["prediction"]
    np.testing.assert_allclose(preds["prediction"], pd.read_csv(run_dir / "test_predictions.csv")["predicted"], rtol=0, atol=1e-6)


def bad_requests(run_dir, tmp_path):
    """(overrides, part of the message) for each way a request can be wrong."""
    good = tmp_path / "good.csv"
    frame = raw_test_rows("breast_cancer", good, reverse_columns=False).head(5)
    ckpt = run_dir / "checkpoints" / "best.ckpt"

    def csv(name, edited):
        path = tmp_path / name
        edited.to_csv(path, index=False)
        return path

    non_numeric = frame.astype(object)
    non_numeric.loc[2, "mean area"] = "big"
    infinite = frame.copy()
    infinite.loc[3, "worst radius"] = np.inf
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(ckpt.read_bytes()[:1000])
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    json_file = tmp_path / "new.json"
    frame.to_json(json_file, orient="records")
    utf16 = tmp_path / "utf16.csv"
    frame.to_csv(utf16, index=False, encoding="utf-16")
    return [
        ([f"input={csv('missing.csv', frame.drop(columns=['mean radius']))}"], "missing feature columns: 'mean radius'"),
        (
            [f"input={csv('extra.csv', frame.assign(id=range(5)))}"],
            "unknown columns (not features of the model; remove them): 'id'",
        ),
        ([f"input={csv('text.csv', non_numeric)}"], "column 'mean area' has a non-numeric value 'big' in row 3"),
        ([f"input={csv('inf.csv', infinite)}"], "column 'worst radius' has 1 infinite value(s), first in row 4"),
        ([f"input={empty}"], "is empty"),
        ([f"input={tmp_path / 'nope.csv'}"], "input file not found"),
        ([f"input={tmp_path}"], f"input={tmp_path} is a folder; give the CSV or Parquet file of the rows to predict"),
        ([f"input={json_file}"], "new.json is a .json file; save the table as CSV"),
        ([f"input={utf16}"], "utf16.csv is UTF-16 text; save it as CSV UTF-8"),
        ([f"input={good}", f"ckpt_path={corrupt}"], "is not a readable checkpoint"),
        ([f"input={good}", f"ckpt_path={foreign}"], "is not a checkpoint of this project"),
        ([f"input={good}", "threshold=1.5"], "threshold must be a number in [0, 1]; got 1.5"),
        ([f"input={good}", f"output={good}"], "is the input file"),
        ([f"input={good}", f"output={tmp_path / 'preds.csv.gz'}"], "preds.csv.gz would be a plain CSV under a .gz name"),
        ([f"input={good}", f"output={tmp_path / 'preds.xlsx'}"], "preds.xlsx would be a plain CSV under a .xlsx name"),
        ([f"input={good}", f"output={tmp_path / 'preds'}/"], "names a folder; give a file name"),  # was a file named preds
    ]


def test_bad_requests_are_refused_and_leave_no_output(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    output = tmp_path / "preds.csv"
    for overrides, expected in bad_requests(run_dir, tmp_path):
        cfg = compose_predict(f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"output={output}", *overrides)
        with pytest.raises(UserError) as info:
            predict(cfg)
        assert expected in str(info.value), (overrides, str(info.value))
        assert not output.exists() and not list(tmp_path.glob("preds.*"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_keeps_the_previous_output(cancer_run, tmp_path, monkeypatch):
    run_dir, _ = cancer_run
    raw_test_rows("breast_cancer", tmp_path / "new.csv")
    output = tmp_path / "preds.csv"
    output.write_text("earlier predictions\n")

    def write_half_then_fail(self, handle, **kwargs):
        handle.write("probability,class\n0.5,")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", write_half_then_fail)
    with pytest.raises(UserError, match=f"could not write {output}: No space left on device"):
        predict(
            compose_predict(
                f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"input={tmp_path / 'new.csv'}", f"output={output}"
            )
        )
    assert output.read_text() == "earlier predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "preds.csv"]


@pytest.mark.slow  # a subprocess run of the command
def test_predict_command_writes_predictions_or_one_error_line(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    frame = raw_test_rows("breast_cancer", tmp_path / "new.csv")
    frame.drop(columns=["worst area"]).to_csv(tmp_path / "bad.csv", index=False)

    bad = run_module("src.predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'bad.csv'}", f"output={tmp_path / 'out.csv'}")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == f"error: {tmp_path / 'bad.csv'}: missing feature columns: 'worst area' (the model takes 30 named features)"
    )
    assert not (tmp_path / "out.csv").exists()

    good = run_module(
        "src.predict",
        f"ckpt_path={ckpt}",
        f"input={tmp_path / 'new.csv'}",
        f"output={tmp_path / 'out.csv'}",
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == f"wrote 114 predictions to {tmp_path / 'out.csv'}"
    assert len(pd.read_csv(tmp_path / "out.csv")) == 114
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "new.csv", "out.csv"]  # no log or .hydra folder


def test_multiclass_predictions_get_a_probability_column_per_class_and_the_label():
    import numpy as np

    from src.predict import prediction_frame

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    frame = prediction_frame(probabilities, "multiclass", None, ["Adelie", "Chinstrap", "Gentoo"])
    assert list(frame.columns) == ["probability_Adelie", "probability_Chinstrap", "probability_Gentoo", "class", "label"]
    assert frame["class"].tolist() == [0, 2] and frame["label"].tolist() == ["Adelie", "Gentoo"]


def test_chunked_prediction_equals_whole_file_and_parquet_equals_csv(cancer_run, tmp_path):
    run_dir, _ = cancer_run
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    frame = raw_test_rows("breast_cancer", tmp_path / "new.csv")
    frame.to_parquet(tmp_path / "new.parquet")
    whole = tmp_path / "whole.csv"
    predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={whole}"))
    predict(
        compose_predict(
            f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'chunked.csv'}", "chunk_rows=7"
        )
    )
    assert (tmp_path / "chunked.csv").read_text() == whole.read_text()
    predict(
        compose_predict(
            f"ckpt_path={ckpt}", f"input={tmp_path / 'new.parquet'}", f"output={tmp_path / 'out.parquet'}", "chunk_rows=50"
        )
    )
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), pd.read_csv(whole), check_dtype=False, rtol=1e-6)


def test_a_real_table_trains_evaluates_and_predicts_from_the_checkpoint_alone(tmp_path, make_config):
    """Categories, holes, a date and an identifier in the training file; unseen values and holes at predict time."""
    from src.eval import evaluate
    from src.train import train
    from tests.support.commands import compose_eval
    from tests.support.tables import table

    table().to_csv(tmp_path / "train.csv", index=False)
    cfg = make_config("data=csv", f"data.path={tmp_path / 'train.csv'}", "data.target=kind", "trainer.max_epochs=3")
    result = train(cfg)
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    state = torch.load(ckpt, weights_only=True)["TabularDataModule"]
    assert state["task"] == "binary" and state["columns"]["code"] == "ignored" and state["vocabularies"]["colour"]

    evaluated = evaluate(compose_eval(f"ckpt_path={ckpt}", output_dir=tmp_path / "eval"))
    assert evaluated["test"] == pytest.approx(result.test, rel=1e-6)

    new = table(rows=30, seed=5).drop(columns=["kind"])
    new.loc[0, "colour"], new.loc[1, "weight"], new.loc[2, "day"] = "gold", np.nan, None
    new.to_csv(tmp_path / "new.csv", index=False)
    with pytest.warns(UserWarning, match="column 'colour'.*'gold'"):
        rows = predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'p.csv'}"))
    preds = pd.read_csv(tmp_path / "p.csv")
    # the identifier that training set aside comes first, so the predictions join back to the input rows
    assert rows == 30 and list(preds.columns) == ["code", "probability", "class", "label"]
    assert list(preds["code"]) == list(new["code"])
    assert set(preds["label"]) <= {"heavy", "light"} and preds["probability"].between(0, 1).all()

    for keep, columns in (("all", [*new.columns, "probability", "class", "label"]), ("none", ["probability", "class", "label"])):
        for suffix in ("csv", "parquet"):
            new.to_parquet(tmp_path / "new.parquet", index=False)
            out = tmp_path / f"{keep}.{suffix}"
            predict(
                compose_predict(
                    f"ckpt_path={ckpt}", f"input={tmp_path / ('new.' + suffix)}", f"output={out}", f"keep_columns={keep}"
                )
            )
            kept = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
            assert list(kept.columns) == columns
            assert kept["probability"].to_numpy() == pytest.approx(preds["probability"].to_numpy(), rel=1e-6)
    with pytest.raises(UserError, match="keep_columns must be one of identifiers, all, none; got 'some'"):
        predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={out}", "keep_columns=some"))


def test_columns_of_the_training_table_left_out_by_data_features_may_stay(tmp_path, make_config):
    """The training table's other columns are not features, but not strangers either; a misspelt one still is."""
    from src.train import train
    from tests.support.tables import table

    table().to_csv(tmp_path / "train.csv", index=False)
    train(
        make_config(
            "data=csv",
            f"data.path={tmp_path / 'train.csv'}",
            "data.target=kind",
            "data.features=[size,colour]",
            "trainer.max_epochs=1",
        )
    )
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    new = table(rows=20, seed=5).drop(columns=["kind"])
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "p.csv"
    assert (
        predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={out}", "keep_columns=all")) == 20
    )
    assert list(pd.read_csv(out).columns) == [*new.columns, "probability", "class", "label"]
    new.rename(columns={"weight": "wieght"}).to_csv(tmp_path / "misspelt.csv", index=False)
    with pytest.raises(UserError, match="unknown columns .*: 'wieght'"):
        predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'misspelt.csv'}", f"output={out}"))


def test_keep_columns_all_writes_the_input_columns_as_the_csv_writes_them(tmp_path, make_config):
    """keep_columns=all carries the input's columns: a number keeps every digit (a 9-digit format cut them), and a
    whole number stays one (a numeric feature is read as floats: 71 came back as 71.0)."""
    from src.train import train
    from tests.support.tables import table

    def with_floors(frame):
        return frame.assign(floors=np.random.default_rng(len(frame)).integers(1, 90, len(frame)))

    with_floors(table()).to_csv(tmp_path / "train.csv", index=False)
    train(make_config("data=csv", f"data.path={tmp_path / 'train.csv'}", "data.target=kind", "trainer.max_epochs=1"))
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert torch.load(ckpt, weights_only=True)["TabularDataModule"]["columns"]["floors"] == "numeric"
    new = with_floors(table(rows=20, seed=5).drop(columns=["kind"]))
    new.loc[0, "weight"] = 12345678901.5
    new.to_csv(tmp_path / "new.csv", index=False)
    predict(
        compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'p.csv'}", "keep_columns=all")
    )
    as_text = {"dtype": str, "keep_default_na": False}
    kept, written = pd.read_csv(tmp_path / "p.csv", **as_text), pd.read_csv(tmp_path / "new.csv", **as_text)
    pd.testing.assert_frame_equal(kept[written.columns], written)


def test_keep_columns_all_into_parquet_after_a_short_row_deep_in_the_csv(tmp_path, make_config):
    """A short row past pyarrow's first block sends the rest to the text reader; its chunks must carry the same types."""
    from src.train import train
    from tests.support.tables import table

    table().to_csv(tmp_path / "train.csv", index=False)
    train(make_config("data=csv", f"data.path={tmp_path / 'train.csv'}", "data.target=kind", "trainer.max_epochs=1"))
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    lines = table(rows=30_000, seed=5).drop(columns=["kind"]).to_csv(index=False).splitlines()  # over a megabyte
    lines[-5] = ",".join(lines[-5].split(",")[:3])  # a short row: its missing cells are empty
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"p.{suffix}"
        predict(
            compose_predict(
                f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={out}", "keep_columns=all", "chunk_rows=5000"
            )
        )
    numbers = ["size", "weight", "cylinders", "probability", "class"]
    as_parquet, as_csv = pd.read_parquet(tmp_path / "p.parquet"), pd.read_csv(tmp_path / "p.csv")
    assert list(as_parquet.columns) == list(as_csv.columns) and len(as_parquet) == 30_000
    pd.testing.assert_frame_equal(as_parquet[numbers], as_csv[numbers], check_dtype=False)
