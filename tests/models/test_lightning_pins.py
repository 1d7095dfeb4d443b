"""The private Lightning state the fast path and its callbacks touch: a Lightning upgrade that moves it fails here."""

import lightning as L
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import MixedPrecision


def test_the_private_attributes_we_read_still_exist():
    # src/models/fast_steps.py: is a Trainer attached? (LightningModule.trainer raises when none is)
    assert hasattr(L.LightningModule(), "_trainer")


def test_the_public_attributes_the_fast_steps_build_on_still_exist():
    # the torch optimizer inside Lightning's wrapper, stepped directly for every step but a group's last
    assert isinstance(LightningOptimizer.__dict__.get("optimizer"), property)
    # 16-mixed: the precision plugin's GradScaler, used for the steps that do not go through the wrapper
    assert "scaler" in vars(MixedPrecision("bf16-mixed", "cpu"))
    # callbacks read what they monitor from this dict; the fast steps write the epoch's scalars into it
    assert isinstance(L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).callback_metrics, dict)
