"""The map classes in one place: round content breaks from the map's percentile range (what
the legend and contentstatistics' "auto" both use), and the standard index classes."""

import numpy as np
import pytest

from core.science import classes
from core.workflows.statistics import map_content_breaks, run_content_statistics
from rasters import write_raster


def test_content_breaks_are_round_and_cover_the_percentile_range():
    rng = np.random.default_rng(3)
    values = rng.normal(55.0, 12.0, size=(120, 130))
    values[:5] = np.nan
    values[60, 60] = 5000.0  # one extreme pixel must not stretch the classes
    breaks = classes.content_breaks(values)
    valid = values[np.isfinite(values)]
    low, high = np.sort(valid)[[int(0.01 * (valid.size - 1)), int(np.ceil(0.99 * (valid.size - 1)))]]
    assert breaks[0] <= low and breaks[-1] >= high
    steps = np.diff(breaks)
    assert np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-9
    assert 5 <= len(breaks) - 1 <= 10
    assert breaks[-1] < 1000
    assert classes.content_breaks(np.full((3, 3), np.nan)) == []


def test_standard_index_classes():
    assert classes.IGEO_CLASS_BREAKS == (0, 1, 2, 3, 4, 5)
    assert len(classes.IGEO_CLASS_NAMES) == len(classes.IGEO_COLOURS) == 7
    assert classes.IGEO_CLASS_NAMES[0] == "unpolluted"
    assert classes.IGEO_CLASS_NAMES[6] == "extremely polluted"
    assert classes.CF_CLASS_BREAKS == (1, 3, 6)
    assert len(classes.CF_CLASS_NAMES) == len(classes.CF_COLOURS) == 4


def test_colours_for_keeps_the_ramp_ends():
    palette = classes.colours_for(5, ("#000000", "#ffffff"))
    assert palette[0] == "#000000" and palette[-1] == "#ffffff"
    assert palette[2] in ("#808080", "#7f7f7f")


@pytest.mark.parametrize("value, text", [(110.0, "110"), (2.5, "2.5"), (1000.0, "1000"),
                                         (0.123456, "0.123"), (-20.0, "-20")])
def test_break_text_has_three_significant_digits(value, text):
    assert classes.break_text(value) == text


def test_auto_class_breaks_of_contentstatistics_are_the_legend_classes(tmp_path):
    rng = np.random.default_rng(5)
    values = rng.lognormal(np.log(40.0), 0.3, size=(90, 80))
    write_raster(tmp_path / "pb.tif", [values], ["Pb (mg/kg)"])
    run = run_content_statistics(tmp_path / "pb.tif", class_breaks="auto")
    expected = classes.nice_breaks(*np.percentile(values, [1, 99]))
    assert run.classes["lower"].tolist()[:len(expected) - 1] == pytest.approx(expected[:-1])
    assert map_content_breaks(tmp_path / "pb.tif") == pytest.approx(expected)
