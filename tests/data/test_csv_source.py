"""data=csv: a table with a header trains like the built-in data, and a bad file stops with one line."""

import inspect
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_regression

from src.data.datamodule import TabularDataModule
from src.errors import UserError
from src.train import train
from tests.conftest import run_module


def regression_csv(path: Path, rows: int = 300, with_id: bool = False) -> Path:
    x, y = make_regression(n_samples=rows, n_features=4, noise=5.0, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    if with_id:  # text: fine as long as data.features leaves it out
        frame.insert(0, "house_id", [f"H{i:04d}" for i in range(rows)])
    frame["price"] = y
    frame.to_csv(path, index=False)
    return path


def cancer_csv_with_words(path: Path) -> Path:
    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=bunch.feature_names)
    frame["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    frame.to_csv(path, index=False)
    return path


def file_datamodule(path, target: str, task: str | None = None, **settings) -> TabularDataModule:
    """What data=csv data.path=... data.target=... builds."""
    source = {"_target_": "src.data.sources.read_file", "path": str(path)}
    return TabularDataModule(source=source, path=str(path), target=target, task=task, **{"batch_size": 32, **settings})


def csv_overrides(path: Path, target: str, task: str, *more: str) -> list[str]:
    return ["data=csv", f"data.path={path}", f"data.target={target}", f"data.task={task}", *more]


def test_regression_csv_trains_with_the_lesson_split_and_a_regressor(tmp_path, make_config):
    path = regression_csv(tmp_path / "houses.csv", with_id=True)
    cfg = make_config(
        *csv_overrides(path, "price", "regression", "data.features=[a,b,c,d]", "trainer.max_epochs=30", "model.optimizer.lr=0.01")
    )
    result = train(cfg)
    assert set(result.test) == {"test_loss", "test_mse", "test_rmse", "test_mae", "test_r2"}
    assert result.test["test_r2"] > 0.5  # a linear target with little noise: even 30 epochs learn most of it

    state = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt", weights_only=True)["TabularDataModule"]
    assert (state["path"], state["target"], state["task"], state["features"]) == (
        str(path),
        "price",
        "regression",
        ["a", "b", "c", "d"],
    )
    assert state["source"] == {"_target_": "src.data.sources.read_file", "path": str(path)}
    assert state["feature_names"] == ["a", "b", "c", "d"] and state["class_labels"] == []
    assert [len(s) for s in split_rows(state)] == [180, 60, 60]


def split_rows(state: dict) -> list:
    """The DataModule rebuilt from a checkpoint's state alone, as src.eval and src.predict do."""
    accepted = inspect.signature(TabularDataModule.__init__).parameters
    dm = TabularDataModule(**{k: v for k, v in state.items() if k in accepted})
    dm.load_state_dict(state)
    dm.setup("test")
    return [dm.splits[s][0] for s in ("train", "val", "test")]


def test_state_alone_rebuilds_the_same_scaled_splits(tmp_path):
    path = regression_csv(tmp_path / "houses.csv")
    dm = file_datamodule(path, "price", "regression", feature_transform="quantile")
    dm.setup("fit")
    rebuilt = split_rows(dm.state_dict())
    for original, again in zip((dm.splits[s][0] for s in ("train", "val", "test")), rebuilt):
        torch.testing.assert_close(original, again)
    assert dm.feature_names == ["a", "b", "c", "d"]  # every column but the target


def test_binary_csv_with_word_labels_trains_a_classifier_that_keeps_the_labels(tmp_path, make_config):
    path = cancer_csv_with_words(tmp_path / "cancer.csv")
    cfg = make_config(*csv_overrides(path, "diagnosis", "binary", "trainer.max_epochs=5"))
    result = train(cfg)
    assert result.test["test_acc"] > 0.8 and "test_confusion_matrix" in result.matrices

    state = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt", weights_only=True)["TabularDataModule"]
    assert state["class_labels"] == ["benign", "malignant"]  # alphabetical: class 1 is "malignant"
    assert state["task"] == "binary" and len(state["features"]) == 30
    dm = file_datamodule(path, "diagnosis", "binary")
    dm.setup("fit")
    labels = pd.read_csv(path)["diagnosis"]
    assert sum(float(dm.splits[s][1].sum()) for s in dm.splits) == (labels == "malignant").sum()


def test_binary_numeric_labels_keep_their_numeric_order(tmp_path):
    path = tmp_path / "grades.csv"
    pd.DataFrame({"x": np.arange(40.0), "passed": [2, 10] * 20}).to_csv(path, index=False)
    dm = file_datamodule(path, "passed", "binary", batch_size=8)
    dm.setup("fit")
    assert dm.class_labels == ["2", "10"]  # 10 > 2, although "10" < "2" as text
    x, y = (torch.cat([dm.splits[s][i] for s in dm.splits]) for i in (0, 1))
    assert torch.equal(
        y[:, 0], (x[:, 0] * float(dm.preprocessing["scaler_scale"][0]) + dm.preprocessing["scaler_mean"][0]).round() % 2
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


NUMBERS = "a,b,y\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(20))

REFUSE = {"missing": "refuse"}  # today's strict reading: a missing cell stops the run (data.missing=refuse)
BAD_CSVS = [
    # (file text or None for a missing file, target, task, settings, what the one-line message must say)
    (None, "y", "regression", {}, ["data.path: no such file", "missing.csv"]),
    ("", "y", "regression", {}, ["is empty", "header row"]),
    ("1,2,3\n4,5,6\n", "y", "regression", {}, ["has no header", "(1, 2, 3)"]),
    (NUMBERS, "price", "regression", {}, ["data.target 'price' is not a column of", "(columns: a, b, y)"]),
    ("a,a,y\n1,2,3\n4,5,6\n", "y", "regression", {}, ["has duplicated columns: 'a'; give each its own name"]),
    (NUMBERS, "Y", "regression", {}, ["data.target 'Y' is not a column of", "data.csv (did you mean 'y'?)"]),
    (
        NUMBERS.replace("\n5,10,", "\n5,ten,"),
        "y",
        "regression",
        {},
        ["column 'b'", "not numeric", "row 6 holds 'ten'", "data.features=[...]"],
    ),
    (
        NUMBERS.replace("\n5,10,", "\n5,,").replace("\n7,14,", "\n7,nan,"),
        "y",
        "regression",
        REFUSE,
        ["column 'b'", "2 missing or infinite", "2 NaN", "first in row 6"],
    ),
    (
        NUMBERS.replace("\n5,10,", "\n5,inf,"),
        "y",
        "regression",
        REFUSE,
        ["column 'b'", "1 missing or infinite", "1 infinite", "row 6"],
    ),
    (
        NUMBERS.replace("\n5,10,", "\n5,inf,"),
        "y",
        "regression",
        {},
        ["column 'b'", "1 missing or infinite", "1 infinite", "row 6"],
    ),
    (NUMBERS.replace("\n5,10,2", "\n5,10,"), "y", "regression", REFUSE, ["data.target 'y'", "1 missing or infinite", "row 6"]),
    # the target is a column, so listing every column beside "not a feature column" named it as if it were allowed
    (NUMBERS, "y", "regression", {"drop": ["y"]}, ["data.drop names 'y', not a feature column", "(feature columns: a, b)"]),
    # prices written as '$3.50': a label per row was trained as a 30-class classifier
    (
        "a,y\n" + "".join(f"{i},${i}.50\n" for i in range(30)),
        "y",
        None,
        {},
        ["data.target 'y'", "has 30 distinct labels in 30 rows ($0.50, $1.50, $2.50, ...", "data.task=multiclass"],
    ),
    (NUMBERS, "y", "binary", {}, ["data.target 'y'", "exactly two distinct labels", "got 3: 0, 1, 2", "data.task=multiclass"]),
    (
        "a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n",
        "y",
        "regression",
        {},
        ["too few rows for the split", "5 rows give 3 train / 1 validation / 1 test", "need at least 7 rows"],
    ),
    (
        "a,y\n" + "".join(f"{i},same\n" for i in range(20)),
        "y",
        None,
        {},
        ["data.target 'y'", "has one value (same) in every row"],
    ),
    (
        "a,y\n" + "".join(f"{i},3\n" for i in range(20)),
        "y",
        None,
        {},
        ["has one value (3) in every row"],
    ),  # "a classifier" before
    (
        "a,y\n" + "".join(f"{i},{'unknown' if i < 3 else i * 1.5}\n" for i in range(60)),
        "y",
        None,
        {},
        ["data.target 'y'", "is numbers but for 1 text value(s) (unknown): leave those cells empty"],  # "too many classes" before
    ),
    ("a,y\n" + "".join(f"{i},3.7\n" for i in range(20)), "y", None, {}, ["data.target 'y'", "has one value (3.7) in every row"]),
    ("a,y\n" + "".join(f"{i},\n" for i in range(20)), "y", None, {}, ["data.target 'y'", "has no values: all 20 rows are empty"]),
    ("a,y\n" + "".join(f"{i},NA\n" for i in range(20)), "y", "regression", {}, ["data.target 'y'", "all 20 rows are empty"]),
    (
        "a,c,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(20)),
        "y",
        None,
        {"categorical": ["c"]},
        ["categorical column 'c'", "only missing values", "data.drop=[c]"],
    ),
    (NUMBERS, "y", None, {"categorical": ["a"], "drop": ["a"]}, ["column 'a' is in both data.categorical and data.drop"]),
    ("a,b,y\n1,2,3\n4,5,6,7,8\n", "y", None, {}, ["is not a readable CSV", "line 3"]),
    # a European CSV: `;` between cells and decimal commas, which read as text (a 20-class "price", a categorical area)
    (
        "a;price\n" + "".join(f"{i};{i * 1.5 + 100:.2f}\n".replace(".", ",") for i in range(20)),
        "price",
        None,
        {},
        ["data.target 'price'", "holds numbers written with a comma ('100,00')", "decimal points"],
    ),
    (
        "area;y\n" + "".join(f"{i * 1.5 + 100:.2f};{i % 2}\n".replace(".", ",") for i in range(20)),
        "y",
        None,
        {},
        ["column 'area'", "holds numbers written with a comma ('100,00')"],
    ),
    # thousands separators on the numbers over 999 only, as a spreadsheet exports them: numbers, not an identifier
    (
        "income,y\n" + "".join(f'"{i * 97 + 400:,}",{i % 2}\n' for i in range(40)),
        "y",
        None,
        {},
        ["column 'income'", "holds numbers written with a comma ('1,"],
    ),
    (
        "a,price\n" + "".join(f'{i},"{i * 97 + 400:,}"\n' for i in range(40)),
        "price",
        None,
        {},
        ["data.target 'price'", "holds numbers written with a comma ('1,"],
    ),
    # numbers with a placeholder word: neither guessed numeric nor ignored as an identifier
    (
        "income,y\n" + "".join(f"{'unknown' if i % 6 == 0 else i * 1.5},{i % 2}\n" for i in range(60)),
        "y",
        None,
        {},
        ["column 'income'", "numbers and", "text (e.g. 'unknown')", "data.categorical=[income] or data.drop=[income]"],
    ),
    ("notes (free text),y\n" + "".join(f",{i}\n" for i in range(20)), "y", "regression", {}, ["data.drop=['notes (free text)']"]),
    (
        "code,y\n" + "".join(f"c{i},{i % 2}\n" for i in range(40)),
        "y",
        None,
        {},
        ["no feature column of", "is left to train on", "code (ignored)", "data.categorical=[code]"],
    ),
]


@pytest.mark.parametrize("text, target, task, settings, expected", BAD_CSVS, ids=[e[0] for *_, e in BAD_CSVS])
def test_bad_csv_stops_before_training_with_one_line(tmp_path, text, target, task, settings, expected):
    path = tmp_path / "missing.csv" if text is None else write(tmp_path, text)
    dm = file_datamodule(path, target, task, batch_size=8, **settings)
    with pytest.raises(UserError) as info:
        dm.setup("fit")
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_identifier_column_is_ignored_with_a_line_and_features_pick_columns(tmp_path, capsys):
    path = regression_csv(tmp_path / "houses.csv", with_id=True)
    dm = file_datamodule(path, "price", "regression")
    dm.setup("fit")
    assert dm.feature_names == ["a", "b", "c", "d"] and dm.n_features == 4
    assert (
        "feature columns: 4 numeric, 1 ignored (house_id: 180 distinct values in 180 rows, looks like an identifier; "
        "data.categorical=[house_id] keeps it)"
    ) in capsys.readouterr().out
    dm = file_datamodule(path, "price", "regression", features=["b", "a"])
    dm.setup("fit")
    assert dm.feature_names == ["b", "a"]


@pytest.mark.parametrize("rows", [7, 10, 33, 569, 1001])
def test_split_sizes_are_the_ones_scikit_learn_makes(rows):
    from src.data.splits import split_like_the_lesson, split_sizes

    ids = np.arange(rows, dtype=np.float64)[:, None]
    parts = split_like_the_lesson(ids, ids[:, 0], 0.2, 0.2, random_state=21)
    assert split_sizes(rows, 0.2, 0.2) == tuple(len(parts[s][1]) for s in ("train", "val", "test"))


def test_unknown_feature_column_is_named(tmp_path):
    path = write(tmp_path, NUMBERS)
    dm = file_datamodule(path, "y", "regression", batch_size=8, features=["a", "z"])
    with pytest.raises(UserError, match=r"data.features 'z' not in .*data.csv \(columns: a, b, y\)"):
        dm.setup("fit")


def test_blank_lines_before_the_header_are_skipped_by_the_header_check_as_by_the_reader(tmp_path):
    """The check before the run folder read the blank first line as the header: 'data.target 'y' is not a column
    of data.csv (columns: )', for a file pyarrow reads."""
    from omegaconf import OmegaConf

    from src.config import validate_columns

    path = write(tmp_path, "\n\n" + NUMBERS)
    validate_columns(OmegaConf.create({"path": str(path), "target": "y", "features": ["a", "b"]}))
    dm = file_datamodule(path, "y", "regression", batch_size=8, numeric=["a", "b"])  # not row numbers here
    dm.setup("fit")
    assert list(dm.preprocessing["columns"]) == ["a", "b"] and sum(len(y) for _, y in dm.splits.values()) == 20


def test_a_utf_16_file_is_named_as_such_not_read_as_nul_filled_column_names(tmp_path):
    """Excel's 'Unicode Text' export: read as cp1252, its header came out as 'ÿþa\\x00', '\\x00b\\x00', ... in the error."""
    from omegaconf import OmegaConf

    from src.config import validate_columns

    path = tmp_path / "houses.txt"
    pd.read_csv(regression_csv(tmp_path / "houses.csv")).to_csv(path, sep="\t", index=False, encoding="utf-16")
    expected = f"data.path {path} is UTF-16 text; save it as CSV UTF-8 (Excel: Save As 'CSV UTF-8') and give that file"
    with pytest.raises(UserError) as checked:
        validate_columns(OmegaConf.create({"path": str(path), "target": "price"}))
    with pytest.raises(UserError) as read:
        file_datamodule(path, "price").setup("fit")
    assert str(checked.value) == str(read.value) == expected


def test_a_target_in_another_case_is_suggested_even_past_the_listed_columns(tmp_path):
    from omegaconf import OmegaConf

    from src.config import validate_columns

    frame = pd.DataFrame(np.zeros((10, 40)), columns=[f"x{i}" for i in range(39)] + ["SalePrice"])
    frame.to_csv(tmp_path / "wide.csv", index=False)
    with pytest.raises(UserError) as info:
        validate_columns(OmegaConf.create({"path": str(tmp_path / "wide.csv"), "target": "saleprice"}))
    assert str(info.value) == f"data.target 'saleprice' is not a column of {tmp_path / 'wide.csv'} (did you mean 'SalePrice'?)"


def test_a_spreadsheet_or_json_file_is_named_as_such_not_read_as_a_csv(tmp_path):
    """Read as a CSV, an Excel workbook's zip bytes or a JSON file's records came out as column names in the error."""
    from omegaconf import OmegaConf

    from src.config import validate_columns

    pd.read_csv(regression_csv(tmp_path / "houses.csv")).to_json(tmp_path / "houses.json", orient="records")
    with zipfile.ZipFile(tmp_path / "houses.xlsx", "w") as workbook:  # an .xlsx file is a zip of XML parts
        workbook.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    for name in ("houses.xlsx", "houses.json"):
        path = tmp_path / name
        expected = (
            f"data.path {path} is a {path.suffix} file; save the table as CSV (a header row, then one row per example) or Parquet"
        )
        with pytest.raises(UserError) as checked:  # the check before the run folder, then the reader
            validate_columns(OmegaConf.create({"path": str(path), "target": "price"}))
        with pytest.raises(UserError) as read:
            file_datamodule(path, "price").setup("fit")
        assert str(checked.value) == str(read.value) == expected


@pytest.mark.slow  # a subprocess run of the command
def test_bad_csv_from_the_command_line_exits_2_and_writes_no_checkpoint(tmp_path):
    path = write(tmp_path, NUMBERS)
    proc = run_module("src.train", *csv_overrides(path, "price", "regression"), f"paths.log_dir={tmp_path / 'logs'}")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: data.target 'price' is not a column of {path} (columns: a, b, y)"
    assert not any((tmp_path / "logs").rglob("*.ckpt"))


def test_builtin_data_can_select_features_but_not_change_its_task():
    cancer = {"_target_": "src.data.sources.breast_cancer"}
    dm = TabularDataModule(source=cancer, batch_size=32, features=["mean radius", "mean texture"])
    dm.setup("fit")
    assert dm.n_features == 2 and dm.splits["train"][0].shape == (341, 2)
    with pytest.raises(UserError, match="data.task=regression does not fit breast_cancer"):
        TabularDataModule(source=cancer, batch_size=32, task="regression").setup("fit")


def test_metrics_json_of_a_csv_run_names_the_experiment_after_the_file(tmp_path, make_config):
    path = regression_csv(tmp_path / "houses.csv", rows=100)
    cfg = make_config("experiment=csv", f"data.path={path}", "data.target=price", "data.task=regression", "trainer.max_epochs=2")
    train(cfg)
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert metrics["experiment"] == "houses" and metrics["stopped_epoch"] == 2  # experiment=csv names runs after the file


def test_csv_checkpoint_evaluates_and_predicts_with_the_original_labels(tmp_path, make_config):
    from src.eval import evaluate
    from src.predict import predict
    from tests.support.commands import compose_eval, compose_predict

    path = cancer_csv_with_words(tmp_path / "cancer.csv")
    cfg = make_config(*csv_overrides(path, "diagnosis", "binary", "trainer.max_epochs=5", "data.feature_transform=quantile"))
    result = train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"

    evaluated = evaluate(compose_eval(f"ckpt_path={ckpt}", output_dir=tmp_path / "eval"))
    assert evaluated["test"]["test_acc"] == pytest.approx(result.test["test_acc"])  # rebuilt from the checkpoint alone

    new_rows = pd.read_csv(path).drop(columns="diagnosis").head(20)
    new_rows.to_csv(tmp_path / "new.csv", index=False)
    predict(compose_predict(f"ckpt_path={ckpt}", f"input={tmp_path / 'new.csv'}", f"output={tmp_path / 'preds.csv'}"))
    preds = pd.read_csv(tmp_path / "preds.csv")
    assert set(preds["label"]) <= {"benign", "malignant"}
    assert (preds["label"] == np.where(preds["class"] == 1, "malignant", "benign")).all()


def test_a_trained_models_target_error_suggests_no_setting_eval_does_not_take():
    """Training may choose data.task; eval re-encodes the target for the task the model was trained for."""
    from src.data.target import encode_target

    values, what = pd.Series(["1.5", "2", "n/a?", "4"]), "data.target 'y' of t.csv"
    with pytest.raises(UserError, match=r"row 3 holds 'n/a\?'; use data.task=binary or multiclass for labels$"):
        encode_target(values, what, "regression", "impute")
    with pytest.raises(UserError, match=r"row 3 holds 'n/a\?'; the model is a regressor$"):
        encode_target(values, what, "regression", "impute", trained=True)


def test_a_regression_target_whose_squares_overflow_float32_is_refused_with_a_rescaling_hint():
    # it trained to a NaN loss at epoch 1, and the error then suggested a lower learning rate
    from src.data.target import encode_target

    what = "data.target 'y' of t.csv"
    with pytest.raises(
        UserError, match=r"holds values up to 2.5e\+20: .* overflow .*; rescale the column first \(e.g. divide it by 1e\+18\)$"
    ):
        encode_target(pd.Series([1.0, -2.5e20, 3.0, None]), what, "regression", "impute")
    assert encode_target(pd.Series([1.0, -2.5e18, 3.0]), what, "regression", "impute").task == "regression"


def test_labels_that_differ_only_in_case_are_named_since_each_is_a_class_of_its_own(recwarn):
    from src.data.target import encode_target

    what = "data.target 'answer' of t.csv"
    with pytest.warns(UserWarning, match=r"differ only in case \('No' and 'no'; 'Yes' and 'yes'\): each is a class of its own"):
        target = encode_target(pd.Series(["Yes", "no", "yes", "No", "Yes", "maybe"]), what, None, "impute")
    assert target.task == "multiclass" and len(target.class_labels) == 5
    recwarn.clear()
    encode_target(pd.Series(["yes", "no", "yes", "maybe"]), what, None, "impute")
    assert not recwarn.list


@pytest.mark.slow  # subprocess runs of the commands
def test_eval_and_predict_of_a_table_with_a_0_1_column_print_no_library_notice(tmp_path, make_config):
    """experiment=csv's piecewise-linear embeddings give a 0/1 column one bin; rebuilding the net must not print
    rtdl's notice (a file:line warning per such column), as training does not."""
    path = regression_csv(tmp_path / "houses.csv", rows=60)
    frame = pd.read_csv(path).assign(flag=np.arange(60) % 2)
    frame.to_csv(path, index=False)
    cfg = make_config("experiment=csv", f"data.path={path}", "data.target=price", "trainer.max_epochs=1")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    predicted = run_module("src.predict", f"ckpt_path={ckpt}", f"input={path}", f"output={tmp_path / 'preds.csv'}")
    evaluated = run_module("src.eval", f"ckpt_path={ckpt}", f"paths.log_dir={tmp_path / 'logs'}")
    assert predicted.returncode == 0 and evaluated.returncode == 0, predicted.stderr + evaluated.stderr
    assert predicted.stderr == "" and "bin edges" not in evaluated.stderr


@pytest.mark.slow  # a subprocess run of the command: its warnings as a user sees them
def test_a_rare_class_missing_from_the_evaluation_splits_is_named_without_library_notices(tmp_path):
    frame = pd.read_csv(regression_csv(tmp_path / "rare.csv", rows=200))
    frame["fraud"] = 0
    frame.loc[[5, 50, 120], "fraud"] = 1  # no row of class 1 in the validation or test split
    frame.drop(columns="price").to_csv(tmp_path / "rare.csv", index=False)
    proc = run_module(
        "src.train",
        *csv_overrides(tmp_path / "rare.csv", "fraud", "binary", "trainer.max_epochs=1", "logger=none"),
        f"paths.log_dir={tmp_path / 'logs'}",
    )
    assert proc.returncode == 0, proc.stderr
    for split in ("validation", "test"):
        assert (
            f"warning: the {split} split holds no row of class '1' (3 of 200 rows): its metrics cannot judge it; "
            "data.stratify=true puts every class in every split"
        ) in proc.stderr
    assert "samples in targets" not in proc.stderr  # torchmetrics' own notices, in Python's file:line format


def test_a_large_csv_with_line_ends_inside_quoted_cells_is_read_whole(tmp_path):
    """pyarrow splits a large file into blocks at line ends, which may lie inside a quoted cell: valid CSV, refused
    as 'Expected 3 columns, got 2' once the file outgrew one block (about 1 MB)."""
    from src.data.readers import read_csv_table

    rows = 40_000
    path = tmp_path / "notes.csv"
    path.write_text("a,note,y\n" + "".join(f'{i},"line one\nline two {i}",{i % 2}\n' for i in range(rows)))
    assert path.stat().st_size > 1_000_000
    table = read_csv_table(path)
    assert table.num_rows == rows and table.column("note")[7].as_py() == "line one\nline two 7"


def test_class_labels_written_with_leading_zeros_keep_them(tmp_path, capsys):
    # they were read as the numbers 7, 10 and 120, and reported and predicted so
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "code": rng.choice(["007", "010", "120"], size=60)})
    frame.to_csv(path := tmp_path / "codes.csv", index=False)
    datamodule = file_datamodule(path, "code")
    datamodule.setup("fit")
    assert datamodule.class_labels == ["007", "010", "120"]
    assert "task: multiclass (inferred: code has 3 labels: 007, 010, 120;" in capsys.readouterr().out


