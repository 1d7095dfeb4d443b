"""Random states survive a checkpoint: a resumed run draws the numbers the uninterrupted run drew."""

import random

import numpy as np
import torch

from src.runs.rng_state import collect_rng_state, restore_rng_state
from src.train import train

DRAWS = "+callbacks.draws._target_=tests.support.probes.RandomDraws"


def draw() -> list[float]:
    return [random.random(), float(np.random.rand()), float(np.random.randn()), float(torch.rand(1)), float(torch.randn(1))]


def test_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    np.random.randn()  # leave a cached Gaussian in NumPy's state: it is part of the state too
    torch.save({"rng": collect_rng_state()}, tmp_path / "state.ckpt")
    expected = draw()
    draw()  # move every generator on
    restore_rng_state(torch.load(tmp_path / "state.ckpt", weights_only=True)["rng"])
    assert draw() == expected


def test_a_resumed_run_draws_what_the_uninterrupted_run_drew(make_config, tmp_path):
    whole, parts = tmp_path / "whole.txt", tmp_path / "parts.txt"
    train(make_config("trainer.max_epochs=6", DRAWS, f"+callbacks.draws.path={whole}", subdir="whole"))

    cut = make_config("trainer.max_epochs=3", DRAWS, f"+callbacks.draws.path={parts}", subdir="cut")
    train(cut)
    run_dir = tmp_path / "cut"
    (run_dir / "metrics.json").unlink()  # what a SIGKILL after epoch 3 leaves: checkpoints, no metrics.json
    last = f"ckpt_path={run_dir}/checkpoints/last.ckpt"
    train(make_config("trainer.max_epochs=6", DRAWS, f"+callbacks.draws.path={parts}", last, subdir="cut"))

    assert parts.read_text().splitlines() == whole.read_text().splitlines()  # epochs 1-3, then 4-6 after resuming
