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