def test_a_task_set_by_data_task_is_printed_as_an_inferred_one_is(tmp_path, capsys):
    # only an inferred task was printed: a set one said nothing
    path = regression_csv(tmp_path / "houses.csv")
    file_datamodule(path, "price", task="regression").setup("fit")
    assert "task: regression (set by data.task)" in capsys.readouterr().out


def test_columns_with_one_value_in_every_training_row_are_named_in_one_warning(tmp_path, recwarn):
    # they were kept silently; a column with holes is not constant (its missing indicator varies)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "unit": 5.0, "site": "A", "holes": [1.0, np.nan] * 30})
    frame["y"] = frame["x"] * 2
    frame.to_csv(path := tmp_path / "t.csv", index=False)
    datamodule = file_datamodule(path, "y")
    datamodule.setup("fit")
    assert [str(w.message) for w in recwarn.list if w.category is UserWarning] == [
        f"columns 'unit', 'site' of {path} have one value in every training row, which carries no information; "
        "data.drop=[unit,site] leaves them out"
    ]
    assert datamodule.preprocessing["columns"]["unit"] == "numeric"  # kept: the inputs do not change


def test_a_file_without_a_header_is_named_so_even_when_the_target_is_not_among_its_numbers(tmp_path, make_config):
    from src.config import validate_columns

    file = tmp_path / "noheader.csv"
    file.write_text("1,2,3\n4,5,6\n7,8,9\n")
    cfg = make_config("experiment=csv", f"data.path={file}", "data.target=price")
    validate_columns(cfg.data)  # it said "data.target 'price' is not a column of noheader.csv (columns: 1, 2, 3)"
    with pytest.raises(UserError, match=r"noheader.csv has no header: its first row is numbers \(1, 2, 3\)"):
        train(cfg)


