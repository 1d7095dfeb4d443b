import pytest
import torch

from src.data.batches import BatchGroups, ordered_batches, shuffled_batches


def rows(n: int = 341) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    return x, x[:, :1].clone()


def seen(batches) -> list[int]:
    return torch.cat([xb[:, 0] for xb, _ in batches]).long().tolist()


def test_every_training_row_once_per_epoch_and_features_stay_with_targets():
    x, y = rows()
    for epoch in range(3):
        batches = shuffled_batches(x, y, 32, seed=0, epoch=epoch)
        assert sorted(seen(batches)) == list(range(341))
        assert [len(b[0]) for b in batches] == [32] * 10 + [21]
        for xb, yb in batches:
            assert torch.equal(xb[:, :1], yb)


def test_new_order_each_epoch_and_same_order_for_same_seed():
    x, y = rows()
    orders = [seen(shuffled_batches(x, y, 32, seed=0, epoch=e)) for e in range(3)]
    assert orders[0] != orders[1] != orders[2]
    assert orders[0] == seen(shuffled_batches(x, y, 32, seed=0, epoch=0))
    assert orders[0] != seen(shuffled_batches(x, y, 32, seed=1, epoch=0))


def test_order_does_not_depend_on_the_global_rng():
    x, y = rows()
    torch.manual_seed(0)
    first = seen(shuffled_batches(x, y, 32, seed=5, epoch=2))
    torch.rand(100)
    assert seen(shuffled_batches(x, y, 32, seed=5, epoch=2)) == first


def test_ranks_take_disjoint_shares_that_cover_the_epoch():
    x, y = rows()
    shares = [seen(shuffled_batches(x, y, 32, seed=0, epoch=1, rank=r, world_size=2)) for r in range(2)]
    assert not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == list(range(341))
    counts = [len(shuffled_batches(x, y, 32, seed=0, epoch=1, rank=r, world_size=2)) for r in range(2)]
    assert counts[0] == counts[1]  # DDP needs the same number of optimizer steps on every rank


def test_validation_batches_are_in_order():
    x, y = rows(114)
    assert seen(ordered_batches(x, y, 32)) == list(range(114))


def test_groups_run_each_batch_once():
    x, y = rows()
    for group in (None, 1, 4):
        groups = BatchGroups(lambda: shuffled_batches(x, y, 32, seed=0, epoch=0), n_batches=11, steps_per_execution=group)
        items = list(groups)
        assert len(items) == len(groups)
        assert sorted(seen([b for g in items for b in g])) == list(range(341))


@pytest.mark.parametrize(
    "train_rows, expected", [(1, 32), (341, 32), (12_384, 128), (60_000, 512), (75_000, 1024), (600_000, 1024)]
)
def test_auto_batch_size_gives_about_100_steps_an_epoch_within_32_to_1024(train_rows, expected):
    from src.data.batches import auto_batch_size

    assert auto_batch_size(train_rows) == expected


def test_data_batch_size_auto_is_chosen_from_the_training_rows_printed_and_kept(tmp_path, capsys):
    from src.data.datamodule import TabularDataModule
    from tests.support.tables import table

    table(rows=1000).to_csv(tmp_path / "t.csv", index=False)
    source = {"_target_": "src.data.sources.read_file", "path": str(tmp_path / "t.csv")}
    dm = TabularDataModule(source=source, target="kind", batch_size="auto")
    dm.setup("fit")
    assert dm.batch_size == 32 and len(dm.split_positions["train"]) == 600
    assert "batch size: 32 (data.batch_size=auto for 600 training rows)" in capsys.readouterr().out
    assert dm.state_dict()["batch_size"] == 32  # a checkpoint holds the number, not "auto"
    assert [len(x) for x, _ in dm.epoch_train_batches(0)] == [32] * 18 + [24]
