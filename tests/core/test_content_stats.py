"""Block-wise content statistics, class tables, histogram and the Table 6 row."""

import math

import numpy as np
import pandas as pd
import pytest

from core.science.content_stats import (
    ContentAccumulator,
    aligned_histogram_edges,
    parse_class_breaks,
    reference_comparison,
)
from core.errors import SoilMetalError

BREAKS = [0.0, 30.0, 50.0, 70.0, 90.0, 110.0]


def content_map(shape=(230, 170), seed=4):
    """A lognormal Cu-like map with nodata holes, some values above 110 and below 0."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(50.0), 0.45, size=shape)
    values[rng.random(shape) < 0.1] = np.nan
    values[:12, :20] = np.nan  # a whole block of nodata
    rows, cols = shape
    values[rows - 30, 5] = -3.0
    values[rows // 2, cols // 2] = 110.0      # on the last break: counts in "90-110"
    values[rows // 2 + 1, cols // 2] = 30.0   # on an inner break: counts in "30-50"
    return values


def feed_in_blocks(accumulator, values, rows=(0, 12, 57, 150, 230), cols=(0, 20, 90, 170)):
    """Feed irregular blocks, the way raster windows arrive."""
    for r0, r1 in zip(rows, rows[1:]):
        for c0, c1 in zip(cols, cols[1:]):
            accumulator.update(values[r0:r1, c0:c1])


def expected_classes(valid, breaks, weights=None):
    """Independent class shares by explicit comparisons."""
    weights = np.ones_like(valid) if weights is None else weights
    total = weights.sum()
    rows = {f"< {breaks[0]:g}": valid < breaks[0], f"> {breaks[-1]:g}": valid > breaks[-1]}
    for i, (lo, hi) in enumerate(zip(breaks, breaks[1:])):
        last = i == len(breaks) - 2
        inside = (valid >= lo) & ((valid <= hi) if last else (valid < hi))
        rows[f"{lo:g}-{hi:g}"] = inside
    return {label: (int(mask.sum()), 100.0 * weights[mask].sum() / total)
            for label, mask in rows.items()}


def test_blockwise_statistics_equal_whole_array_numpy():
    values = content_map()
    accumulator = ContentAccumulator(BREAKS)
    feed_in_blocks(accumulator, values)
    result = accumulator.result()
    valid = values[np.isfinite(values)]
    assert result["count"] == valid.size
    assert result["min"] == valid.min() and result["max"] == valid.max()
    assert result["mean"] == pytest.approx(valid.mean(), rel=1e-12, abs=1e-9)
    assert result["std"] == pytest.approx(valid.std(), rel=1e-12, abs=1e-9)
    expected = expected_classes(valid, BREAKS)
    table = result["classes"].set_index("interval")
    for label, (count, percent) in expected.items():
        if count == 0:
            assert label not in table.index
        else:
            assert table.loc[label, "count"] == count
            assert table.loc[label, "percent"] == pytest.approx(percent, abs=1e-9)
    assert table["percent"].sum() == pytest.approx(100.0, abs=1e-9)
    assert list(table.index[:2]) == ["< 0", "0-30"] and table.index[-1] == "> 110"


def test_below_and_above_rows_only_when_present():
    accumulator = ContentAccumulator("0,30,50")
    accumulator.update(np.array([1.0, 10.0, 35.0, 50.0, np.nan]))
    labels = list(accumulator.result()["classes"]["interval"])
    assert labels == ["0-30", "30-50"]


def test_histogram_counts_match_numpy_histogram():
    values = content_map()
    accumulator = ContentAccumulator(BREAKS)
    feed_in_blocks(accumulator, values)
    histogram = accumulator.result()["histogram"]
    valid = values[np.isfinite(values)]
    edges = histogram["bin_edges"]
    expected, _ = np.histogram(valid, bins=edges)
    np.testing.assert_array_equal(histogram["counts"], expected)
    assert histogram["below"] == int((valid < edges[0]).sum())
    assert histogram["above"] == int((valid > edges[-1]).sum())
    assert histogram["counts"].sum() + histogram["below"] + histogram["above"] == valid.size


def test_histogram_edges_fall_on_class_breaks():
    edges = aligned_histogram_edges(BREAKS, 40)
    assert len(edges) - 1 >= 40
    for position in BREAKS:
        assert np.min(np.abs(edges - position)) < 1e-9
    pb_edges = aligned_histogram_edges([0, 30, 35, 40, 45, 50], 40)
    for position in [0, 30, 35, 40, 45, 50]:
        assert np.min(np.abs(pb_edges - position)) < 1e-9


def test_histogram_on_explicit_range_and_none_without_breaks():
    accumulator = ContentAccumulator((), histogram_bins=10, histogram_range=(0.0, 10.0))
    accumulator.update(np.arange(11.0))
    histogram = accumulator.result()["histogram"]
    np.testing.assert_array_equal(histogram["counts"], np.histogram(np.arange(11.0), 10,
                                                                    (0, 10))[0])
    plain = ContentAccumulator(())
    plain.update(np.arange(5.0))
    assert plain.result()["histogram"] is None
    assert plain.result()["classes"].empty


def test_large_offset_is_numerically_stable():
    rng = np.random.default_rng(9)
    values = 1e9 + rng.normal(0.0, 1.0, size=(400, 50))
    accumulator = ContentAccumulator(())
    for start in range(0, 400, 37):
        accumulator.update(values[start:start + 37])
    assert accumulator.result()["std"] == pytest.approx(values.std(), rel=1e-7)
    assert accumulator.result()["mean"] == pytest.approx(values.mean(), rel=1e-15)


def test_area_weighted_class_shares_and_exceedance():
    values = content_map(shape=(60, 40))
    # Per-row cell area, as in a geographic CRS.
    row_area = np.linspace(900.0, 700.0, 60)[:, None]
    accumulator = ContentAccumulator(BREAKS, thresholds=[43.6])
    for start in range(0, 60, 16):
        accumulator.update(values[start:start + 16], pixel_area=row_area[start:start + 16])
    result = accumulator.result()
    valid_mask = np.isfinite(values)
    weights = np.broadcast_to(row_area, values.shape)[valid_mask]
    valid = values[valid_mask]
    assert result["area"] == pytest.approx(weights.sum())
    table = result["classes"].set_index("interval")
    for label, (count, percent) in expected_classes(valid, BREAKS, weights).items():
        if count:
            assert table.loc[label, "percent"] == pytest.approx(percent, abs=1e-9)
            assert table.loc[label, "count"] == count
    expected_above = 100.0 * weights[valid > 43.6].sum() / weights.sum()
    assert result["percent_above"][43.6] == pytest.approx(expected_above, abs=1e-9)


def test_empty_map_raises():
    accumulator = ContentAccumulator(BREAKS)
    accumulator.update(np.full((4, 4), np.nan))
    with pytest.raises(SoilMetalError, match="no valid pixel"):
        accumulator.result()


@pytest.mark.parametrize("text, expected", [
    ("0,30,50,70,90,110", BREAKS),
    (" 0 ; 2.5, 1e2 ", [0.0, 2.5, 100.0]),
    ("-1,0", [-1.0, 0.0]),
    ("", []),
    ([0, 10], [0.0, 10.0]),
])
def test_parse_class_breaks(text, expected):
    assert parse_class_breaks(text) == expected


@pytest.mark.parametrize("text, message", [
    ("0,abc,50", "'abc' is not a number"),
    ("0,50,30", "30 follows 50"),
    ("0,30,30", "30 follows 30"),
    ("5", "At least two"),
    ("0,nan", "not a finite number"),
    ("0,,30", "is not a number"),
])
def test_parse_class_breaks_errors(text, message):
    with pytest.raises(SoilMetalError, match=message):
        parse_class_breaks(text)


def test_reference_comparison_row():
    values = content_map()
    reference_mean, reference_max = 21.4, 43.6  # Shaanxi Cu (paper Table 6)
    accumulator = ContentAccumulator(BREAKS, thresholds=[reference_max])
    feed_in_blocks(accumulator, values)
    stats = accumulator.result()
    row = reference_comparison(stats, reference_mean=reference_mean,
                               reference_max=reference_max, reference_min=6.8,
                               reference_std=7.74, name="Cu")
    valid = values[np.isfinite(values)]
    assert row["name"] == "Cu"
    assert row["mean_estimated"] == pytest.approx(valid.mean())
    assert row["ratio_of_means"] == pytest.approx(valid.mean() / reference_mean)
    assert row["percent_above_reference_max"] == pytest.approx(
        100.0 * (valid > reference_max).mean())
    assert row["min_reference"] == 6.8 and row["std_reference"] == 7.74
    frame = pd.DataFrame([row])
    assert frame.loc[0, "max_estimated"] == valid.max()
    without = reference_comparison(stats)
    assert math.isnan(without["ratio_of_means"])
    assert math.isnan(without["percent_above_reference_max"])
    with pytest.raises(ValueError, match="thresholds"):
        reference_comparison(stats, reference_max=50.0)
