"""The run's report table as a person reads it."""

from src.reporting.results import importance_rows, print_report


def test_a_diverged_or_tiny_metric_prints_as_a_short_number_not_a_row_of_digits(capsys):
    test = {"test_mse": 1.0813666920702193e34, "test_mae": 3.2e-07, "test_r2": 0.51234, "test_zero": 0.0}
    importance = {
        "mean": {"a": -4.25e32, "b": 0.0123},
        "std": {"a": 2.2e31, "b": 0.0},
        "metric": "r2",
        "repeats": 3,
        "rows": 10,
        "seconds": 0.1,
    }
    print_report(test, {}, importance_rows(importance), {}, [], "title")
    out = capsys.readouterr().out
    for shown in ("1.0814e+34", "3.2000e-07", "0.5123", "0.0000", "a: -4.2500e+32 ± 2.2000e+31", "b: +0.0123 ± 0.0000"):
        assert shown in out
    assert "10813666" not in out and "0.0000003" not in out
