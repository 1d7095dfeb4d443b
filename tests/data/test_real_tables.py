"""Real tables: column kinds, missing values, unseen categories, dates, task inference, stratified splits, Parquet,
and that nothing about the validation or test rows leaks into what is fitted."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from src.data.datamodule import TabularDataModule
from src.data.preprocessing import DATE_FEATURES
from src.errors import UserError
from tests.support.tables import table


def datamodule(path, target: str = "kind", **settings) -> TabularDataModule:
    source = {"_target_": "src.data.sources.read_file", "path": str(path)}
    return TabularDataModule(source=source, path=str(path), target=target, **{"batch_size": 16, **settings})


def setup(frame: pd.DataFrame, tmp_path, name: str = "t.csv", **settings) -> TabularDataModule:
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    dm = datamodule(path, **settings)
    dm.setup("fit")
    return dm


def test_each_column_kind_is_inferred_on_training_rows_and_printed(tmp_path, capsys):
    dm = setup(table(), tmp_path, categorical=["cylinders"])
    kinds = dm.preprocessing["columns"]
    assert kinds == {
        "size": "numeric",
        "weight": "numeric",
        "colour": "categorical",
        "indoor": "categorical",
        "cylinders": "categorical",
        "day": "date",
        "code": "ignored",
    }
    out = capsys.readouterr().out
    assert "feature columns: 2 numeric, 3 categorical (colour: 3 values, indoor: 2, cylinders: 3), 1 date (day: " in out
    assert "1 ignored (code: 120 distinct values in 120 rows, looks like an identifier; data.categorical=[code] keeps it)" in out
    assert "task: binary (inferred: kind has 2 labels: heavy, light" in out
    # 2 numerics + 6 date features + 1 missing indicator (size); then 3 category codes
    assert dm.n_num_features == 2 + len(DATE_FEATURES) + 1
    assert dm.cat_cardinalities == [3 + 2, 2 + 2, 3 + 2]  # + unknown and missing codes
    x = dm.splits["train"][0]
    assert x.dtype == torch.float32 and x.shape[1] == dm.n_num_features + 3
    assert dm.preprocessing["vocabularies"]["cylinders"] == ["4", "6", "8"]


def test_a_wide_table_names_its_many_identifier_columns_in_a_readable_line(tmp_path, capsys):
    """30 free-text columns: each explained in full made the columns line about 2,700 characters long."""
    frame = table()
    for i in range(30):
        frame[f"note{i}"] = [f"n{i}-{row}" for row in range(len(frame))]
    setup(frame, tmp_path)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("feature columns:"))
    assert len(line) < 600
    assert (
        "31 ignored (code: 120 distinct values in 120 rows, looks like an identifier; data.categorical=[code] keeps it; "
        "note0: 120 distinct values in 120 rows, looks like an identifier; data.categorical=[note0] keeps it; "
        "note1: 120 distinct values in 120 rows, looks like an identifier; data.categorical=[note1] keeps it; "
        "and note2, note3, note4, note5, note6, note7, note8, note9, ... (28 in all), likewise)"
    ) in line


def test_missing_numbers_take_the_training_median_and_an_indicator(tmp_path):
    dm = setup(table(), tmp_path)
    frame, train = table(), dm_train_rows(dm)
    assert dm.preprocessing["missing_indicators"] == ["size"]
    median = float(np.nanmedian(frame["size"].to_numpy()[train]))
    assert dm.preprocessing["medians"][0] == pytest.approx(median)
    state = dm.state_dict()
    indicator = dm.n_num_features - 1
    x = torch.cat([dm.splits[s][0] for s in ("train", "val", "test")])
    assert int(x[:, indicator].sum()) == int(frame["size"].isna().sum())
    imputed = x[x[:, indicator] == 1, 0]
    expected = (median - state["scaler_mean"][0]) / state["scaler_scale"][0]
    torch.testing.assert_close(imputed, torch.full_like(imputed, expected))


def dm_train_rows(dm) -> np.ndarray:
    """Training row positions, recovered from the split settings (the split does not depend on the data)."""
    from src.data.splits import split_rows

    return split_rows(200, dm.test_fraction, dm.val_fraction, dm.random_state)["train"]


def test_missing_refuse_names_column_and_row(tmp_path):
    with pytest.raises(
        UserError, match=r"column .size. of .* has 29 missing or infinite values \(29 NaN or empty, 0 infinite\), first in row 1;"
    ):
        setup(table(), tmp_path, missing="refuse")


def test_rows_without_a_target_are_dropped_with_a_counted_warning(tmp_path):
    frame = table()
    frame.loc[[5, 6, 7], "kind"] = None
    with pytest.warns(UserWarning, match="3 row\\(s\\) without a target are left out"):
        dm = setup(frame, tmp_path)
    assert sum(len(dm.splits[s][0]) for s in dm.splits) == 197


def test_a_missing_category_is_a_category_and_unseen_values_are_unknown(tmp_path):
    frame = table()
    frame.loc[frame.index[-40:], "colour"] = "purple"  # only in the last rows: some land in validation and test
    train = dm_train_rows(datamodule(tmp_path / "x.csv"))
    frame.loc[train, "colour"] = frame.loc[train, "colour"].replace("purple", "red")
    with pytest.warns(
        UserWarning, match=r"value\(s\) of column 'colour' in the rows of .* never appear in the training rows \(e.g. 'purple'\)"
    ):
        dm = setup(frame, tmp_path)
    assert dm.preprocessing["vocabularies"]["colour"] == ["blue", "green", "red"]
    codes = {s: dm.splits[s][0][:, dm.n_num_features].long() for s in dm.splits}
    assert 0 not in codes["train"].tolist() and 1 in codes["train"].tolist()  # missing (code 1) seen in training
    assert 0 in codes["val"].tolist() + codes["test"].tolist()


def test_dates_become_year_month_and_cyclic_days(tmp_path):
    frame = table(rows=60).drop(columns=["code"])
    dm = setup(frame, tmp_path, feature_transform="standard")
    assert dm.preprocessing["columns"]["day"] == "date"
    from src.data.preprocessing import date_features

    features = date_features(pd.Series(pd.to_datetime(["2020-12-31", "2021-01-01", "2021-01-04"])))
    assert features[:, 0].tolist() == [2020, 2021, 2021] and features[:, 1].tolist() == [12, 1, 1]
    # 31 December and 1 January are neighbours on the day-of-year circle; Monday 4 January is day 0 of the week
    assert np.hypot(*(features[0, 2:4] - features[1, 2:4])) < 0.05
    assert features[2, 4:6].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "labels, task",
    [([0, 1], "binary"), (["a", "b", "c"], "multiclass"), (list(range(5)), "multiclass"), (None, "regression")],
)
def test_task_is_inferred_from_the_target(tmp_path, labels, task):
    frame = table()
    rng = np.random.default_rng(1)
    frame["kind"] = rng.normal(size=200) if labels is None else rng.choice(labels, 200)
    dm = setup(frame, tmp_path)
    assert dm.task == task
    if task == "multiclass":
        assert dm.class_labels == sorted(map(str, labels)) and dm.n_outputs == len(labels)
        assert sum(dm.class_counts) == len(dm.splits["train"][1])


def test_stratified_split_keeps_class_shares(tmp_path):
    frame = table()
    frame["kind"] = ["rare"] * 20 + ["common"] * 180
    dm = setup(frame, tmp_path, stratify=True)
    shares = {s: float((dm.splits[s][1] == dm.class_labels.index("rare")).float().mean()) for s in dm.splits}
    assert all(share == pytest.approx(0.1, abs=0.01) for share in shares.values())
    with pytest.raises(UserError, match="data.stratify=true needs class labels"):
        setup(frame.assign(kind=np.arange(200.0) / 7), tmp_path, name="r.csv", stratify=True)
    frame.loc[7, "kind"] = "unique"  # one row: it cannot be in every split; the error names it as the file does
    with pytest.raises(
        UserError, match=r"cannot split these rows: classes with fewer than 3 rows cannot have one in each split: 'unique' \(1\)"
    ):
        setup(frame, tmp_path, name="u.csv", stratify=True)


def test_a_class_missing_from_a_split_is_warned_about_once_per_split(tmp_path):
    """An unstratified split of a rare class: a split without it would report a recall of 0 and an AUROC of 0 unexplained."""
    frame = table()
    frame["kind"] = "common"
    rare = [0, 1, 2]
    frame.loc[rare, "kind"] = "rare"
    dm = datamodule(tmp_path / "t.csv")
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(UserWarning) as caught:
        dm.setup("fit")
    absent = [s for s in ("val", "test") if not (dm.splits[s][1] == dm.class_labels.index("rare")).any()]
    assert absent  # this seed leaves the rare class out of a split
    names = {"val": "validation", "test": "test"}
    assert [str(w.message) for w in caught if "holds no row" in str(w.message)] == [
        f"the {names[s]} split holds no row of class 'rare' (3 of 200 rows): its metrics cannot judge it; "
        "data.stratify=true puts every class in every split"
        for s in absent
    ]
    frame.loc[[1, 2], "kind"] = "common"  # one rare row: data.stratify=true would refuse it, so it is not offered
    (tmp_path / "one").mkdir()
    frame.to_csv(tmp_path / "one" / "t.csv", index=False)
    with pytest.warns(UserWarning) as caught:
        datamodule(tmp_path / "one" / "t.csv").setup("fit")
    assert [str(w.message) for w in caught if "holds no row" in str(w.message)]
    assert not [w for w in caught if "stratify" in str(w.message)]
    frame.loc[[1, 2], "kind"] = "rare"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # stratified: every class in every split, nothing to say
        frame.loc[[3, 4, 5, 6, 7], "kind"] = "rare"
        setup(frame, tmp_path, name="s.csv", stratify=True)


def test_nothing_about_validation_or_test_rows_is_fitted(tmp_path):
    frame = table()
    fitted = setup(frame, tmp_path).state_dict()
    train = dm_train_rows(datamodule(tmp_path / "x.csv"))
    others = np.setdiff1d(np.arange(200), train)
    changed = frame.copy()
    changed.loc[others, "size"] = 1e6
    changed.loc[others, "colour"] = "never seen"
    changed.loc[others, "cylinders"] = 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = setup(changed, tmp_path, name="changed.csv").state_dict()
    for key in ("columns", "medians", "missing_indicators", "vocabularies", "scaler_mean", "scaler_scale", "quantiles"):
        assert again[key] == fitted[key], key


def test_parquet_trains_exactly_like_the_same_csv(tmp_path):
    frame = table()
    from_csv, from_parquet = setup(frame, tmp_path), setup(frame, tmp_path, name="t.parquet")
    for s in from_csv.splits:
        torch.testing.assert_close(from_csv.splits[s][0], from_parquet.splits[s][0])
        assert torch.equal(from_csv.splits[s][1], from_parquet.splits[s][1])
    state_csv, state_parquet = from_csv.state_dict(), from_parquet.state_dict()
    for key in ("columns", "vocabularies", "missing_indicators", "class_labels", "task"):
        assert state_csv[key] == state_parquet[key], key


@pytest.mark.parametrize("cell, held", [([1, 2], "lists"), ({"p": 1}, "records")])
def test_a_parquet_list_or_struct_column_is_named_not_a_traceback(tmp_path, cell, held):
    frame = table().assign(tags=lambda f: [cell] * len(f))
    with pytest.raises(UserError) as info:
        setup(frame, tmp_path, name="t.parquet")
    assert str(info.value) == (
        f"column 'tags' of {tmp_path / 't.parquet'} holds {held}, not one number, text or date per cell; leave it out with data.drop=[tags]"
    )
    assert setup(frame, tmp_path, name="t.parquet", drop=["tags"]).preprocessing["columns"]["tags"] == "dropped"


def test_state_alone_rebuilds_the_same_inputs_and_loads_weights_only(tmp_path):
    import inspect

    dm = setup(table(), tmp_path)
    torch.save(dm.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    accepted = inspect.signature(TabularDataModule.__init__).parameters
    again = TabularDataModule(**{k: v for k, v in state.items() if k in accepted})
    again.load_state_dict(state)
    again.setup("test")
    for s in dm.splits:
        assert torch.equal(dm.splits[s][0], again.splits[s][0])
    assert (again.n_num_features, again.cat_cardinalities, again.class_labels) == (
        dm.n_num_features,
        dm.cat_cardinalities,
        dm.class_labels,
    )


def test_predict_rows_with_unseen_categories_and_bad_numbers(tmp_path):
    from src.data.prediction_input import prediction_chunks

    dm = setup(table(), tmp_path)
    new = table(rows=5).drop(columns=["kind"])
    new.loc[0, "colour"] = "gold"
    new.to_csv(tmp_path / "new.csv", index=False)
    ((frame, _, done),) = prediction_chunks(tmp_path / "new.csv", dm.state_dict())
    with pytest.warns(UserWarning, match="1 value\\(s\\) of column 'colour'"):
        x = dm.transform_frame(frame, "new.csv", done)
    assert x[0, dm.n_num_features] == 0 and x.shape == (5, dm.n_features)
    new.astype(object).assign(weight=["1", "2", "heavy", "4", "5"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match="column 'weight' has a non-numeric value 'heavy' in row 3"):
        list(prediction_chunks(tmp_path / "bad.csv", dm.state_dict()))
    new.drop(columns=["colour"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(UserError, match="missing feature columns: 'colour'"):
        list(prediction_chunks(tmp_path / "short.csv", dm.state_dict()))


def test_penguins_is_a_multiclass_table_with_categories_and_holes():
    dm = TabularDataModule(source={"_target_": "src.data.sources.penguins"}, batch_size=32, stratify=True)
    dm.setup("fit")
    assert dm.task == "multiclass" and dm.class_labels == ["Adelie", "Chinstrap", "Gentoo"] and dm.n_outputs == 3
    assert dm.cat_cardinalities == [5, 4]  # island (3) and sex (2), each + unknown and missing
    assert "sex" in dm.preprocessing["vocabularies"] and dm.preprocessing["missing_indicators"]


def test_a_file_larger_than_memory_fails_early_naming_the_need(tmp_path, monkeypatch):
    from src.data import readers

    table().to_csv(tmp_path / "t.csv", index=False)
    monkeypatch.setattr(readers, "available_memory", lambda: 1000)
    with pytest.raises(
        UserError, match=r"too large for this machine's memory: loading it needs about .* GB \(~\d+ rows x 8 columns\)"
    ):
        datamodule(tmp_path / "t.csv").setup("fit")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolon_tab_and_pipe_files_read_like_the_comma_file(tmp_path, delimiter):
    frame = table()
    frame["code"] = frame["code"] + "," + frame["code"]  # a comma inside a field: it must not split a row
    from_comma = setup(frame, tmp_path)
    (tmp_path / "other").mkdir()
    frame.to_csv(tmp_path / "other" / "t.csv", index=False, sep=delimiter)
    other = datamodule(tmp_path / "other" / "t.csv")
    other.setup("fit")
    assert other.preprocessing["columns"] == from_comma.preprocessing["columns"]
    for s in from_comma.splits:
        assert torch.equal(from_comma.splits[s][0], other.splits[s][0])
        assert torch.equal(from_comma.splits[s][1], other.splits[s][1])


def test_a_delimiter_ending_every_line_leaves_an_ignored_empty_column_not_an_error(tmp_path, capsys):
    """Kaggle's breast cancer CSV ends each line with a comma: an 'Unnamed: 32' column of empty cells, which stopped
    the run ('has no values in the training rows') until data.drop named it."""
    from src.predict import carried_columns

    frame = table()
    (tmp_path / "t.csv").write_text(frame.to_csv(index=False).replace("\n", ",\n"))
    dm = datamodule(tmp_path / "t.csv")
    dm.setup("fit")
    reference = setup(frame, tmp_path, name="plain.csv")
    assert dm.preprocessing["columns"] == {**reference.preprocessing["columns"], "Unnamed: 8": "ignored"}
    assert torch.equal(dm.splits["train"][0], reference.splits["train"][0])
    assert "Unnamed: 8: no header and no values" in capsys.readouterr().out
    assert carried_columns("identifiers", dm.state_dict()) == ["code"]  # predict does not copy the empty column out


def test_question_marks_are_missing_cells_in_numbers_categories_and_the_target(tmp_path):
    frame = table().astype({"weight": object, "size": object})
    frame.loc[frame["size"].isna(), "size"] = "?"  # the UCI repository's spelling of a missing value
    frame.loc[3::11, "colour"] = "?"
    frame.loc[[5, 6], "kind"] = "?"
    with pytest.warns(UserWarning, match=r"2 row\(s\) without a target are left out"):
        dm = setup(frame, tmp_path)
    assert dm.preprocessing["columns"]["size"] == "numeric" and dm.preprocessing["missing_indicators"] == ["size"]
    assert dm.preprocessing["vocabularies"]["colour"] == ["blue", "green", "red"]  # "?" is the missing category
    assert dm.class_labels == ["heavy", "light"]
    x = torch.cat([dm.splits[s][0] for s in dm.splits])
    assert int(x[:, dm.n_num_features - 1].sum()) == int(frame.drop(index=[5, 6])["size"].eq("?").sum())


def test_whole_numbers_stepping_down_the_file_and_a_nameless_index_are_identifiers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = table()
    frame.insert(0, "PassengerId", np.arange(1, 201))
    frame["shuffled"] = rng.permutation(200)  # distinct whole numbers in no order: a quantity
    frame["sorted"] = np.cumsum(rng.integers(1, 50, 200))  # rising, but unevenly: a quantity (a time, a count)
    frame["id"] = rng.choice(10**8, 200, replace=False)  # Kaggle's breast cancer CSV: distinct codes named id
    frame["CustomerID"] = rng.permutation(200) + 1000
    frame["paid"] = rng.permutation(200)  # a quantity whose name merely ends in "id"
    frame.sample(frac=1, random_state=0).to_csv(tmp_path / "shuffled.csv")  # pandas' index, shuffled, under no name
    frame.to_csv(tmp_path / "t.csv")
    dm = datamodule(tmp_path / "t.csv")
    dm.setup("fit")
    kinds = dm.preprocessing["columns"]
    assert (kinds["Unnamed: 0"], kinds["PassengerId"], kinds["id"], kinds["CustomerID"]) == ("ignored",) * 4
    assert (kinds["shuffled"], kinds["sorted"], kinds["paid"]) == ("numeric", "numeric", "numeric")
    out = capsys.readouterr().out
    assert "PassengerId: 120 distinct values in 120 rows, looks like an identifier; data.numeric=[PassengerId] keeps it" in out
    assert "data.numeric=['Unnamed: 0'] keeps it" in out
    shuffled = datamodule(tmp_path / "shuffled.csv")
    shuffled.setup("fit")
    assert shuffled.preprocessing["columns"]["Unnamed: 0"] == "ignored"
    kept = datamodule(tmp_path / "t.csv", numeric=["PassengerId"])
    kept.setup("fit")
    assert kept.preprocessing["columns"]["PassengerId"] == "numeric"


def test_the_printed_override_that_keeps_an_identifier_quotes_a_name_hydra_reads_as_a_number(tmp_path, capsys):
    """data.categorical=[2024] is read by Hydra as the number 2024, which names no column."""
    frame = table()
    frame["2024"] = [f"c{i}" for i in range(len(frame))]
    setup(frame, tmp_path)
    assert "2024: 120 distinct values in 120 rows, looks like an identifier; data.categorical=['2024'] keeps it" in (
        capsys.readouterr().out
    )
    assert setup(frame, tmp_path, categorical=["2024"]).preprocessing["columns"]["2024"] == "categorical"


def test_predict_reads_a_semicolon_file_with_question_marks(tmp_path):
    from src.data.prediction_input import prediction_chunks

    dm = setup(table(), tmp_path)
    new = table(rows=5).drop(columns=["kind"]).astype({"weight": object})
    new.loc[1, "weight"] = "?"
    new.loc[2, "colour"] = "?"
    new.to_csv(tmp_path / "new.csv", index=False, sep=";")
    ((frame, _, done),) = prediction_chunks(tmp_path / "new.csv", dm.state_dict())
    x = dm.transform_frame(frame, "new.csv", done)
    assert x.shape == (5, dm.n_features) and bool(torch.isfinite(torch.as_tensor(x)).all())
    assert np.isnan(frame["weight"].iloc[1]) and x[2, dm.n_num_features] == 1  # imputed; the missing category


def test_a_latin_1_file_reads_like_its_utf_8_twin_in_training_and_predict(tmp_path):
    from src.data.prediction_input import prediction_chunks

    frame = table()
    frame["colour"] = frame["colour"].replace({"red": "rouge foncé", "green": "vert gazon"})
    from_utf8 = setup(frame, tmp_path)
    (tmp_path / "latin").mkdir()
    frame.to_csv(tmp_path / "latin" / "t.csv", index=False, encoding="latin-1")
    from_latin = datamodule(tmp_path / "latin" / "t.csv")
    from_latin.setup("fit")
    assert from_latin.preprocessing["vocabularies"]["colour"] == ["blue", "rouge foncé", "vert gazon"]
    for s in from_utf8.splits:
        assert torch.equal(from_utf8.splits[s][0], from_latin.splits[s][0])
    new = frame.drop(columns=["kind"]).head(5)
    new.to_csv(tmp_path / "new.csv", index=False, encoding="latin-1")
    ((rows, _, done),) = prediction_chunks(tmp_path / "new.csv", from_latin.state_dict())
    assert rows["colour"].tolist() == new["colour"].tolist()


def test_a_korean_spreadsheets_csv_keeps_its_categories_and_labels_as_written(tmp_path):
    """What Korean Excel saves as "CSV" (cp949): read as cp1252, every label came out as text no one wrote ('»¡°­'
    for '빨강'), with no warning."""
    from src.data.prediction_input import prediction_chunks

    colours = {"red": "빨강", "green": "초록", "blue": "파랑"}
    frame = table()
    frame["colour"] = frame["colour"].replace(colours)
    frame["kind"] = frame["kind"].replace({"heavy": "무거움", "light": "가벼움"})
    frame.to_csv(tmp_path / "t.csv", index=False, encoding="cp949")
    dm = datamodule(tmp_path / "t.csv")
    dm.setup("fit")
    assert dm.preprocessing["vocabularies"]["colour"] == sorted(colours.values())
    assert set(dm.class_labels) == set(frame["kind"])
    new = frame.drop(columns=["kind"]).head(5)
    new.to_csv(tmp_path / "new.csv", index=False, encoding="cp949")
    ((rows, _, _),) = prediction_chunks(tmp_path / "new.csv", dm.state_dict())
    assert rows["colour"].tolist() == new["colour"].tolist()


def test_old_mac_line_endings_a_long_cell_and_a_gzipped_semicolon_file_read_like_the_plain_csv(tmp_path):
    import gzip

    frame = table()
    frame.loc[0, "code"] = "x" * 200_000  # longer than the csv module's field limit, in the rows read to find the delimiter
    reference = setup(frame, tmp_path)
    (tmp_path / "other").mkdir()
    text = frame.to_csv(index=False)
    variants = {
        "mac.csv": text.replace("\n", "\r").encode(),
        "semi.csv.gz": gzip.compress(frame.to_csv(index=False, sep=";").encode()),
    }
    for name, content in variants.items():
        (tmp_path / "other" / name).write_bytes(content)
        dm = datamodule(tmp_path / "other" / name)
        dm.setup("fit")
        for s in reference.splits:
            assert torch.equal(reference.splits[s][0], dm.splits[s][0]), name


def test_one_windows_character_deep_in_a_file_reads_the_same_in_training_and_predict(tmp_path):
    from src.data.prediction_input import prediction_chunks

    frame = table(rows=20_000)  # over a megabyte of CSV
    frame["colour"] = frame["colour"].replace({"red": "rouge foncé"})
    frame.loc[19_990, "colour"] = "vert – pomme"  # an en dash: byte 0x96 in cp1252, not UTF-8
    frame.to_csv(tmp_path / "t.csv", index=False, encoding="cp1252")
    dm = datamodule(tmp_path / "t.csv")
    dm.setup("fit")
    assert "rouge foncé" in dm.preprocessing["vocabularies"]["colour"]
    ((rows, _, _),) = prediction_chunks(tmp_path / "t.csv", dm.state_dict(), chunk_rows=100_000)
    assert rows["colour"].iloc[19_990] == "vert – pomme" and rows["colour"].iloc[0] == frame["colour"].iloc[0]


def test_predict_reads_each_of_two_nameless_columns_under_its_own_name(tmp_path):
    from src.data.prediction_input import prediction_chunks

    frame = table()[["size", "weight", "colour", "kind"]]
    frame.to_csv(tmp_path / "t.csv", index=False, header=["", "", "colour", "kind"])  # Unnamed: 0 and Unnamed: 1
    dm = datamodule(tmp_path / "t.csv")
    dm.setup("fit")
    assert dm.preprocessing["columns"]["Unnamed: 0"] == dm.preprocessing["columns"]["Unnamed: 1"] == "numeric"
    new = frame.drop(columns=["kind"]).head(5)
    new.to_csv(tmp_path / "new.csv", index=False, header=["", "", "colour"])
    ((rows, _, _),) = prediction_chunks(tmp_path / "new.csv", dm.state_dict())
    np.testing.assert_array_equal(rows["Unnamed: 0"].to_numpy(), new["size"].to_numpy())
    np.testing.assert_array_equal(rows["Unnamed: 1"].to_numpy(), new["weight"].to_numpy())


def assert_training_rows_predict_as_trained(dm, path):
    """predict's reader of the training file gives the training rows' inputs exactly, with no value unseen."""
    from src.data.prediction_input import prediction_chunks

    ((rows, _, done),) = prediction_chunks(path, dm.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no value of the training file is unseen
        x = dm.transform_frame(rows, path.name, done)
    assert torch.equal(x[dm.split_positions["train"]], dm.splits["train"][0])


@pytest.mark.parametrize("spelling", [{True: "true", False: "false"}, {True: "TRUE", False: "FALSE"}])
def test_a_true_false_column_predicts_as_it_trained(tmp_path, spelling):
    """pyarrow reads true/TRUE in a training CSV as booleans; predict's text reader must know them as the same categories."""
    frame = table()
    frame["indoor"] = frame["indoor"].map(spelling)
    dm = setup(frame, tmp_path)
    assert_training_rows_predict_as_trained(dm, tmp_path / "t.csv")


