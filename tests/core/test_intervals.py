"""Calibrated intervals and exceedance: coverage and calibration on synthetic data with known noise."""

import math

import numpy as np
import pytest
from scipy import stats

from core.errors import SoilMetalError
from core.science.intervals import (
    ResidualDistribution,
    check_coverage,
    check_threshold,
    distribution_of,
    observed_coverage,
)
from core.model_file import Model
from core.science.network import n_params


def expected_conformal_coverage(n, coverage):
    """(k_hi - k_lo) / (n + 1) for continuous residuals: the exact marginal coverage of the
    equal-tailed order-statistic interval (rank of a new error uniform on 1..n+1)."""
    alpha = 1 - coverage
    k_lo = math.floor((n + 1) * alpha / 2 + 1e-9)
    k_hi = math.ceil((n + 1) * (1 - alpha / 2) - 1e-9)
    return (k_hi - k_lo) / (n + 1)


@pytest.mark.parametrize("log_target", [False, True])
def test_marginal_coverage_is_nominal_on_skewed_noise(log_target):
    rng = np.random.default_rng(1)
    trials, n = 4000, 49
    hits = 0
    for _ in range(trials):
        # Skewed noise (gamma, shifted): equal tails must still hold.
        noise = rng.gamma(2.0, 1.0, n + 1) - 2.0
        noise = noise * 0.3 if log_target else noise * 10
        f = rng.uniform(1.0, 4.0) if log_target else rng.uniform(20.0, 80.0)
        truth = f + noise[-1]
        distribution = ResidualDistribution(noise[:n], log_target=log_target)
        lower, upper = distribution.interval(np.array([f]), 0.9)
        y = math.exp(truth) if log_target else max(truth, 0.0)
        hits += lower[0] <= y <= upper[0]
    observed = hits / trials
    expected = expected_conformal_coverage(n, 0.9)
    tolerance = 3 * math.sqrt(expected * (1 - expected) / trials)
    assert expected >= 0.9
    assert abs(observed - expected) < tolerance, (observed, expected, tolerance)


def test_bounds_approach_the_gaussian_quantiles_with_many_residuals():
    rng = np.random.default_rng(2)
    sigma = 5.0
    distribution = ResidualDistribution(rng.normal(0, sigma, 4000))
    lower, upper = distribution.interval(np.array([50.0, 2.0, np.nan]), 0.9)
    z = stats.norm.ppf(0.95) * sigma
    assert abs(lower[0] - (50 - z)) < 0.5 and abs(upper[0] - (50 + z)) < 0.5
    assert lower[1] == 0.0            # clamped: no negative content
    assert np.isnan(lower[2]) and np.isnan(upper[2])
    # Held-out points of the same noise: coverage within a binomial tolerance of 0.9.
    centre = rng.uniform(20, 80, 20000)
    truth = centre + rng.normal(0, sigma, centre.size)
    low, high = distribution.interval(centre, 0.9)
    share = np.mean((truth >= low) & (truth <= high))
    assert abs(share - 0.9) < 3 * math.sqrt(0.09 / 20000) + 0.01


def test_exceedance_is_calibrated():
    rng = np.random.default_rng(3)
    trials, n = 6000, 99
    probabilities, exceeded = np.empty(trials), np.empty(trials, dtype=bool)
    for trial in range(trials):
        residuals = rng.normal(0, 1.0, n)
        centre = rng.uniform(-2.5, 2.5)
        probabilities[trial] = ResidualDistribution(residuals).exceedance(np.array([centre + 100]), 100.0)[0]
        exceeded[trial] = centre + rng.normal() > 0
    bins = np.digitize(probabilities, np.linspace(0, 1, 11)[1:-1])
    for index in range(10):
        chosen = bins == index
        if chosen.sum() < 100:
            continue
        mean_p = probabilities[chosen].mean()
        tolerance = 3 * math.sqrt(mean_p * (1 - mean_p) / chosen.sum()) + 0.01
        assert abs(exceeded[chosen].mean() - mean_p) < tolerance, (index, exceeded[chosen].mean(), mean_p)


def test_exceedance_against_the_known_distribution_and_its_bounds():
    rng = np.random.default_rng(4)
    distribution = ResidualDistribution(rng.normal(0, 10, 3000))
    centre = np.array([20.0, 45.0, 60.0, 200.0, np.nan])
    p = distribution.exceedance(centre, 50.0)
    truth = 1 - stats.norm.cdf((50 - centre[:3]) / 10)
    np.testing.assert_allclose(p[:3], truth, atol=0.03)
    assert p[3] == pytest.approx((3000 + 0.5) / 3001) and np.isnan(p[4])
    # Log scale: the threshold is compared on log(mg/kg).
    log_dist = ResidualDistribution(rng.normal(0, 0.4, 3000), log_target=True)
    p_log = log_dist.exceedance(np.log([30.0, 80.0]), 50.0)
    np.testing.assert_allclose(p_log, 1 - stats.norm.cdf((np.log(50) - np.log([30, 80])) / 0.4), atol=0.03)


