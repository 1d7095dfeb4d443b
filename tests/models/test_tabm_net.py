"""The TabM net alone: k members' predictions per row, members that differ, gradients everywhere, bins from training rows."""

import json

import pytest
import torch
from hydra.utils import instantiate

from src.errors import UserError
from src.models.nets.tabm import TabM

N_NUM, CARDS = 5, [3, 4]  # 4 categories = 3 codes and the reserved unknown code 0


def rows(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(n, N_NUM, generator=g)
    x_cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], dim=1).float()
    return torch.cat([x_num, x_cat], dim=1)  # the data -> model contract: numeric first, then codes as floats


def net_config(**overrides) -> dict:
    return {"_target_": "src.models.nets.tabm.TabM", "k": 4, "d_block": 16, "n_bins": 8, **overrides}


def build(x_train: torch.Tensor, n_outputs: int = 1, **overrides) -> TabM:
    config = net_config(**overrides)
    config.update(TabM.fit_to_training_rows(x_train[:, :N_NUM], config))
    return instantiate(config, n_num_features=N_NUM, cat_cardinalities=CARDS, n_outputs=n_outputs)


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini", "tabm-packed"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_every_member_predicts_every_row(arch_type, n_outputs):
    torch.manual_seed(0)
    net = build(rows(64), n_outputs, arch_type=arch_type)
    assert net(rows(10, seed=1)).shape == (10, 4, n_outputs)


def test_numeric_only_and_without_embeddings():
    torch.manual_seed(0)
    x = torch.randn(32, N_NUM)
    assert TabM(N_NUM, [], 1, k=3, d_block=8, embedding=None)(x).shape == (32, 3, 1)
    bins = TabM.fit_to_training_rows(x, {"n_bins": 4})["bins"]
    assert TabM(N_NUM, [], 1, k=3, d_block=8, bins=bins)(x).shape == (32, 3, 1)


def test_members_differ_and_every_parameter_learns_from_the_mean_member_loss():
    torch.manual_seed(0)
    x, y = rows(64), torch.randn(64, 1)
    net = build(x)
    out = net(x)
    assert not torch.allclose(out[:, 0], out[:, 1])  # k different models, not k copies
    loss = ((out - y.unsqueeze(1)) ** 2).mean()  # the mean of the k member losses
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_bins_come_from_the_rows_given_and_are_plain_data_for_the_checkpoint():
    x_train = torch.randn(200, N_NUM)
    config = net_config()
    bins = TabM.fit_to_training_rows(x_train, config)["bins"]
    assert json.loads(json.dumps(bins)) == bins and len(bins) == N_NUM
    for edges, column in zip(bins, x_train.T):  # edges span the training rows exactly
        assert edges[0] == pytest.approx(column.min().item()) and edges[-1] == pytest.approx(column.max().item())
    # the same plain config rebuilds the same net shape, as loading a checkpoint does
    torch.manual_seed(0)
    first = instantiate({**config, "bins": bins}, n_num_features=N_NUM, cat_cardinalities=CARDS, n_outputs=1)
    again = instantiate({**config, "bins": bins}, n_num_features=N_NUM, cat_cardinalities=CARDS, n_outputs=1)
    again.load_state_dict(first.state_dict())
    x = rows(8)
    torch.testing.assert_close(first.eval()(x), again.eval()(x))
    assert TabM.fit_to_training_rows(x_train, {"embedding": "periodic"}) == {}


def test_settings_errors_name_the_key():
    with pytest.raises(UserError, match="needs bins from the training rows"):
        TabM(N_NUM, [], 1)
    with pytest.raises(UserError, match="model.net.arch_type must be one of tabm, tabm-mini, tabm-packed; got 'big'"):
        TabM(N_NUM, [], 1, arch_type="big", embedding=None)


def test_a_tabm_run_reports_each_member_alone_beside_the_mean_prediction(make_config):
    import json
    from pathlib import Path

    from src.train import train

    cfg = make_config("model/net=tabm", "model.net.k=4", "model.net.d_block=16", "model.net.n_bins=8", "trainer.max_epochs=3")
    result = train(cfg)
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    members = metrics["matrices"]["test_members"]
    assert set(members) >= {"test_loss", "test_acc", "test_auroc"}
    assert all(len(values) == 4 for values in members.values())
    assert len(set(members["test_loss"])) == 4  # each member has weights of its own
    # the mean prediction is not one of its members, and the ensemble's loss is the loss of that mean
    assert result.test["test_loss"] not in members["test_loss"]
    assert result.test["test_loss"] <= max(members["test_loss"])


def test_target_aware_bins_follow_the_target_and_need_it():
    torch.manual_seed(0)
    x = torch.rand(2000, 2)
    y = (x[:, 0] > 0.7).float() * 3 + torch.randn(2000) * 0.01  # the target jumps at 0.7 of feature 0 only
    config = net_config(tree={"min_samples_leaf": 64, "min_impurity_decrease": 1e-4})
    bins = TabM.fit_to_training_rows(x, config, y)["bins"]
    assert any(abs(edge - 0.7) < 0.01 for edge in bins[0])  # a split where the target changes
    assert len(bins[0]) < len(TabM.fit_to_training_rows(x, net_config())["bins"][0])  # not every quantile
    with pytest.raises(UserError, match="needs the training targets"):
        TabM.fit_to_training_rows(x, config)


def test_dropout_is_the_cheap_one_inside_tabm():
    from src.models.nets.cheap_dropout import CheapDropout

    net = build(rows(64), dropout=0.2)
    rates = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert rates and all(p == 0.2 for p in rates)
    assert all(type(m) is CheapDropout for m in net.modules() if isinstance(m, torch.nn.Dropout))