def test_a_date_column_kept_as_a_category_predicts_as_it_trained(tmp_path):
    """pyarrow reads a training CSV's ISO dates as timestamps; as a category, predict's text must be the same category."""
    frame = table()
    frame["day"] = np.where(frame["weight"] > 52, "2024-02-01", "2024-03-01 12:30:00")
    dm = setup(frame, tmp_path, categorical=["day"])
    assert_training_rows_predict_as_trained(dm, tmp_path / "t.csv")


def test_the_index_pandas_saves_in_a_parquet_file_is_an_identifier(tmp_path):
    """A filtered or shuffled frame's index goes into Parquet as `__index_level_0__`: the rows' old positions, which
    must not become an input (in a file sorted by class it gives the answer away), as the CSV's nameless index does not."""
    from src.data.prediction_input import prediction_chunks

    frame = table().sample(frac=1, random_state=0)
    dm = setup(frame, tmp_path, name="t.parquet")
    assert dm.preprocessing["columns"]["__index_level_0__"] == "ignored"
    frame.drop(columns=["kind"]).head(5).to_csv(tmp_path / "new.csv", index=False)  # without it
    ((rows, _, _),) = prediction_chunks(tmp_path / "new.csv", dm.state_dict())
    assert len(rows) == 5
    ((rows, carried, _),) = prediction_chunks(tmp_path / "t.parquet", dm.state_dict(), carry=["__index_level_0__"])
    assert list(carried["__index_level_0__"]) == list(frame.index) and torch.equal(
        dm.transform_frame(rows, "t.parquet")[dm.split_positions["test"]], dm.splits["test"][0]
    )


