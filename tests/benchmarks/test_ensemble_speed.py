"""The ensemble benchmark times TabM and the single MLP on the same epochs, warm-up left out."""

from benchmarks.ensemble_speed import time_ensemble_epochs


def test_tabm_and_the_mlp_are_timed_side_by_side():
    result = time_ensemble_epochs(k=2, d_block=8, n_blocks=1, epochs=1, rows=1024)
    assert result["settings"]["epochs_timed"] == 1
    assert all(result[name]["cpu_ms"] > 0 and result[name]["wall_ms"] > 0 for name in ("mlp", "tabm_k2"))
    assert result["tabm_over_mlp_cpu"] > 0
