"""experiment=housing_tuned beats the lesson's regressor by a margin (slow: `make test-all` or `pytest -m slow`)."""

import pytest

from src.train import train
from tests.conftest import needs_housing


@pytest.mark.slow
@needs_housing
def test_tuned_housing_regressor_reaches_r2_083_on_the_lessons_split(make_config):
    result = train(make_config("experiment=housing_tuned", "seed=0"))
    assert result.test["test_r2"] >= 0.83
    assert result.wall_time_s < 600
