"""data.positive_label: the user says which label is class 1, the class precision, recall and F1 are about."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from src.errors import UserError
from src.train import train
from tests.data.test_csv_source import cancer_csv_with_words, file_datamodule


def credit_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(0)
    income = rng.normal(size=rows)
    frame = pd.DataFrame({"income": income, "debt": rng.normal(size=rows), "risk": np.where(income < -0.5, "bad", "good")})
    frame.to_csv(path, index=False)
    return path


def test_positive_label_makes_that_label_class_one(tmp_path):
    path = credit_csv(tmp_path / "credit.csv")
    alphabetical = file_datamodule(path, "risk")
    alphabetical.setup("fit")
    chosen = file_datamodule(path, "risk", positive_label="bad")
    chosen.setup("fit")
    assert alphabetical.class_labels == ["bad", "good"] and chosen.class_labels == ["good", "bad"]
    for stage in ("train", "val", "test"):
        y_default, y_chosen = alphabetical.splits[stage][1], chosen.splits[stage][1]
        assert (y_chosen == 1 - y_default).all()  # the same rows, the codes swapped


def test_positive_label_that_is_not_a_label_or_not_binary_is_refused(tmp_path):
    path = credit_csv(tmp_path / "credit.csv")
    with pytest.raises(UserError, match=r"data.positive_label='poor' is not a label of .* \(labels: bad, good\)"):
        file_datamodule(path, "risk", positive_label="poor").setup("fit")
    with pytest.raises(UserError, match="data.positive_label applies to a binary target"):
        file_datamodule(path, "income", positive_label="bad").setup("fit")


def test_a_run_names_its_positive_class_in_its_output_and_metrics_json(tmp_path, make_config, capsys):
    path = cancer_csv_with_words(tmp_path / "cancer.csv")
    cfg = make_config(
        "data=csv", f"data.path={path}", "data.target=diagnosis", "data.positive_label=malignant", "trainer.max_epochs=3"
    )
    train(cfg)
    out = capsys.readouterr().out
    assert "positive class: malignant" in out
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert metrics["positive_class"] == "malignant"
    # the confusion matrix in the report names its classes: actual rows, predicted columns
    assert "actual \\ predicted  benign  malignant" in out
