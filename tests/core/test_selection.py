"""Factor selection: Pearson r, p-values, iterative VIF, exclusions and the MLR check."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.errors import SoilMetalError
from core.science.selection import mlr_fit, pearson_r, select_factors, variance_inflation_factors
from support import REAL_DATA

MEUSE = str(REAL_DATA / "meuse/ucdavis_meuse.csv")
MEUSE_FACTORS = ["elev", "dist", "om", "x", "y"]


def vif_from_inverse_correlation(frame):
    """Independent VIF: the diagonal of the inverse correlation matrix."""
    return np.diag(np.linalg.inv(np.corrcoef(frame.to_numpy(float), rowvar=False)))


def synthetic(n=80, seed=1):
    """Factors a, b (= a + small noise), c, weak, noise; metal driven by a and c."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    c = rng.normal(size=n)
    frame = pd.DataFrame({
        "a": a,
        "b": a + 0.05 * rng.normal(size=n),
        "c": c,
        "weak": rng.normal(size=n),
        "noise": rng.normal(size=n),
    })
    y = 3.0 * a + 2.0 * c + 0.5 * frame["weak"] + rng.normal(scale=0.5, size=n)
    return frame, pd.Series(y, name="Cu")


def row(result, name):
    """The table row of one factor as a dict."""
    table = result.table.set_index("factor")
    return table.loc[name].to_dict()


def test_r_and_p_match_numpy_and_scipy_on_synthetic_data():
    frame, y = synthetic()
    result = select_factors(frame, y, min_abs_r=0.3, max_vif=10)
    for name in frame.columns:
        expected_r = np.corrcoef(frame[name], y)[0, 1]
        expected_p = stats.pearsonr(frame[name], y)[1]
        assert row(result, name)["r"] == pytest.approx(expected_r, abs=1e-12)
        assert row(result, name)["p_value"] == pytest.approx(expected_p, rel=1e-6, abs=1e-300)


def test_iterative_vif_drops_one_of_a_collinear_pair():
    frame, y = synthetic()
    result = select_factors(frame, y, min_abs_r=0.3, max_vif=10)
    candidates = [n for n in frame.columns if abs(np.corrcoef(frame[n], y)[0, 1]) >= 0.3]
    assert {"a", "b", "c"} <= set(candidates)
    first_vifs = dict(zip(candidates, vif_from_inverse_correlation(frame[candidates])))
    worst = max((v, n) for n, v in first_vifs.items())[1]
    assert worst in ("a", "b")
    dropped = row(result, worst)
    assert not dropped["selected"]
    assert dropped["reason"].startswith("VIF ")
    assert "> 10 (dropped at step 1)" in dropped["reason"]
    assert dropped["vif"] == pytest.approx(first_vifs[worst], rel=1e-8)
    survivor = "b" if worst == "a" else "a"
    assert survivor in result.selected
    # Final VIFs of the kept set equal the inverse-correlation diagonal.
    final = vif_from_inverse_correlation(frame[result.selected])
    np.testing.assert_allclose(result.table.set_index("factor").loc[result.selected, "vif"],
                               final, rtol=1e-8)
    assert all(v <= 10 for v in final)
    assert result.selected == [n for n in frame.columns if n in result.selected]
    assert result.selected_string == ",".join(result.selected)


def test_low_r_factor_dropped_with_reason():
    frame, y = synthetic()
    result = select_factors(frame, y, min_abs_r=0.3)
    r_noise = abs(np.corrcoef(frame["noise"], y)[0, 1])
    assert r_noise < 0.3
    info = row(result, "noise")
    assert not info["selected"]
    assert info["reason"] == f"|r| {r_noise:.2f} < 0.30"
    assert math.isnan(info["vif"])


def test_always_include_keeps_low_r_and_high_vif_factors():
    frame, y = synthetic()
    result = select_factors(frame, y, min_abs_r=0.3, max_vif=10, always_include=["noise", "b"])
    assert "noise" in result.selected and "b" in result.selected
    assert row(result, "noise")["reason"].startswith("always included")
    assert "|r|" in row(result, "noise")["reason"]
    # b is forced in, so its collinear twin a is the one dropped.
    assert "a" not in result.selected
    assert "dropped at step" in row(result, "a")["reason"]


