"""The large-table benchmark's epoch timer runs the default Lightning path on a generated table."""

import pytest

from benchmarks.data_loading import ms_per_epoch, write_table


@pytest.mark.slow
def test_the_epoch_timer_trains_the_default_path_on_a_generated_csv(tmp_path):
    csv = write_table(tmp_path / "small.csv", rows=2_000)
    assert ms_per_epoch(csv, 2_000, epochs=3) > 0
