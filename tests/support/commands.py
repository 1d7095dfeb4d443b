"""The eval and predict configs composed as their commands compose them."""

from hydra import compose, initialize_config_dir

from tests.conftest import CONF


def compose_eval(*overrides: str, output_dir):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("eval", overrides=[f"paths.output_dir={output_dir}", *overrides])


def compose_predict(*overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("predict", overrides=list(overrides))
