"""Regression metrics against hand computations."""

import math

import numpy as np
import pytest

from core.science.metrics import mae, mre, r2, regression_metrics, rmse


def test_hand_computed_example():
    obs = [1.0, 2.0, 3.0, 4.0]
    pred = [1.5, 2.0, 2.0, 5.0]
    # errors 0.5, 0, -1, 1
    metrics = regression_metrics(obs, pred)
    assert metrics["RMSE"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))   # 0.75
    assert metrics["MAE"] == pytest.approx(2.5 / 4)
    assert metrics["MRE"] == pytest.approx((0.5 / 1 + 0 / 2 + 1 / 3 + 1 / 4) / 4)
    # mean 2.5: SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5, SS_res = 2.25
    assert metrics["R2"] == pytest.approx(1 - 2.25 / 5)
    assert metrics["N"] == 4
    assert set(metrics) == {"RMSE", "MRE", "MAE", "R2", "N"}


def test_against_loops_on_random_data():
    rng = np.random.default_rng(0)
    obs = rng.uniform(10, 100, 50)
    pred = obs + rng.normal(0, 8, 50)
    mean = sum(obs) / 50
    assert rmse(obs, pred) == pytest.approx(math.sqrt(sum((p - o) ** 2 for o, p in zip(obs, pred)) / 50))
    assert mae(obs, pred) == pytest.approx(sum(abs(p - o) for o, p in zip(obs, pred)) / 50)
    assert mre(obs, pred) == pytest.approx(sum(abs(p - o) / o for o, p in zip(obs, pred)) / 50)
    assert r2(obs, pred) == pytest.approx(
        1 - sum((p - o) ** 2 for o, p in zip(obs, pred)) / sum((o - mean) ** 2 for o in obs))


def test_perfect_prediction():
    obs = np.array([3.0, 5.0, 9.0])
    metrics = regression_metrics(obs, obs.copy())
    assert metrics["RMSE"] == 0.0 and metrics["MRE"] == 0.0 and metrics["R2"] == 1.0


def test_missing_pairs_zero_observations_and_constant_obs():
    metrics = regression_metrics([1.0, np.nan, 2.0, 0.0], [2.0, 5.0, np.nan, 1.0])
    assert metrics["N"] == 2                      # (1, 2) and (0, 1)
    assert metrics["MRE"] == pytest.approx(1.0)   # obs 0 has no relative error
    assert metrics["RMSE"] == pytest.approx(1.0)
    assert math.isnan(r2([2.0, 2.0], [1.0, 3.0]))
    assert math.isnan(regression_metrics([], [])["RMSE"])
    with pytest.raises(ValueError):
        rmse([1.0, 2.0], [1.0])
