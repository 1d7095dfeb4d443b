"""Shared fixtures: the real config composed with hydra.compose, shrunk to a few epochs in a tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
HOUSING_CACHE = Path(os.environ.get("SCIKIT_LEARN_DATA", Path.home() / "scikit_learn_data")) / "cal_housing_py3.pkz"

needs_housing = pytest.mark.skipif(
    not HOUSING_CACHE.is_file(), reason=f"California housing cache not found at {HOUSING_CACHE} (set SCIKIT_LEARN_DATA)"
)


def compose_config(
    *overrides: str, output_dir: Path | None = None, config_name: str = "train", return_hydra_config: bool = False
):
    """The project's real config with overrides; quiet, and writing into output_dir (with `hydra`, if asked)."""
    base = ["trainer.enable_progress_bar=false"]
    if output_dir is not None:
        base.append(f"paths.output_dir={output_dir}")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config_name, overrides=[*base, *overrides], return_hydra_config=return_hydra_config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs of minutes first, then the other slow tests: `make test-all` hands out their files in this order to
    the cores' workers as they become free, so no long file starts last."""
    items.sort(key=lambda item: (item.get_closest_marker("minutes") is None, item.get_closest_marker("slow") is None))


@pytest.fixture
def make_config(tmp_path):
    def make(*overrides: str, subdir: str = "run"):
        return compose_config(*overrides, output_dir=tmp_path / subdir)

    return make


def run_module(module: str, *args: str, env: dict | None = None, cwd: Path = ROOT, timeout: int = 300):
    """Run `python -m module args` as a user would; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def cancer_run(tmp_path_factory):
    """One short cancer training run shared by the report, eval and predict tests: (run_dir, RunResult)."""
    from src.train import train

    run_dir = tmp_path_factory.mktemp("cancer_run")
    # lr 0.01 learns within a few epochs, so the run has a real best epoch and non-trivial predictions
    result = train(compose_config("trainer.max_epochs=8", "model.optimizer.lr=0.01", output_dir=run_dir))
    return run_dir, result


@pytest.fixture(scope="session")
def housing_run(tmp_path_factory):
    """One short housing training run (skipped without the California housing cache): (run_dir, RunResult)."""
    if not HOUSING_CACHE.is_file():
        pytest.skip(f"California housing cache not found at {HOUSING_CACHE} (set SCIKIT_LEARN_DATA)")
    from src.train import train

    run_dir = tmp_path_factory.mktemp("housing_run")
    result = train(compose_config("experiment=housing", "trainer.max_epochs=3", output_dir=run_dir))
    return run_dir, result
