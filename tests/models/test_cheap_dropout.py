"""CheapDropout: the same dropout as nn.Dropout (rate, scaling, independence, eval, seeds), from fewer random draws."""

import pytest
import torch
from torch import nn

from src.models.nets.cheap_dropout import CheapDropout, with_cheap_dropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_drops_at_the_rate_and_scales_the_kept_elements_as_nn_dropout(p):
    torch.manual_seed(0)
    x = torch.ones(4096, 32, 8)
    out = CheapDropout(p).train()(x)
    dropped = (out == 0).double().mean().item()
    assert dropped == pytest.approx(p, abs=4 * (p * (1 - p) / x.numel()) ** 0.5 + 1 / 65536)
    assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / (1 - p)))
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)  # unbiased, as nn.Dropout


def test_elements_are_dropped_independently_of_their_neighbours():
    torch.manual_seed(0)
    kept = (CheapDropout(0.5).train()(torch.ones(1 << 20)) != 0).double()
    # the four 16-bit lanes of one 64-bit draw, and neighbouring draws, are uncorrelated
    for lag in (1, 2, 3, 4, 5):
        corr = torch.corrcoef(torch.stack([kept[:-lag], kept[lag:]]))[0, 1].item()
        assert abs(corr) < 0.01, lag
    assert not torch.equal(kept[:1024], kept[1024:2048])


def test_gradients_flow_through_the_kept_elements_only():
    torch.manual_seed(0)
    x = torch.randn(64, 16, requires_grad=True)
    out = CheapDropout(0.3).train()(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out != 0).float() / 0.7)


def test_eval_mode_is_the_identity_and_the_seed_replays_the_mask():
    x = torch.randn(128, 8)
    assert torch.equal(CheapDropout(0.2).eval()(x), x)
    torch.manual_seed(3)
    first = CheapDropout(0.2).train()(x)
    torch.manual_seed(3)
    torch.testing.assert_close(CheapDropout(0.2).train()(x), first)


def test_replacing_dropout_keeps_rates_and_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.15), nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3)), nn.Linear(8, 1))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with_cheap_dropout(net)
    rates = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
    assert rates == [0.15, 0.3] and all(type(m) is CheapDropout for m in net.modules() if isinstance(m, nn.Dropout))
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key])


@pytest.mark.parametrize(
    "net",
    [
        {"_target_": "src.models.nets.mlp.MLP", "hidden": [8, 8], "dropout": 0.2},
        {"_target_": "src.models.nets.resnet.ResNet", "n_blocks": 1, "d_block": 8, "dropout1": 0.2, "dropout2": 0.1},
        {"_target_": "src.models.nets.ft_transformer.FTTransformer", "n_blocks": 1, "d_block": 8, "attention_n_heads": 2},
    ],
    ids=lambda net: net["_target_"].rsplit(".", 1)[-1],
)
def test_every_shipped_net_drops_out_with_cheap_dropout(net):
    from src.models.nets.build import build_net

    model = build_net(net, n_num_features=3, cat_cardinalities=[3], n_outputs=1)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is CheapDropout for m in dropouts)
    assert model.train()(torch.hstack([torch.randn(16, 3), torch.ones(16, 1)])).shape == (16, 1)