def test_always_include_can_exceed_max_vif_and_stays():
    rng = np.random.default_rng(7)
    a = rng.normal(size=50)
    frame = pd.DataFrame({"a": a, "b": a + 0.01 * rng.normal(size=50)})
    y = a + 0.1 * rng.normal(size=50)
    result = select_factors(frame, y, always_include=("a", "b"))
    assert result.selected == ["a", "b"]
    vifs = vif_from_inverse_correlation(frame)
    assert vifs.min() > 10
    assert "VIF" in row(result, "a")["reason"] and "always included" in row(result, "a")["reason"]


def test_constant_and_duplicate_factors_excluded_without_error():
    frame, y = synthetic()
    frame["const"] = 4.2
    frame["copy_of_c"] = frame["c"]
    result = select_factors(frame, y)
    assert row(result, "const")["reason"] == "constant at the samples"
    assert row(result, "copy_of_c")["reason"] == "duplicate of c"
    assert not row(result, "const")["selected"] and not row(result, "copy_of_c")["selected"]
    assert math.isnan(row(result, "const")["r"])
    assert "const" not in result.correlation_matrix.columns
    assert "c" in result.selected


def test_perfect_collinearity_gives_inf_vif_not_a_crash():
    rng = np.random.default_rng(3)
    n = 40
    a, b = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"a": a, "b": b, "sum": a + b})
    y = a + b + 0.1 * rng.normal(size=n)
    np.testing.assert_array_equal(np.isinf(variance_inflation_factors(frame.to_numpy())),
                                  [True, True, True])
    result = select_factors(frame, y, min_abs_r=0.1)
    dropped = result.table[~result.table["selected"]]
    assert len(dropped) == 1
    assert "inf" in dropped["reason"].iloc[0]
    assert np.all(np.isfinite(result.table.loc[result.table["selected"], "vif"]))


def test_unknown_always_include_lists_available_names():
    frame, y = synthetic()
    with pytest.raises(SoilMetalError) as info:
        select_factors(frame, y, always_include=["ASPECT"])
    message = str(info.value)
    assert "ASPECT" in message
    for name in frame.columns:
        assert name in message


def test_too_few_samples_says_how_many():
    frame, y = synthetic(n=2)
    with pytest.raises(SoilMetalError, match=r"Only 2 samples.*at least 3"):
        select_factors(frame, y)


def test_too_few_samples_for_vif_says_how_many():
    rng = np.random.default_rng(5)
    n = 5
    base = rng.normal(size=n)
    frame = pd.DataFrame({f"f{i}": base + 0.3 * rng.normal(size=n) for i in range(4)})
    with pytest.raises(SoilMetalError, match=r"at least 6 samples, and there are 5"):
        select_factors(frame, base, min_abs_r=0.0)


def test_missing_values_drop_rows_and_all_missing_factor():
    frame, y = synthetic()
    frame["empty"] = np.nan
    frame.loc[3, "a"] = np.nan
    y = y.copy()
    y[7] = np.nan
    result = select_factors(frame, y)
    assert result.n_samples == len(frame) - 2
    assert result.n_dropped == 2
    assert row(result, "empty")["reason"] == "no value at any sample"
    keep = np.ones(len(frame), bool)
    keep[[3, 7]] = False
    expected = np.corrcoef(frame.loc[keep, "c"], y[keep])[0, 1]
    assert row(result, "c")["r"] == pytest.approx(expected, abs=1e-12)


def independent_ols(x, y):
    """R^2, RMSE and leave-one-out RMSE by explicit normal equations and refitting."""
    n = len(y)
    design = np.column_stack([np.ones(n), x])
    coef = np.linalg.solve(design.T @ design, design.T @ y)
    residual = y - design @ coef
    r2 = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    loo = []
    for i in range(n):
        keep = np.arange(n) != i
        c = np.linalg.solve(design[keep].T @ design[keep], design[keep].T @ y[keep])
        loo.append(y[i] - design[i] @ c)
    return r2, np.sqrt(np.mean(residual ** 2)), np.sqrt(np.mean(np.square(loo)))


