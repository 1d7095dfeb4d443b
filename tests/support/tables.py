"""Small generated tables for the data tests."""

import numpy as np
import pandas as pd


def table(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Numbers with holes, a text category with holes, a boolean, a whole-number category, a date, an identifier."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, rows),
            "weight": rng.normal(50, 5, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "indoor": rng.choice([True, False], rows),
            "cylinders": rng.choice([4, 6, 8], rows),
            "day": pd.date_range("2020-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "code": [f"X{i:05d}" for i in range(rows)],
        }
    )
    frame.loc[::7, "size"] = np.nan
    frame.loc[3::11, "colour"] = None
    frame["kind"] = np.where(frame["weight"] > 50, "heavy", "light")
    return frame
