"""New rows for predict: columns matched by name, every bad value named with its column and row, in chunks."""

import numpy as np
import pandas as pd
import pytest

from src.data.prediction_input import prediction_chunks
from src.errors import UserError

FEATURES = ["age", "income", "rooms"]


def state(missing: str = "refuse", **kinds) -> dict:
    return {"columns": {**{f: "numeric" for f in FEATURES}, **kinds}, "missing": missing, "target_name": "price"}


def write(tmp_path, text: str):
    path = tmp_path / "new.csv"
    path.write_text(text)
    return path


def read(path, saved: dict, chunk_rows: int = 100_000) -> pd.DataFrame:
    return pd.concat([frame for frame, _, _ in prediction_chunks(path, saved, chunk_rows)], ignore_index=True)


def test_columns_are_taken_by_name_in_the_trained_order(tmp_path):
    path = write(tmp_path, "rooms, income,age\n3,1.5e3,40\n 4 ,2000,-1\n")
    np.testing.assert_array_equal(read(path, state())[FEATURES].to_numpy(), [[40, 1500, 3], [-1, 2000, 4]])


REFUSED = [
    ("", "is empty: expected a header"),
    ("age,income,rooms\n", "has a header but no rows"),
    ("age,income\n1,2\n", "missing feature columns: 'rooms'"),
    ("age,income,rooms,id\n1,2,3,4\n", "unknown columns (not features of the model; remove them): 'id'"),
    ("age,age,income,rooms\n1,1,2,3\n", "duplicated columns: 'age'; give each its own name"),
    ("age,income,rooms\n1,2,3\n4,lots,6\n", "column 'income' has a non-numeric value 'lots' in row 2"),
    ("age,income,rooms\n1,2,3\n4,,6\n", "column 'income' has an empty value in row 2"),
    ("age,income,rooms\n1,2,3\n4,5\n", "column 'rooms' has an empty value in row 2"),
    ("age,income,rooms\n1,2,3\n4,5,nan\n7,8,NaN\n", "column 'rooms' has 2 NaN or infinite value(s), first in row 2"),
    ("age,income,rooms\n1,-inf,3\n", "column 'income' has 1 NaN or infinite value(s), first in row 1"),
    ("age,income,rooms\n1,2,3\n4,5,6,7,8\n", "is not a readable CSV"),
]


@pytest.mark.parametrize("text, expected", REFUSED)
def test_bad_files_are_rejected_naming_the_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        read(path, state())
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_rows_are_named_across_chunks(tmp_path):
    rows = [f"{i},{i},{i}" for i in range(25)]
    rows[17] = "17,lots,17"
    path = write(tmp_path, "age,income,rooms\n" + "\n".join(rows) + "\n")
    with pytest.raises(UserError, match="column 'income' has a non-numeric value 'lots' in row 18"):
        read(path, state(), chunk_rows=4)


def test_missing_cells_pass_through_when_the_model_imputes(tmp_path):
    path = write(tmp_path, "age,income,rooms,price\n1,,3,9\n4,5,nan,9\n")
    frame = read(path, state("impute"))  # the target column may stay in the file
    assert np.isnan(frame.loc[0, "income"]) and np.isnan(frame.loc[1, "rooms"])
    with pytest.raises(UserError, match="column 'income' has 1 infinite value"):
        read(write(tmp_path, "age,income,rooms\n1,inf,3\n"), state("impute"))


def test_categories_and_dates_come_as_text(tmp_path):
    path = write(tmp_path, "age,income,rooms,island,day\n1,2,3, Dream ,2020-01-02\n4,5,6,,\n")
    frame = read(path, state("impute", island="categorical", day="date"))
    assert frame["island"].tolist()[0].strip() == "Dream" and frame["island"].isna().tolist()[1]
    assert frame["day"].tolist()[0] == "2020-01-02"


def test_parquet_input_reads_like_csv(tmp_path):
    frame = pd.DataFrame({"rooms": [3.0, 4.0], "income": [1500.0, 2000.0], "age": [40, -1]})
    frame.to_parquet(tmp_path / "new.parquet")
    np.testing.assert_array_equal(read(tmp_path / "new.parquet", state())[FEATURES].to_numpy(), [[40, 1500, 3], [-1, 2000, 4]])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="input file not found: .*nope.csv"):
        read(tmp_path / "nope.csv", state())


def test_carried_columns_keep_the_file_order_when_a_short_row_sends_the_rest_to_the_text_reader(tmp_path):
    # pyarrow reads the first block (1 MiB) typed; the short row after it sends the rest to pandas' text reader
    rows = [f"id{i},{i},{i * 10},{i % 7}" for i in range(60_000)]
    rows[-1] = "last,1,2"
    path = write(tmp_path, "code,age,income,rooms\n" + "\n".join(rows) + "\n")
    chunks = list(prediction_chunks(path, state("impute", code="ignored"), 20_000, carry=None))
    assert np.isnan(chunks[-1][0]["rooms"].iloc[-1])  # the text reader read the short row: its missing cell is empty
    assert {tuple(carried.columns) for _, carried, _ in chunks} == {("code", "age", "income", "rooms")}
    assert list(pd.concat([carried for _, carried, _ in chunks])["code"]) == [row.split(",")[0] for row in rows]


def test_a_parquet_file_carries_its_columns_in_file_order_as_a_csv_does(tmp_path):
    frame = pd.DataFrame({"code": ["a", "b"], "age": [1.0, 2.0], "income": [3.0, 4.0], "rooms": [5.0, 6.0]})
    frame.to_parquet(tmp_path / "new.parquet", index=False)
    frame.to_csv(tmp_path / "new.csv", index=False)
    for name in ("new.parquet", "new.csv"):
        [(_, carried, _)] = prediction_chunks(tmp_path / name, state(code="ignored"), carry=None)
        assert list(carried.columns) == ["code", "age", "income", "rooms"]


def test_keep_columns_all_carries_a_parquet_files_columns_with_their_types(tmp_path):
    frame = pd.DataFrame({"age": [40, 50], "income": [1.5, 2.5], "rooms": [3, 4]})
    frame.to_parquet(tmp_path / "new.parquet")
    ((_, carried, _),) = prediction_chunks(tmp_path / "new.parquet", state(), carry=None)
    pd.testing.assert_frame_equal(carried, frame)


def test_the_index_pandas_saved_in_a_parquet_file_is_not_an_unknown_column(tmp_path):
    """A filtered frame's to_parquet keeps its index (`__index_level_0__`, or the index's name): pandas reads it back
    as the index, not a column, so a user cannot see the column predict would refuse."""
    frame = pd.DataFrame({"age": [1.0, 2.0, 3.0], "income": [4.0, 5.0, 6.0], "rooms": [7.0, 8.0, 9.0]}).iloc[[2, 0, 1]]
    for name, saved in (("filtered", frame), ("named", frame.rename_axis("row"))):
        saved.to_parquet(tmp_path / f"{name}.parquet")
        np.testing.assert_array_equal(read(tmp_path / f"{name}.parquet", state())[FEATURES].to_numpy(), frame.to_numpy())
