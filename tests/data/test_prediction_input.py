"""New rows for predict: columns matched by name, every bad value named with its column and row."""

import numpy as np
import pytest

from src.data.prediction_input import read_feature_csv
from src.errors import UserError

FEATURES = ["age", "income", "rooms"]


def write(tmp_path, text: str):
    path = tmp_path / "new.csv"
    path.write_text(text)
    return path


def test_columns_are_taken_by_name_in_the_trained_order(tmp_path):
    path = write(tmp_path, "rooms, income,age\n3,1.5e3,40\n 4 ,2000,-1\n")
    np.testing.assert_array_equal(read_feature_csv(path, FEATURES), [[40, 1500, 3], [-1, 2000, 4]])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "is empty: expected a header"),
        ("age,income,rooms\n", "has a header but no rows"),
        ("age,income\n1,2\n", "missing feature columns: 'rooms'"),
        ("age,income,rooms,id\n1,2,3,4\n", "unknown columns (not features of the model; remove them): 'id'"),
        ("age,age,income,rooms\n1,1,2,3\n", "duplicated columns: 'age'"),
        ("age,income,rooms\n1,2,3\n4,lots,6\n", "column 'income' has a non-numeric value 'lots' in row 2"),
        ("age,income,rooms\n1,2,3\n4,,6\n", "column 'income' has an empty value in row 2"),
        ("age,income,rooms\n1,2,3\n4,5\n", "column 'rooms' has an empty value in row 2"),
        ("age,income,rooms\n1,2,3\n4,5,nan\n7,8,NaN\n", "column 'rooms' has 2 NaN or infinite value(s), first in row 2"),
        ("age,income,rooms\n1,-inf,3\n", "column 'income' has 1 NaN or infinite value(s), first in row 1"),
        ("age,income,rooms\n1,2,3\n4,5,6,7,8\n", "is not a readable CSV"),
    ],
)
def test_bad_files_are_rejected_naming_the_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        read_feature_csv(path, FEATURES)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="input file not found: .*nope.csv"):
        read_feature_csv(tmp_path / "nope.csv", FEATURES)
