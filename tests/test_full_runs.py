"""Full default runs give the documented figures (docs/results.md, written by `make results`); slow: `make test-all`
or `pytest -m slow`."""

import pytest

from src.train import train
from tests.conftest import needs_housing
from tests.support.documented import TOLERANCE, check_documented


@pytest.mark.slow
def test_cancer_default_run_gives_the_documented_figures(make_config):
    result = train(make_config("experiment=cancer", "seed=0"))
    assert result.test["test_acc"] == pytest.approx(0.9912, abs=TOLERANCE)  # the lesson's figure: 113 of 114 test rows
    check_documented(result, "cancer", 0)


@pytest.mark.slow
@needs_housing
def test_housing_default_run_gives_the_documented_figures(make_config):
    check_documented(train(make_config("experiment=housing", "seed=0")), "housing", 0)


@pytest.mark.slow
def test_penguins_run_gives_the_documented_figures(make_config):
    result = train(make_config("experiment=penguins", "seed=0"))
    check_documented(result, "penguins", 0)


@pytest.mark.slow
@needs_housing
def test_lightgbm_baseline_gives_the_documented_figures(tmp_path):
    from src.baseline import baseline
    from tests.conftest import compose_config

    result = baseline(compose_config("experiment=housing", "seed=0", output_dir=tmp_path, config_name="baseline"))
    check_documented(result, "lightgbm", 0)


@pytest.mark.slow
@pytest.mark.minutes
@needs_housing
def test_housing_best_gives_the_documented_figures(make_config):
    # the longest test: the recipe the quality figures rest on
    check_documented(train(make_config("experiment=housing_best", "seed=0")), "housing_best", 0)
