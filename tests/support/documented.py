"""The documented figures: what `make results` measured and wrote into docs/results.json (and docs/results.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results.json"
# docs/results.md shows 4 decimals; on the machine that measured them the runs are bit-exact, elsewhere (another
# CPU's kernels) the last float bits may differ: the figures still agree to what the page shows
TOLERANCE = 1e-4


def documented_run(experiment: str, seed: int) -> dict:
    if not RESULTS.is_file():
        pytest.fail(f"{RESULTS} not found: `make results` measures the documented figures and writes it")
    results = json.loads(RESULTS.read_text())
    if results["overrides"]:
        pytest.fail(f"{RESULTS} holds shortened runs ({' '.join(results['overrides'])}): run `make results` without overrides")
    runs = [run for run in results["runs"] if run["experiment"] == experiment and run["seed"] == seed and not run["error"]]
    if not runs:
        pytest.fail(f"{RESULTS} has no {experiment} run on seed {seed}: add it to conf/results.yaml and run `make results`")
    return runs[0]


def check_documented(result, experiment: str, seed: int) -> None:
    """The run gives the page's figures: the same epochs, and every test metric within TOLERANCE."""
    documented = documented_run(experiment, seed)
    assert (result.best_epoch, result.stopped_epoch) == (documented["best_epoch"], documented["stopped_epoch"])
    assert result.test == pytest.approx(documented["test"], abs=TOLERANCE)