def test_a_text_column_of_dates_and_true_false_keeps_its_categories(tmp_path):
    """Where pyarrow reads the cells as text in training too (a stray word among them), the categories are the
    file's own spellings, as checkpoints of every version hold them."""
    frame = table()
    frame["day"] = np.where(frame["weight"] > 52, "2024-02-01", "unknown")
    frame["indoor"] = np.where(frame["size"] > 10, "true", "maybe")
    dm = setup(frame, tmp_path, categorical=["day"])
    assert dm.preprocessing["vocabularies"]["day"] == ["2024-02-01", "unknown"]
    assert dm.preprocessing["vocabularies"]["indoor"] == ["maybe", "true"]


def test_a_split_missing_many_classes_names_ten_of_them_in_its_warning():
    import numpy as np

    from src.data.splits import warn_of_absent_classes

    labels = [f"c{i}" for i in range(40)]
    codes = {"train": np.arange(40), "val": np.array([0, 1, 2, 3, 4]), "test": np.arange(40)}
    with pytest.warns(UserWarning) as caught:
        warn_of_absent_classes(codes, labels, "")
    [message] = [str(w.message) for w in caught]
    assert message.startswith("the validation split holds no row of class 'c5' (2 of 85 rows), 'c6'")
    assert "'c14' (2 of 85 rows) and 25 more classes: its metrics cannot judge it" in message


def test_a_feature_of_zero_padded_codes_is_categorical_with_its_codes_as_written(tmp_path, capsys):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=200), "zip": [f"{z:05d}" for z in rng.integers(0, 20, 200)]})
    frame["kind"] = np.where(frame.x > 0, "a", "b")
    dm = setup(frame, tmp_path)
    # was numeric: 00009 and 9 one number, and an unseen code extrapolated
    assert dm.preprocessing["columns"]["zip"] == "categorical"
    assert "1 categorical (zip: 20 values)" in capsys.readouterr().out


def test_a_named_index_written_into_parquet_is_an_identifier_as_the_unnamed_one_is(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=200), "kind": rng.choice(["a", "b"], size=200)})
    frame.index = pd.Index(rng.permutation(200) + 1000, name="customer_no")  # df.set_index(...).to_parquet(...)
    dm = setup(frame, tmp_path, name="t.parquet")
    assert dm.preprocessing["columns"]["customer_no"] == "ignored"  # was a numeric input of the net
    frame.index.name = None  # pandas writes it as __index_level_0__
    assert setup(frame, tmp_path, name="u.parquet").preprocessing["columns"]["__index_level_0__"] == "ignored"
