import numpy as np
import pytest
import torch

from src.data.datamodule import TabularDataModule
from src.data.splits import split_like_the_lesson
from src.errors import UserError
from tests.conftest import needs_housing

CANCER = {"_target_": "src.data.sources.breast_cancer"}


def cancer_datamodule(**kwargs) -> TabularDataModule:
    dm = TabularDataModule(source=CANCER, batch_size=32, **kwargs)
    dm.setup("fit")
    return dm


def test_cancer_split_has_the_lessons_sizes():
    dm = cancer_datamodule()
    assert [dm.splits[s][0].shape[0] for s in ("train", "val", "test")] == [341, 114, 114]
    assert dm.splits["train"][0].shape[1] == 30


@needs_housing
def test_housing_split_has_the_lessons_sizes():
    dm = TabularDataModule(source={"_target_": "src.data.sources.california_housing"}, batch_size=256)
    dm.setup("fit")
    assert [dm.splits[s][0].shape[0] for s in ("train", "val", "test")] == [12384, 4128, 4128]
    assert dm.splits["train"][0].shape[1] == 8


def test_split_is_disjoint_and_covers_every_row():
    rows = np.arange(569, dtype=np.float64)[:, None]
    parts = split_like_the_lesson(rows, rows[:, 0], 0.2, 0.2, random_state=21)
    ids = [set(parts[s][0][:, 0].tolist()) for s in ("train", "val", "test")]
    assert sum(len(i) for i in ids) == 569
    assert set.union(*ids) == set(range(569))
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])


def test_split_follows_random_state():
    rows = np.arange(569, dtype=np.float64)[:, None]
    a = split_like_the_lesson(rows, rows[:, 0], 0.2, 0.2, random_state=21)
    b = split_like_the_lesson(rows, rows[:, 0], 0.2, 0.2, random_state=22)
    assert not np.array_equal(a["test"][0], b["test"][0])


def test_scaler_is_fitted_on_the_training_split_only():
    dm = cancer_datamodule()
    table = dm.load_table()
    x, y = table.frame.drop(columns="target").to_numpy(), table.frame["target"].to_numpy()
    raw = split_like_the_lesson(x, y, 0.2, 0.2, random_state=21)
    np.testing.assert_allclose(dm.scaler_mean, raw["train"][0].mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(dm.preprocessing["scaler_scale"], raw["train"][0].std(axis=0), rtol=1e-10)
    # statistics of the whole table (which include the test rows) would give a different scaler
    assert not np.allclose(dm.scaler_mean, x.mean(axis=0), rtol=1e-3)
    train_x = dm.splits["train"][0]
    torch.testing.assert_close(train_x.mean(0), torch.zeros(30), atol=1e-5, rtol=0)
    assert train_x.std(0, unbiased=False).sub(1).abs().max() < 1e-4
    assert dm.splits["test"][0].mean(0).abs().max() > 1e-3  # test rows are scaled, not standardized themselves


def test_state_dict_is_plain_data_and_restores_the_scaler():
    dm = cancer_datamodule()
    state = dm.state_dict()
    assert all(isinstance(v, float) for v in state["scaler_mean"] + state["scaler_scale"])
    assert state["feature_names"][0] == "mean radius" and state["task"] == "binary"
    fresh = TabularDataModule(source=CANCER, batch_size=32)
    fresh.load_state_dict(state)
    fresh.setup("fit")
    torch.testing.assert_close(fresh.splits["test"][0], dm.splits["test"][0])


def test_housing_without_cache_stops_with_a_one_line_fix(tmp_path):
    from src.data.sources import california_housing
    from src.errors import UserError

    with pytest.raises(UserError) as info:
        california_housing(data_home=str(tmp_path), download=False)
    message = str(info.value)
    assert "\n" not in message
    assert "SCIKIT_LEARN_DATA" in message and "experiment=cancer" in message and str(tmp_path) in message


def test_a_checkpoint_state_from_before_data_sources_still_rebuilds_the_data():
    import inspect

    dm = cancer_datamodule()
    new = dm.state_dict()
    old_keys = (
        "feature_names",
        "target_name",
        "task",
        "class_labels",
        "test_fraction",
        "val_fraction",
        "random_state",
        "batch_size",
        "scaler_mean",
        "scaler_scale",
        "target",
        "features",
        "feature_transform",
        "quantiles",
    )
    old = {"name": "breast_cancer", "path": None, **{k: new[k] for k in old_keys}}
    accepted = inspect.signature(TabularDataModule.__init__).parameters
    again = TabularDataModule(**{k: v for k, v in old.items() if k in accepted})
    again.load_state_dict(old)
    again.setup("test")
    for stage in dm.splits:
        assert torch.equal(again.splits[stage][0], dm.splits[stage][0])


def test_batches_stay_where_they_were_cut_and_the_model_summarys_example_row_moves_to_the_device():
    datamodule = cancer_datamodule()
    batches = next(iter(datamodule.train_dataloader()))
    meta = torch.device("meta")  # stands in for a GPU: a tensor left on the CPU would show
    assert datamodule.transfer_batch_to_device(batches, meta, 0) is batches
    assert datamodule.transfer_batch_to_device(torch.zeros(1, datamodule.n_features), meta, 0).device == meta


def test_a_housing_download_that_fails_is_one_error_without_scikit_learns_retry_warnings(tmp_path, monkeypatch, recwarn):
    from types import SimpleNamespace
    from urllib.error import URLError

    import sklearn.datasets._base as sklearn_datasets  # where fetch_california_housing downloads, retrying on failure

    from src.data.sources import california_housing

    def no_network(url, path):
        raise URLError("no network")

    monkeypatch.setattr(sklearn_datasets, "urlretrieve", no_network)
    monkeypatch.setattr(sklearn_datasets, "time", SimpleNamespace(sleep=lambda seconds: None))
    with pytest.raises(UserError, match=f"not in scikit-learn's cache at {tmp_path} and the download failed \\(no network\\)"):
        california_housing(data_home=str(tmp_path))
    # it printed "Retry downloading from url: ..." three times before the error
    assert [str(w.message) for w in recwarn if "Retry downloading" in str(w.message)] == []
