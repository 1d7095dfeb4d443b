"""experiment=housing_tuned gives its documented figures (slow: `make test-all` or `pytest -m slow`)."""

import pytest

from src.train import train
from tests.conftest import needs_housing
from tests.support.documented import check_documented


@pytest.mark.slow
@needs_housing
def test_tuned_housing_regressor_gives_the_documented_figures(make_config):
    result = train(make_config("experiment=housing_tuned", "seed=0"))
    assert result.test["test_r2"] > 0.83  # what makes it the tuned one: well above the lesson's 0.7354
    check_documented(result, "housing_tuned", 0)
