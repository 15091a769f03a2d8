"""Outlier rules: IQR fences, z-score (plain and robust), planted maxima, edge cases."""

import math

import numpy as np
import pytest

from core.errors import SoilMetalError
from core.science.outliers import METHODS, find_outliers, max_possible_zscore


def planted_sample(n=40, seed=2, planted_index=17, planted_value=200.0):
    """Normal content around 30 mg/kg with one planted maximum."""
    values = np.random.default_rng(seed).normal(30.0, 5.0, size=n)
    values[planted_index] = planted_value
    return values


def test_methods_in_enum_order():
    assert METHODS == ("none", "iqr", "zscore")


@pytest.mark.parametrize("k", [1.5, 3.0])
def test_iqr_matches_tukey_fences(k):
    values = planted_sample()
    result = find_outliers(values, "iqr", k)
    q1, q3 = np.percentile(values, [25, 75])
    expected = (values < q1 - k * (q3 - q1)) | (values > q3 + k * (q3 - q1))
    np.testing.assert_array_equal(result.mask, expected)
    assert result.mask[17]
    assert result.upper == pytest.approx(q3 + k * (q3 - q1))
    index, value, reason = next(o for o in result.outliers if o[0] == 17)
    assert value == 200.0
    assert reason.startswith(f"above Q3 + {k:g} x IQR (")
    assert f"{q3 + k * (q3 - q1):.4g}" in reason


def test_iqr_default_is_1_5_and_3_flags_no_more():
    values = planted_sample()
    default = find_outliers(values, "iqr")
    assert default.threshold == 1.5
    far = find_outliers(values, "iqr", 3.0)
    assert np.all(default.mask | ~far.mask)  # far-out set is a subset


def test_low_outlier_reason():
    values = planted_sample(planted_value=-100.0)
    result = find_outliers(values, "iqr")
    reason = dict((i, r) for i, _, r in result.outliers)[17]
    assert reason.startswith("below Q1 - 1.5 x IQR (")


def test_zscore_matches_mean_and_sample_std():
    values = planted_sample()
    result = find_outliers(values, "zscore")
    z = (values - values.mean()) / values.std(ddof=1)
    np.testing.assert_array_equal(result.mask, np.abs(z) > 3.0)
    assert result.mask[17]
    reason = dict((i, r) for i, _, r in result.outliers)[17]
    assert f"z = {z[17]:.2f}" in reason


def test_zscore_masking_with_few_samples_is_reported_and_robust_catches_it():
    values = np.array([20.0, 21.0, 22.0, 19.0, 20.5, 21.5, 18.5, 1000.0])
    plain = find_outliers(values, "zscore", 3.0)
    z_max = np.max(np.abs(values - values.mean()) / values.std(ddof=1))
    assert z_max <= max_possible_zscore(len(values)) < 3.0
    assert not plain.mask.any()
    assert "8 samples" in plain.note and "cannot flag" in plain.note
    robust = find_outliers(values, "zscore", 3.0, robust=True)
    np.testing.assert_array_equal(np.flatnonzero(robust.mask), [7])
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    assert robust.upper == pytest.approx(median + 3.0 * mad)


def test_max_possible_zscore_is_attained_by_one_extreme_value():
    n = 10
    values = np.zeros(n)
    values[0] = 1e6
    z = (values[0] - values.mean()) / values.std(ddof=1)
    assert z == pytest.approx(max_possible_zscore(n))


def test_none_flags_nothing():
    result = find_outliers(planted_sample(), "none")
    assert not result.mask.any() and result.outliers == []


def test_nan_values_are_ignored_and_not_flagged():
    values = planted_sample()
    values[[3, 5]] = np.nan
    result = find_outliers(values, "iqr")
    assert not result.mask[3] and not result.mask[5]
    finite = values[np.isfinite(values)]
    q1, q3 = np.percentile(finite, [25, 75])
    assert result.upper == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert result.mask[17]


def test_enum_index_selects_method():
    values = planted_sample()
    by_index = find_outliers(values, 1)
    by_name = find_outliers(values, "iqr")
    np.testing.assert_array_equal(by_index.mask, by_name.mask)
    assert by_index.method == "iqr"


def test_bad_method_and_threshold_raise():
    with pytest.raises(SoilMetalError, match="none, iqr, zscore"):
        find_outliers([1.0, 2.0, 3.0], "grubbs")
    with pytest.raises(SoilMetalError, match="positive"):
        find_outliers([1.0, 2.0, 3.0], "iqr", -1)


def test_constant_and_tiny_samples():
    constant = find_outliers(np.full(10, 5.0), "zscore")
    assert not constant.mask.any()
    tiny = find_outliers([1.0, 100.0], "iqr")
    assert not tiny.mask.any() and "skipped" in tiny.note


def test_table_lists_outliers():
    result = find_outliers(planted_sample(), "iqr")
    table = result.table()
    assert list(table.columns) == ["index", "value", "reason"]
    assert len(table) == result.count == int(result.mask.sum())
    assert math.isclose(table.set_index("index").loc[17, "value"], 200.0)


def test_removing_the_highest_values_is_flagged_as_possible_hot_spots():
    from core.science.outliers import hot_spot_warning
    values = np.array([20.0, 22, 25, 21, 24, 23, 26, 180, 240])
    result = find_outliers(values, "iqr")
    removed = [(f"S{i}", v, why) for i, v, why in result.outliers]
    kept = values[~result.mask]
    assert {sid for sid, _, _ in removed} == {"S7", "S8"}      # the two highest
    text = hot_spot_warning(removed, kept)
    assert "removed the 2 highest measured value(s): S8 (240 mg/kg), S7 (180 mg/kg)" in text
    assert "LOG_TARGET" in text and "hot spots" in text
    low = [("L", 1.0, "below Q1 - 1.5 x IQR")]
    assert hot_spot_warning(low, kept) == ""                  # a low outlier is no hot spot
