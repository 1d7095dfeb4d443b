"""The benchmark times what it says: both runners, every epoch but the first of each turn, in turns."""

from benchmarks.bench import EPOCHS_PER_TURN, time_pair


def test_both_runners_are_timed_on_the_same_epochs_taking_turns():
    epochs = 4 * EPOCHS_PER_TURN
    times = time_pair("cancer", epochs)
    timed = epochs - epochs // EPOCHS_PER_TURN  # each turn's first epoch starts with the other runner's caches
    assert len(times["plain"]) == len(times["lightning"]) == timed
    assert all(wall > 0 and cpu > 0 for runner in times.values() for wall, cpu in runner)
