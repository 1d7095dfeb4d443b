"""Both runners on one config, and what "the same decisions" means: the parity tests' comparison."""

import pytest

from src.train import train

REL = 1e-6  # docs/parity.md: within a relative 1e-6


def run_both(make_config, *overrides):
    lightning = train(make_config(*overrides, "runner=lightning", subdir="lightning"))
    plain = train(make_config(*overrides, "runner=plain", subdir="plain"))
    return lightning, plain


def assert_same_decisions(lightning, plain):
    assert (lightning.best_epoch, lightning.stopped_epoch) == (plain.best_epoch, plain.stopped_epoch)
    assert lightning.train_loss == pytest.approx(plain.train_loss, rel=REL)
    assert lightning.val_loss == pytest.approx(plain.val_loss, rel=REL)
    assert lightning.best_val_loss == pytest.approx(plain.best_val_loss, rel=REL)
    assert lightning.test.keys() == plain.test.keys()
    for name in lightning.test:
        assert lightning.test[name] == pytest.approx(plain.test[name], rel=REL, abs=1e-9), name
    assert lightning.matrices == plain.matrices
