"""Mini-batches cut straight from in-memory tensors, as the lesson does (randperm + index_select + split). Each epoch's
order comes from its own generator seeded by (seed, epoch), apart from other random draws: a resumed run replays it, and
every DDP rank shares it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

Batch = tuple[torch.Tensor, torch.Tensor]
AUTO_STEPS_PER_EPOCH = 100  # data.batch_size=auto: about this many mini-batches an epoch...
AUTO_BATCH_RANGE = (32, 1024)  # ...between the lesson's batch and the large-table batch of the tabular literature


def auto_batch_size(train_rows: int) -> int:
    """The power of two nearest to train_rows / 100, within 32..1024: 32 for the lesson's 341 rows, 128 for housing's."""
    low, high = AUTO_BATCH_RANGE
    wanted = max(train_rows / AUTO_STEPS_PER_EPOCH, 1.0)
    return int(min(max(2 ** round(np.log2(wanted)), low), high))


def shuffled_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> list[Batch]:
    """One epoch of training batches; with several ranks, this rank's disjoint share of each global batch."""
    epoch_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)
    # drawn on the CPU and moved once an epoch: a GPU run shuffles exactly as the CPU run does, so the two compare
    indices = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(epoch_seed)).to(x.device)
    if world_size > 1:
        # global batch k holds rows [k*B*W, (k+1)*B*W) of the permutation; this rank takes its slice of each
        shares = [chunk.tensor_split(world_size)[rank] for chunk in indices.split(batch_size * world_size)]
        return [(torch.index_select(x, 0, share), torch.index_select(y, 0, share)) for share in shares]
    x_shuffled = torch.index_select(x, dim=0, index=indices)
    y_shuffled = torch.index_select(y, dim=0, index=indices)
    return list(zip(x_shuffled.split(batch_size), y_shuffled.split(batch_size)))


def ordered_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, rank: int = 0, world_size: int = 1) -> list[Batch]:
    """Validation and test batches: never shuffled; with several ranks, each takes a contiguous share."""
    if world_size > 1:
        x, y = x.tensor_split(world_size)[rank], y.tensor_split(world_size)[rank]
    return list(zip(x.split(batch_size), y.split(batch_size)))


class BatchGroups:
    """What Lightning sees as a dataloader: each item is a group of batches that one Lightning step runs. Like Keras'
    `steps_per_execution`, None puts a whole epoch in one step: Lightning's per-step cost is paid once an epoch."""

    def __init__(self, make_batches: Callable[[], list[Batch]], n_batches: int, steps_per_execution: int | None):
        self.make_batches = make_batches
        self.n_batches = n_batches
        self.group = steps_per_execution or max(n_batches, 1)

    def __len__(self) -> int:
        return -(-self.n_batches // self.group)

    def __iter__(self) -> Iterator[list[Batch]]:
        batches = self.make_batches()
        for start in range(0, len(batches), self.group):
            yield batches[start : start + self.group]
