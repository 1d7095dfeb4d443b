"""Every shipped net takes categorical columns (embeddings or one-hot), trains on real data and comes back from its checkpoint."""

import sys

import pytest
import torch

from src.models.nets.build import build_net
from src.models.nets.inputs import default_cat_embedding_dim

NETS = {
    "mlp": {"_target_": "src.models.nets.mlp.MLP", "hidden": [8, 8]},
    "resnet": {"_target_": "src.models.nets.resnet.ResNet", "n_blocks": 1, "d_block": 8},
    "ft_transformer": {
        "_target_": "src.models.nets.ft_transformer.FTTransformer",
        "n_blocks": 1,
        "d_block": 8,
        "attention_n_heads": 2,
    },
}
CARDINALITIES = [4, 3]  # code 0 is "unknown" in each


def mixed_batch(rows: int = 16, n_num: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    codes = torch.stack([torch.randint(0, c, (rows,), generator=generator) for c in CARDINALITIES], 1)
    return torch.cat([torch.randn(rows, n_num, generator=generator), codes.float()], 1)


@pytest.mark.parametrize("categorical", ["embedding", "onehot"])
@pytest.mark.parametrize("name", NETS)
def test_each_net_takes_categorical_columns(name, categorical):
    torch.manual_seed(0)
    net = build_net({**NETS[name], "categorical": categorical}, n_num_features=3, cat_cardinalities=CARDINALITIES, n_outputs=2)
    x = mixed_batch()
    out = net(x)
    assert out.shape == (16, 2)
    out.sum().backward()
    embeddings = [m for m in net.modules() if isinstance(m, torch.nn.Embedding)]
    if categorical == "embedding":
        assert len(embeddings) == len(CARDINALITIES)
        assert all(e.weight.grad is not None and e.weight.grad.abs().sum() > 0 for e in embeddings)
    else:
        assert embeddings == []
    changed = x.clone()
    changed[:, 3] = (changed[:, 3] + 1) % CARDINALITIES[0]  # another category in the first column changes the output
    with torch.no_grad():
        assert not torch.allclose(net(changed), net(x))


def test_embedding_size_follows_the_cardinality_unless_given():
    net = build_net(NETS["mlp"], n_num_features=3, cat_cardinalities=[2, 30], n_outputs=1)
    assert (
        [e.embedding_dim for e in net[0].cat_embeddings]
        == [default_cat_embedding_dim(2), default_cat_embedding_dim(30)]
        == [2, 11]
    )
    sized = build_net({**NETS["mlp"], "cat_embedding_dim": 5}, n_num_features=3, cat_cardinalities=[2, 30], n_outputs=1)
    assert [e.embedding_dim for e in sized[0].cat_embeddings] == [5, 5]


def test_numeric_only_nets_are_the_rtdl_packages():
    import rtdl_revisiting_models

    assert isinstance(build_net(NETS["resnet"], 3, [], 1).backbone, rtdl_revisiting_models.ResNet)
    assert isinstance(build_net(NETS["ft_transformer"], 3, [], 1).model, rtdl_revisiting_models.FTTransformer)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["resnet", "ft_transformer", "mlp"])
def test_each_net_learns_cancer_and_comes_back_from_its_checkpoint(make_config, tmp_path, net):
    from hydra import compose, initialize_config_dir

    from src.eval import evaluate
    from src.runs.checkpoints.read import load_saved_run
    from src.train import train
    from tests.conftest import CONF

    overrides = [f"model/net={net}", "trainer.max_epochs=5", "model.optimizer.lr=0.003"]
    if net == "mlp":  # bins fitted on the training rows travel in the checkpoint; the lesson's narrow stack needs a higher lr
        overrides += ["model.net.embedding={kind:piecewise_linear,n_bins:8,d_embedding:4}", "model.optimizer.lr=0.01"]
    cfg = make_config(*overrides)
    result = train(cfg)
    assert result.test["test_acc"] > 0.9
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    saved = load_saved_run(best)
    assert saved.model.hparams["net"]["_target_"] == cfg.model.net._target_
    with initialize_config_dir(str(CONF), version_base="1.3"):
        eval_cfg = compose("eval", overrides=[f"ckpt_path={best}", f"paths.output_dir={tmp_path / 'eval'}"])
    metrics = evaluate(eval_cfg)
    assert metrics["test"] == pytest.approx(result.test, rel=1e-6)


@pytest.mark.parametrize("tree", [None, {"min_samples_leaf": 4}])
def test_a_numeric_column_constant_on_the_training_rows_gets_one_piecewise_linear_bin(tree):
    from src.models.nets.inputs import fit_piecewise_linear_bins

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    x[:, 1] = 7.0  # e.g. a column that varies only outside the training rows
    embedding = {"kind": "piecewise_linear", "n_bins": 8, "d_embedding": 4, "tree": tree}
    bins = fit_piecewise_linear_bins(embedding, x, torch.randn(64, 1), "regression")["bins"]
    assert bins[1] == [7.0, 8.0] and len(bins[0]) > 2 and len(bins[2]) > 2
    net = build_net({"_target_": "src.models.nets.mlp.MLP", "hidden": [8], "embedding": {**embedding, "bins": bins}}, 3, [], 1)
    assert torch.isfinite(net(x)).all()


