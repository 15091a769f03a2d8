"""Figures a reader trusts at a glance: plain tick labels on log axes, readable text, a map
thumbnail in the map's classes, and the Igeo table through class 6."""

import numpy as np
import pandas as pd
import pytest

from core.reports.html import figure_png
from core.text import format_number
from core.reports.figures import READABLE_POINTS, correlation_matrix_figure, curves, map_figure, quantity_label
from core.workflows.statistics import run_content_statistics
from rasters import write_raster


def tick_texts(fig, which="y"):
    """The drawn major tick labels of the first axes."""
    figure_png(fig)   # draw, so that the labels exist
    axis = fig.axes[0].yaxis if which == "y" else fig.axes[0].xaxis
    return [t.get_text() for t in axis.get_majorticklabels() if t.get_text()]


@pytest.mark.parametrize("values", [[19.0, 14.0, 11.0, 9.5, 9.1], [400.0, 60.0, 9.0, 2.2, 1.1]])
def test_log_axes_have_plain_tick_labels(values):
    texts = tick_texts(curves({"RMSE": values}, "generation", "RMSE (mg/kg)", logy=True))
    assert texts, "no tick labels on the log axis"
    for text in texts:
        assert "times" not in text and "^" not in text and "$" not in text, text
        float(text.replace("\u2212", "-"))


def test_correlation_matrix_text_is_readable_with_many_factors():
    k = 20
    rng = np.random.default_rng(1)
    matrix = pd.DataFrame(np.corrcoef(rng.normal(size=(k, 50))),
                          columns=[f"F{i}" for i in range(k)], index=[f"F{i}" for i in range(k)])
    fig = correlation_matrix_figure(matrix)
    sizes = [text.get_fontsize() for text in fig.axes[0].texts]
    assert len(sizes) == k * k and min(sizes) >= READABLE_POINTS
    assert all(len(text.get_text()) <= 5 for text in fig.axes[0].texts)


def test_map_thumbnail_uses_the_given_classes_and_colours():
    values = np.array([[10.0, 35.0], [55.0, np.nan]])
    colours = ["#1a9850", "#ffffbf", "#d73027"]
    fig = map_figure(values, [0, 30, 50, 70], colours, title=quantity_label("Cu"))
    image = fig.axes[0].images[0]
    rgba = image.cmap(image.norm(values))
    expected = [[colours[0], colours[1]], [colours[2], None]]
    from matplotlib.colors import to_hex
    for r in range(2):
        for c in range(2):
            if expected[r][c] is None:
                assert np.ma.is_masked(image.get_array()[r, c])
            else:
                assert to_hex(rgba[r, c]) == expected[r][c]
    assert fig.axes[0].get_title() == "Cu (mg/kg)"
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["0", "30", "50", "70"]


def test_igeo_table_lists_every_class_through_6(tmp_path):
    rng = np.random.default_rng(4)
    values = rng.uniform(20.0, 90.0, (40, 50))   # Igeo with B = 21.4 stays below 2
    write_raster(tmp_path / "cu.tif", [values], ["Cu (mg/kg)"])
    run = run_content_statistics(tmp_path / "cu.tif", reference_mean=21.4)
    table = run.index_classes
    assert table["class_number"].tolist() == list(range(7))
    assert table["percent"].iloc[3:].sum() == 0
    igeo = np.log2(values / (1.5 * 21.4))
    assert table["percent"].iloc[0] == pytest.approx(100 * (igeo < 0).mean())


@pytest.mark.parametrize("value, text", [(13.6321, "13.6"), (0.20812, "0.208"), (88.77, "88.8"),
                                         (110.0, "110"), (1234.5, "1234")])
def test_three_significant_digits(value, text):
    assert format_number(value) == text
