"""The ensemble mean and spread against numpy's mean and population std of the members' outputs."""

import numpy as np
import pytest

from core.science.ensemble import ensemble_moments


@pytest.mark.parametrize("members", [1, 2, 5])
def test_moments_equal_numpy_mean_and_std(members):
    outputs = np.random.default_rng(members).normal(0.0, 2.0, (members, 7))
    mean, spread, centre = ensemble_moments(list(outputs), log_target=False)
    np.testing.assert_allclose(mean, outputs.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(spread, outputs.std(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(centre, mean)


def test_log_target_mean_is_the_geometric_mean_and_spread_is_in_mg_per_kg():
    logs = np.log(np.array([[10.0, 40.0], [40.0, 10.0], [20.0, 20.0]]))
    mean, spread, centre = ensemble_moments(list(logs), log_target=True)
    np.testing.assert_allclose(mean, [20.0, 20.0])
    np.testing.assert_allclose(spread, np.exp(logs).std(axis=0))
    np.testing.assert_allclose(centre, logs.mean(axis=0))


def test_a_single_network_has_zero_spread_never_minus_zero_and_nan_stays_nan():
    _, spread, _ = ensemble_moments([np.array([-3.0, 0.0, 2.0, np.nan])], log_target=False)
    assert np.array_equal(spread[:3], [0.0, 0.0, 0.0]) and not np.signbit(spread[:3]).any()
    assert np.isnan(spread[3])