@pytest.mark.parametrize(
    "net, key, value",
    [
        ("resnet", "d_hidden_multiplier", 0),  # built empty hidden layers before
        ("resnet", "d_hidden_multiplier", 0.001),  # int(8 * 0.001) units: none
        ("ft_transformer", "ffn_d_hidden_multiplier", "abc"),  # rtdl's int('abc' * 8) message before
    ],
)
def test_a_hidden_width_multiplier_that_gives_no_unit_is_refused_in_one_line(net, key, value):
    from src.errors import UserError

    with pytest.raises(UserError, match=rf"^model\.net\.{key} must be a number > 0 giving at least one hidden unit"):
        build_net({**NETS[net], key: value}, 3, [], 1)


def test_tabm_bin_settings_are_refused_in_one_line_before_or_during_fitting():
    from src.errors import UserError
    from src.models.nets.tabm import TabM

    x, y = torch.randn(64, 3), torch.randint(0, 2, (64, 1)).float()
    with pytest.raises(UserError, match=r"^model\.net\.n_bins must be an integer >= 2; got 1$"):
        TabM.fit_to_training_rows(x, {"n_bins": 1}, y, "binary")
    with pytest.raises(UserError, match=r"^model\.net\.tree: The 'min_samples_leaf' parameter"):  # scikit-learn's words
        TabM.fit_to_training_rows(x, {"n_bins": 4, "tree": {"min_samples_leaf": 0}}, y, "binary")
    with pytest.raises(UserError, match=r"^model\.net\.tree must be null or a mapping"):
        TabM.fit_to_training_rows(x, {"n_bins": 4, "tree": 64}, y, "binary")


def test_a_users_module_that_fails_to_import_is_named_with_its_own_error_not_as_a_missing_class(tmp_path, monkeypatch):
    from src.errors import UserError
    from src.models.nets.build import project_class

    (tmp_path / "needs_a_package.py").write_text("import a_package_not_installed\nclass Net: ...\n")
    (tmp_path / "mistyped.py").write_text("class Net(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=r"importing needs_a_package failed: ModuleNotFoundError: .*a_package_not_installed"):
        project_class("needs_a_package.Net", "model.net._target_")
    with pytest.raises(UserError, match=r"importing mistyped failed: SyntaxError: .*mistyped.py, line 1"):
        project_class("mistyped.Net", "model.module")
    assert project_class("no_such_module_here.Net", "model.net._target_") is None  # a typo: the caller's own message
    assert project_class("src.models.nets.mlp.NoSuchNet", "model.net._target_") is None


def test_a_bug_in_a_nets_constructor_is_raised_as_itself_with_the_line_that_raised_it(make_config, monkeypatch):
    from src.models.nets.mlp import MLP
    from src.train import train

    def constructor_with_a_typo(self, *args, **kwargs):
        raise NameError("name 'widht' is not defined")

    monkeypatch.setattr(MLP, "__init__", constructor_with_a_typo)
    with pytest.raises(NameError, match="widht") as raised:  # was Hydra's one line, without the file and line
        train(make_config("trainer.max_epochs=1"))
    assert raised.traceback[-1].name == "constructor_with_a_typo"


def test_a_foreign_null_setting_is_told_to_replace_the_node_since_hydra_cannot_delete_a_null_key():
    from src.errors import UserError
    from src.models.nets.build import check_settings

    def net(n_num_features, hidden=16): ...

    with pytest.raises(UserError, match=r"model.net.embedding is not a setting .* replace the node: '~model.net' '\+model.net="):
        check_settings(net, {"hidden": 8, "embedding": None}, "model.net", "MyNet")
    with pytest.raises(UserError, match=r"drop it with ~model.net.norm$"):  # a key with a value can be deleted
        check_settings(net, {"hidden": 8, "norm": "batch"}, "model.net", "MyNet")


def test_a_users_net_whose_constructor_lacks_a_shape_argument_is_refused_in_one_line(monkeypatch):
    import types

    from torch import nn

    from src.errors import UserError

    class Tiny(nn.Module):  # no cat_cardinalities
        def __init__(self, n_num_features, n_outputs=1, hidden=8):
            super().__init__()
            self.f = nn.Linear(n_num_features, n_outputs)

    class Open(Tiny):  # **kwargs takes whatever the template passes
        def __init__(self, n_num_features, n_outputs=1, hidden=8, **kwargs):
            super().__init__(n_num_features, n_outputs, hidden)

    module = types.ModuleType("src.models.nets.users_tiny")
    module.Tiny, module.Open = Tiny, Open
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(UserError) as error:
        build_net({"_target_": "src.models.nets.users_tiny.Tiny", "hidden": 8}, 3, [], 1)
    message = str(error.value)
    assert "model.net._target_=" in message and "\n" not in message
    assert "n_num_features, cat_cardinalities, n_outputs" in message and message.endswith("lacks cat_cardinalities")
    assert build_net({"_target_": "src.models.nets.users_tiny.Open", "hidden": 8}, 3, [], 1).f.in_features == 3