def test_test_predictions_give_the_target_as_the_file_writes_it(tmp_path, make_config):
    path = regression_csv(tmp_path / "houses.csv")
    frame = pd.read_csv(path)
    frame.assign(price=frame["price"].round(2)).to_csv(path, index=False)
    cfg = make_config(*csv_overrides(path, "price", "regression", "trainer.max_epochs=2"))
    train(cfg)
    written = set(pd.read_csv(path, dtype=str)["price"])
    actual = pd.read_csv(Path(cfg.paths.output_dir) / "test_predictions.csv", dtype=str)["actual"]
    assert set(actual) <= written, sorted(set(actual) - written)[:3]  # it was 9.56999969 for 9.57


def test_test_predictions_join_back_to_the_files_rows_by_their_row_column(tmp_path, make_config):
    # they held only actual and predicted: nothing said which of the user's rows each line was about
    from tests.support.tables import table

    frame = table()
    frame.loc[[3, 5], "kind"] = None  # rows without a target are left out, and must not shift the others
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    cfg = make_config(*csv_overrides(path, "kind", "binary", "trainer.max_epochs=1"))
    train(cfg)
    predictions = pd.read_csv(Path(cfg.paths.output_dir) / "test_predictions.csv")
    joined = pd.read_csv(path).iloc[predictions["row"]]
    assert len(predictions) > 0 and list(joined["kind"]) == list(predictions["actual_label"])
