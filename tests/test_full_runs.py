"""Full default runs reach the lesson's level (slow: `make test-all` or `pytest -m slow`)."""

import pytest

from src.train import train
from tests.conftest import needs_housing


@pytest.mark.slow
def test_cancer_default_run_reaches_the_lessons_accuracy(make_config):
    result = train(make_config("experiment=cancer", "seed=0"))
    assert result.test["test_acc"] >= 0.98


@pytest.mark.slow
@needs_housing
def test_housing_default_run_reaches_the_lessons_r2(make_config):
    result = train(make_config("experiment=housing", "seed=0"))
    assert result.test["test_r2"] >= 0.70
