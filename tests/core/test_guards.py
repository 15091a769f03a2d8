"""Refuse instead of guessing: grids, sample counts, duplicate and constant factors, overflow."""

import numpy as np
import pandas as pd
import pytest

from core import guards
from core.errors import SoilMetalError
from core.science.network import n_params
from core.science.selection import pearson_r
from core.science.transfer import parse_beta_grid


def test_grid_size_limit_and_finite_values():
    assert len(parse_beta_grid("0:1:0.0001")) == guards.MAX_GRID_VALUES == 10001
    with pytest.raises(SoilMetalError, match="10,002 values; at most 10,001"):
        parse_beta_grid("0:1.0001:0.0001")
    with pytest.raises(SoilMetalError, match="finite"):
        parse_beta_grid("0:inf:0.1")
    with pytest.raises(SoilMetalError, match="finite"):
        parse_beta_grid("0,1,inf")
    with pytest.raises(SoilMetalError, match="at most"):
        parse_beta_grid(",".join(["0.5"] * 10002))


def test_sample_rule_follows_the_weight_count():
    paper = n_params(7, 4)                       # 7 factors, 4 hidden neurons
    assert paper == 37 and guards.minimum_training_samples(paper) == 19
    assert guards.minimum_training_samples(n_params(20, 4)) == 45   # 89 weights
    assert guards.minimum_training_samples(n_params(1, 1)) == guards.MIN_TRUSTED_TRAINING_SAMPLES
    assert guards.check_training_samples(35, paper) == 19
    with pytest.raises(SoilMetalError, match="3 training samples for a network with 89 weights"):
        guards.check_training_samples(3, n_params(20, 4))
    warnings = []
    guards.check_training_samples(3, 89, allow=True, warn=warnings.append)
    assert len(warnings) == 1 and "not recommended" in warnings[0]


def test_duplicate_names_and_constant_factors():
    assert guards.duplicates(["NDVI", "NDVI", "B4", "B4", "B2"]) == ["NDVI", "B4"]
    with pytest.raises(SoilMetalError, match="NDVI given more than once"):
        guards.check_unique_names(["NDVI", "NDVI", "B4"])
    with pytest.raises(SoilMetalError, match="same value at every sample"):
        guards.check_factors_vary(pd.DataFrame({"K": [7.0, 7.0, 7.0]}))
    warnings = []
    guards.check_factors_vary(pd.DataFrame({"K": [7.0] * 3, "A": [1.0, 2.0, 3.0]}), warnings.append)
    assert len(warnings) == 1 and "K" in warnings[0]


def test_pearson_r_survives_values_near_the_float_range():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    y = x[:, 0] * 2 + rng.normal(size=40)
    expected = [np.corrcoef(x[:, j], y)[0, 1] for j in range(3)]
    np.testing.assert_allclose(pearson_r(x * 1e300, y), expected, rtol=1e-10)
    np.testing.assert_allclose(pearson_r(x, y * 1e300), expected, rtol=1e-10)