def test_extra_variance_convolves_the_residuals():
    distribution = ResidualDistribution(np.zeros(9))
    centre = np.array([40.0, 50.0, 65.0])
    sd = np.array([5.0, 5.0, 0.0])
    p = distribution.exceedance(centre, 50.0, extra_sd=sd)
    expected = (9 * (1 - stats.norm.cdf((50 - centre) / np.where(sd > 0, sd, 1))) + 0.5) / 10
    expected[2] = (9 + 0.5) / 10
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    rng = np.random.default_rng(5)
    skewed = ResidualDistribution(rng.normal(0, 3, 40))
    np.testing.assert_allclose(skewed.exceedance(centre, 50.0, extra_sd=0.0), skewed.exceedance(centre, 50.0))


def test_too_few_residuals_and_bad_values_name_the_fix():
    distribution = ResidualDistribution(np.arange(10.0))
    with pytest.raises(SoilMetalError, match=r"cannot be bounded with 10 .*at most 0\.818"):
        distribution.interval(np.array([1.0]), 0.9)
    assert distribution.quantile_offsets(0.8)[1] == 9.0
    for bad in (0, 1, 1.5, -0.2, "x", None):
        with pytest.raises(SoilMetalError, match="COVERAGE must be a share between 0 and 1"):
            check_coverage(bad)
    for bad in ("abc", 0, -5, float("nan"), float("inf")):
        with pytest.raises(SoilMetalError, match="THRESHOLD must be a content in mg/kg"):
            check_threshold(bad)


def make_model(log_target=False, seed=0):
    rng = np.random.default_rng(seed)
    return Model(factor_names=["A", "B"], x_min=[0, 0], x_max=[1, 1],
                 y_min=math.log(10) if log_target else 10, y_max=math.log(90) if log_target else 90,
                 members=[rng.normal(0, 0.5, n_params(2, 3))], hidden=3, log_target=log_target)


def test_model_without_cv_is_refused_with_the_fix():
    model = make_model()
    with pytest.raises(SoilMetalError, match="written before soilmetal.*retrain it.*to get prediction intervals"):
        distribution_of(model, "prediction intervals")
    model.samples = {"x": [0.0]}
    with pytest.raises(SoilMetalError, match="without cross-validation.*prediction intervals.*CV = 2"):
        distribution_of(model, "prediction intervals")


@pytest.mark.parametrize("log_target", [False, True])
def test_observed_coverage_counts_samples_inside(log_target):
    rng = np.random.default_rng(6)
    model = make_model(log_target)
    model.cv = {"residual": list(rng.normal(0, 0.3 if log_target else 8, 60))}
    x = rng.uniform(0, 1, (200, 2))
    centre = model.predict(x)[0]
    observed = centre * np.exp(rng.normal(0, 0.3, 200)) if log_target else centre + rng.normal(0, 8, 200)
    observed[0] = np.nan
    result = observed_coverage(model, x, observed, 0.9)
    # Independent: the bounds from numpy quantile positions of the sorted residuals.
    r = np.sort(model.cv["residual"])
    lo, hi = r[math.floor(61 * 0.05) - 1], r[math.ceil(61 * 0.95) - 1]
    if log_target:
        lower, upper = centre * math.exp(lo), centre * math.exp(hi)
    else:
        lower, upper = np.maximum(centre + lo, 0), centre + hi
    inside = (observed[1:] >= lower[1:]) & (observed[1:] <= upper[1:])
    assert result["n"] == 199 and result["inside"] == inside.sum()
    assert result["coverage"] == pytest.approx(inside.mean())


def test_gabp_with_cross_validation_covers_held_out_points_of_known_noise():
    from core.science.cv_gabp import cross_validate_gabp
    from core.science.gabp import GABPSettings, train_gabp
    sigma = 6.0

    def truth(x):
        return 50 + 20 * np.tanh(2 * x[:, 0] - 1) + 10 * x[:, 1]

    coverages = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 1, (120, 2))
        y = truth(x) + rng.normal(0, sigma, 120)
        settings = GABPSettings(seed=seed, hidden=3, generations=20)
        model = train_gabp(x, y, ["A", "B"], settings)
        model.cv = cross_validate_gabp(x, y, rng.uniform(0, 1000, (120, 2)), ["A", "B"], settings,
                                       "random", 5)
        held = rng.uniform(0, 1, (4000, 2))
        coverages.append(observed_coverage(model, held, truth(held) + rng.normal(0, sigma, 4000), 0.9)["coverage"])
    # Conditional on one calibration set of 120 samples, coverage varies by about
    # sqrt(0.09 / 120) = 0.03; the mean of five data sets by about 0.012.
    assert all(0.8 <= c <= 0.98 for c in coverages), coverages
    assert abs(np.mean(coverages) - 0.9) < 0.04, coverages
