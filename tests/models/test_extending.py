"""docs/extending.md's promise: a third architecture is one class and one YAML, and it trains, checkpoints and reloads.

The test writes the guide's two files into the project (a checkpoint only ever rebuilds classes under `src.`,
so a net has to live there), runs them, and removes them again.
"""

import importlib
import os
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import CONF, ROOT

GUIDE = ROOT / "docs" / "extending.md"


def guide_code_blocks() -> tuple[str, str]:
    """The guide's Python class and its YAML, exactly as a reader would copy them."""
    text = GUIDE.read_text()
    python = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    yaml = re.search(r"```yaml\n(.*?)```", text, re.DOTALL).group(1)
    return "\n".join(line.removeprefix("   ") for line in python.splitlines()), "\n".join(
        line.removeprefix("   ") for line in yaml.splitlines()
    )


@pytest.fixture
def new_net():
    """The guide's net under a name no other file uses; both files are removed afterwards."""
    name = f"linear_test_{os.getpid()}"
    python, yaml = guide_code_blocks()
    module_path = ROOT / "src" / "models" / "nets" / f"{name}.py"
    yaml_path = CONF / "model" / "net" / f"{name}.yaml"
    module_path.write_text(python)
    yaml_path.write_text(yaml.replace("src.models.nets.linear.", f"src.models.nets.{name}."))
    importlib.invalidate_caches()
    try:
        yield name
    finally:
        module_path.unlink()
        yaml_path.unlink()
        sys.modules.pop(f"src.models.nets.{name}", None)


def test_a_new_net_is_one_class_and_one_yaml(new_net, make_config, tmp_path):
    from hydra import compose, initialize_config_dir

    from src.eval import evaluate
    from src.runs.checkpoints.read import load_saved_run
    from src.train import train

    cfg = make_config(f"model/net={new_net}", "trainer.max_epochs=5", "model.optimizer.lr=0.01")
    result = train(cfg)
    assert result.test["test_acc"] > 0.9  # logistic regression does well on breast cancer

    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    saved = load_saved_run(best)
    assert type(saved.model.net).__module__ == f"src.models.nets.{new_net}"
    assert saved.model.hparams["net"] == {"_target_": f"src.models.nets.{new_net}.Linear", "categorical": "onehot"}
    with initialize_config_dir(str(CONF), version_base="1.3"):
        eval_cfg = compose("eval", overrides=[f"ckpt_path={best}", f"paths.output_dir={tmp_path / 'eval'}"])
    assert evaluate(eval_cfg)["test"] == pytest.approx(result.test, rel=1e-6)


def test_the_guides_logger_yaml_builds_its_logger(tmp_path):
    """The guide's logger file, copied into conf/logger/, is picked with logger=<name> and logs into the run folder."""
    from src.reporting.loggers import build_loggers
    from tests.conftest import compose_config

    text = GUIDE.read_text().split("## A new logger", 1)[1]
    yaml = re.search(r"```yaml\n(.*?)```", text, re.DOTALL).group(1)
    path = CONF / "logger" / f"guide_test_{os.getpid()}.yaml"
    path.write_text(yaml)
    try:
        cfg = compose_config(f"logger={path.stem}", output_dir=tmp_path)
        [logger] = build_loggers(cfg)
    finally:
        path.unlink()
    assert type(logger).__name__ == "CSVLogger" and Path(logger.log_dir) == tmp_path / "csv_copy"


USERS_NET = '''
import torch
from torch import nn


class Wide(nn.Module):
    """A user's net whose settings share names with the shipped nets' but not their types."""

    def __init__(self, n_num_features, cat_cardinalities=(), n_outputs=1, hidden=16, dropout=(0.1, 0.2)):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_num_features, hidden), nn.Dropout(dropout[0]), nn.ReLU(), nn.Dropout(dropout[1]), nn.Linear(hidden, n_outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
'''


def test_a_users_net_takes_any_settings_even_names_the_shipped_nets_check(make_config):
    from torch import nn

    from src.train import build_datamodule, build_model, train

    name = f"wide_test_{os.getpid()}"
    module_path = ROOT / "src" / "models" / "nets" / f"{name}.py"
    module_path.write_text(USERS_NET)
    importlib.invalidate_caches()
    try:
        net = f"{{_target_: src.models.nets.{name}.Wide, hidden: 8, dropout: [0.1, 0.2]}}"
        overrides = ["~model/net", f"+model.net={net}", "trainer.max_epochs=2"]
        cfg = make_config(*overrides)
        model = build_model(cfg, build_datamodule(cfg))
        # an int `hidden` and a list `dropout` reach the user's constructor as given; its nn.Dropout is left as it is
        assert model.net.layers[0].out_features == 8
        assert [type(m) for m in model.net.modules() if isinstance(m, nn.Dropout)] == [nn.Dropout, nn.Dropout]
        assert [m.p for m in model.net.modules() if isinstance(m, nn.Dropout)] == [0.1, 0.2]
        assert train(make_config(*overrides)).test
    finally:
        module_path.unlink()
        sys.modules.pop(f"src.models.nets.{name}", None)


@pytest.mark.parametrize(
    "experiment, wrong, returned, expected",
    [
        ("cancer", lambda out: out.squeeze(1), "(1,)", "(1, 1)"),  # a binary classifier's (batch,)
        ("housing", lambda out: out.expand(-1, 3), "(1, 3)", "(1, 1)"),  # a regressor's three columns
        ("penguins", lambda out: out[:, :1], "(1, 1)", "(1, 3)"),  # n_outputs ignored for three classes
    ],
)
def test_a_net_of_the_wrong_output_shape_is_refused_in_one_line_before_training(
    make_config, monkeypatch, experiment, wrong, returned, expected
):
    # it trained a whole epoch on a silently broadcast loss, then failed deep in the metrics
    from src.errors import UserError
    from src.models.nets.mlp import MLP
    from src.train import train
    from tests.conftest import HOUSING_CACHE

    if experiment == "housing" and not HOUSING_CACHE.is_file():
        pytest.skip("California housing cache not found (set SCIKIT_LEARN_DATA)")
    forward = MLP.forward
    monkeypatch.setattr(MLP, "forward", lambda self, x: wrong(forward(self, x)))
    with pytest.raises(UserError) as error:
        train(make_config(f"experiment={experiment}", "trainer.max_epochs=1"))
    assert str(error.value) == (
        f"model.net._target_=src.models.nets.mlp.MLP returned outputs of shape {returned} for 1 row(s); "
        f"expected (batch, n_outputs) = {expected}, or (batch, k, n_outputs) for an ensemble"
    )
