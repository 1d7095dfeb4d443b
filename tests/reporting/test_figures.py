"""The figures show what their titles promise: read back from the matplotlib objects, not from pixels."""

import subprocess
import sys
import warnings

import numpy as np

from src.reporting.figures import (
    confusion_matrix_figure,
    loss_curves_figure,
    predicted_vs_actual_figure,
    residuals_figure,
    save_figures,
)
from tests.conftest import ROOT


def test_loss_curves_are_log_scale_per_1_based_epoch_with_the_best_marked():
    train_loss, val_loss = [1.0, 0.1, 0.01, 0.02], [2.0, 0.5, 0.05, 0.3]
    ax = loss_curves_figure(train_loss, val_loss, best_epoch=3).axes[0]
    assert ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["train_loss"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(), val_loss)
    (best,) = [line for label, line in lines.items() if label.startswith("best epoch 3")]
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (3, 0.05)


def test_confusion_matrix_shows_counts_by_actual_row_and_predicted_column_with_class_names():
    ax = confusion_matrix_figure([[38, 1], [0, 75]], ["malignant", "benign"]).axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "38", (0, 1): "1", (1, 0): "0", (1, 1): "75"}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["malignant (0)", "benign (1)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["malignant (0)", "benign (1)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "actual")


def test_a_confusion_matrix_of_hundreds_of_classes_is_colours_with_some_class_names_not_written_counts():
    # 200 x 200 written counts took minutes to draw and could not be read
    n = 200
    counts = np.diag(np.arange(1, n + 1)).tolist()
    ax = confusion_matrix_figure(counts, [f"class {i}" for i in range(n)]).axes[0]
    assert len(ax.texts) == 0 and ax.images[0].get_array().shape == (n, n)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert 10 <= len(names) <= 20 and names[0] == "class 0 (0)" and names[1] == "class 10 (10)"


def test_regression_figures_have_the_identity_line_and_the_residuals():
    actual = np.array([1.0, 2.0, 3.0, 5.0])
    predicted = np.array([1.5, 1.5, 3.5, 4.0])
    ax = predicted_vs_actual_figure(actual, predicted, "price").axes[0]
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.column_stack([actual, predicted]))
    (identity,) = ax.get_lines()
    np.testing.assert_array_equal(identity.get_xdata(), identity.get_ydata())
    assert (min(identity.get_xdata()), max(identity.get_xdata())) == (1.0, 5.0)

    scatter, histogram = residuals_figure(actual, predicted).axes[:2]
    np.testing.assert_array_equal(scatter.collections[0].get_offsets()[:, 1], actual - predicted)
    assert sum(patch.get_height() for patch in histogram.patches) == len(actual)


def test_saved_figures_are_png_files(tmp_path):
    (path,) = save_figures({"loss_curves": loss_curves_figure([1.0, 0.5], [1.2, 0.6], 2)}, tmp_path / "figures")
    assert path == tmp_path / "figures" / "loss_curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_entry_point_does_not_import_matplotlib_to_start():
    code = "import sys, src.train; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_a_large_test_split_is_binned_and_every_row_counted():
    from matplotlib.collections import PolyCollection

    rng = np.random.default_rng(0)
    actual = rng.normal(size=200_000)
    predicted = actual + rng.normal(scale=0.3, size=actual.size)
    for fig in (predicted_vs_actual_figure(actual, predicted), residuals_figure(actual, predicted)):
        ax = fig.axes[0]
        (bins,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert bins.get_array().sum() == actual.size  # hexagons whose colours count the rows, not 200,000 dots


def test_class_labels_the_font_cannot_draw_are_told_in_one_line_not_a_warning_per_character(tmp_path, capsys):
    # matplotlib warned "Glyph 48372 (\N{HANGUL SYLLABLE BO}) missing from font(s) DejaVu Sans." for each character
    labels = ["보통", "우수"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_figures({"confusion_matrix": confusion_matrix_figure([[3, 1], [0, 5]], labels)}, tmp_path / "figures")
        save_figures({"loss_curves": loss_curves_figure([1.0, 0.5], [1.2, 0.6], 2)}, tmp_path / "figures")  # same run
        save_figures({"again": confusion_matrix_figure([[3, 1], [0, 5]], labels)}, tmp_path / "figures")
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    err = capsys.readouterr().err
    [line] = err.splitlines()
    assert line.startswith("warning: ") and "font" in line and all(c in line for c in "".join(labels)), err
