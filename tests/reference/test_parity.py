"""The plain loop and Lightning's callbacks make the same decisions: same epochs, same losses, same test metrics.

Both runners share the DataModule, the model class, the optimizer and the metrics; the seed fixes the initial
weights and every epoch's shuffle. What remains is the loop, so any difference is a difference in decisions.
"""

from tests.conftest import needs_housing
from tests.support.parity import assert_same_decisions, run_both


def test_cancer_runners_agree_to_the_natural_early_stop(make_config):
    lightning, plain = run_both(make_config, "experiment=cancer", "seed=0")
    assert lightning.stopped_early and plain.stopped_early
    assert lightning.stopped_epoch == lightning.best_epoch + 100  # patience 100, Lightning's rule
    assert_same_decisions(lightning, plain)


@needs_housing
def test_housing_runners_agree_with_a_short_patience(make_config):
    lightning, plain = run_both(
        make_config, "experiment=housing", "seed=0", "trainer.max_epochs=60", "callbacks.early_stopping.patience=3"
    )
    assert_same_decisions(lightning, plain)


def test_runners_agree_when_the_epoch_is_cut_into_several_lightning_steps(make_config):
    lightning, plain = run_both(make_config, "experiment=cancer", "seed=1", "trainer.max_epochs=15", "data.steps_per_execution=3")
    assert_same_decisions(lightning, plain)
