"""The default optimizer updates all tensors in batched (foreach) kernels: faster, and the same weights bit for bit
as torch's per-tensor CPU default that the lesson's `torch.optim.Adam(model.parameters())` runs."""

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from tests.conftest import compose_config


def train(make_optimizer, steps: int = 300) -> torch.Tensor:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 25), nn.ReLU(), nn.Linear(25, 5), nn.ReLU(), nn.Linear(5, 1))
    optimizer = make_optimizer(params=net.parameters())
    x, y = torch.randn(512, 8), torch.randn(512, 1)
    for step in range(steps):
        batch = slice(step % 8 * 64, step % 8 * 64 + 64)
        loss = nn.functional.mse_loss(net(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("experiment", ["cancer", "housing_best"])
def test_the_configured_optimizer_is_foreach_and_matches_the_per_tensor_update_exactly(experiment, tmp_path):
    node = compose_config(f"experiment={experiment}", output_dir=tmp_path).model.optimizer
    assert node.foreach is True
    batched = instantiate(node)
    per_tensor = instantiate(node, foreach=False)
    assert torch.equal(train(batched), train(per_tensor))
