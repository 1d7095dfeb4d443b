"""The same seed gives the same run, to the last bit, as the README promises."""

import pytest
import torch

from src.train import train


def weights(run_dir) -> dict[str, torch.Tensor]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("runner", ["lightning", "plain"])
def test_the_same_seed_twice_gives_the_same_results_bit_for_bit(make_config, tmp_path, runner):
    first, second = (train(make_config("trainer.max_epochs=25", "seed=3", f"runner={runner}", subdir=d)) for d in ("a", "b"))
    # exact equality: the losses of every epoch, the decisions and every test metric
    for name in ("train_loss", "val_loss", "test", "matrices"):
        assert getattr(first, name) == getattr(second, name), name
    assert (first.best_epoch, first.stopped_epoch) == (second.best_epoch, second.stopped_epoch)
    if runner == "lightning":
        assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    other = train(make_config("trainer.max_epochs=25", "seed=4", f"runner={runner}", subdir="c"))
    assert other.val_loss != first.val_loss  # the seed is what fixes the run


def test_steps_per_execution_leaves_the_trained_weights_bit_for_bit_the_same(make_config, tmp_path):
    whole = train(make_config("trainer.max_epochs=15", subdir="whole"))
    cut = train(make_config("trainer.max_epochs=15", "data.steps_per_execution=3", subdir="cut"))
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "cut"))
    # the epoch losses are means summed in another order: equal to float32 rounding, not always to the bit
    assert cut.train_loss == pytest.approx(whole.train_loss, rel=1e-6)
    assert cut.best_epoch == whole.best_epoch