def test_mlr_with_and_without_always_included():
    frame, y = synthetic()
    result = select_factors(frame, y, always_include=["noise"])
    mlr = result.mlr.set_index("model")
    with_set = mlr.loc["selected"]
    without_set = mlr.loc["without always-included"]
    assert with_set["factors"].split(",") == result.selected
    assert "noise" not in without_set["factors"].split(",")
    for fit in (with_set, without_set):
        names = fit["factors"].split(",")
        r2, rmse, rmse_loo = independent_ols(frame[names].to_numpy(), y.to_numpy())
        assert fit["r2"] == pytest.approx(r2, rel=1e-10)
        assert fit["rmse"] == pytest.approx(rmse, rel=1e-10)
        assert fit["rmse_loo"] == pytest.approx(rmse_loo, rel=1e-8)
        assert fit["n_factors"] == len(names)
        assert fit["n_samples"] == len(y)
    k = len(result.selected)
    expected_adj = 1 - (1 - with_set["r2"]) * (len(y) - 1) / (len(y) - k - 1)
    assert with_set["adj_r2"] == pytest.approx(expected_adj, rel=1e-10)


def test_mlr_of_an_empty_set_is_the_mean():
    y = np.array([1.0, 4.0, 2.0, 7.0])
    fit = mlr_fit(np.zeros((4, 0)), y)
    assert fit["n_factors"] == 0
    assert fit["r2"] == pytest.approx(0.0, abs=1e-12)
    assert fit["rmse"] == pytest.approx(np.std(y))
    loo = [y[i] - np.delete(y, i).mean() for i in range(4)]
    assert fit["rmse_loo"] == pytest.approx(np.sqrt(np.mean(np.square(loo))))


def test_empty_selection_handled():
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"u": rng.normal(size=30), "v": rng.normal(size=30)})
    y = rng.normal(size=30)
    result = select_factors(frame, y, min_abs_r=0.99)
    assert result.selected == []
    assert result.mlr.loc[0, "n_factors"] == 0
    assert result.mlr.loc[0, "r2"] == pytest.approx(0.0, abs=1e-12)


def test_pearson_r_of_constant_is_nan():
    r = pearson_r(np.column_stack([np.ones(5), np.arange(5.0)]), np.arange(5.0) ** 2)
    assert math.isnan(r[0])
    assert r[1] == pytest.approx(np.corrcoef(np.arange(5.0), np.arange(5.0) ** 2)[0, 1])


@pytest.mark.parametrize("metal", ["copper", "lead"])
def test_meuse_r_p_and_vif_match_direct_computation(metal):
    data = pd.read_csv(MEUSE, na_values=["NA"])
    complete = data.dropna(subset=MEUSE_FACTORS + [metal])
    assert len(complete) == 153  # om has two NAs
    result = select_factors(data[MEUSE_FACTORS], data[metal], min_abs_r=0.3, max_vif=10)
    assert result.n_samples == 153 and result.n_dropped == 2
    assert result.metal_name == metal
    for name in MEUSE_FACTORS:
        expected_r, expected_p = stats.pearsonr(complete[name], complete[metal])
        assert row(result, name)["r"] == pytest.approx(
            np.corrcoef(complete[name], complete[metal])[0, 1], abs=1e-12)
        assert row(result, name)["p_value"] == pytest.approx(expected_p, rel=1e-6, abs=1e-300)
        assert (row(result, name)["selected"] and abs(expected_r) >= 0.3) or \
            not row(result, name)["selected"]
    assert result.selected  # elev, dist and om correlate with both metals
    np.testing.assert_allclose(
        result.table.set_index("factor").loc[result.selected, "vif"],
        vif_from_inverse_correlation(complete[result.selected]), rtol=1e-8)
    expected_matrix = np.corrcoef(complete[MEUSE_FACTORS + [metal]].to_numpy(float),
                                  rowvar=False)
    np.testing.assert_allclose(result.correlation_matrix.to_numpy(), expected_matrix,
                               atol=1e-12)
    assert list(result.correlation_matrix.columns) == MEUSE_FACTORS + [metal]


def test_meuse_vif_with_collinear_coordinates_forced_in():
    data = pd.read_csv(MEUSE, na_values=["NA"])
    complete = data.dropna(subset=MEUSE_FACTORS)
    frame = complete[MEUSE_FACTORS].copy()
    # A near copy of x makes the VIF screening act on real data.
    frame["x_km"] = frame["x"] / 1000.0 + np.random.default_rng(0).normal(0, 1e-3, len(frame))
    result = select_factors(frame, complete["copper"], min_abs_r=0.0, max_vif=10,
                            always_include=["x"])
    assert "x" in result.selected and "x_km" not in result.selected
    np.testing.assert_allclose(
        result.table.set_index("factor").loc[result.selected, "vif"],
        vif_from_inverse_correlation(frame[result.selected]), rtol=1e-8)
