"""The pollution indices against a background: Igeo and CF values, undefined pixels, a bad
background refused."""

import math

import numpy as np
import pytest

from core.errors import SoilMetalError
from core.science.pollution_index import contamination_factor, geoaccumulation_index


def test_contamination_factor_and_igeo():
    content = np.array([[21.4, 42.8, np.nan], [0.0, -5.0, 96.3]])
    background = 21.4
    cf = contamination_factor(content, background)
    igeo = geoaccumulation_index(content, background)
    assert cf.shape == igeo.shape == content.shape
    assert cf[0, 1] == pytest.approx(42.8 / 21.4)
    assert cf[1, 0] == 0.0
    assert math.isnan(cf[0, 2]) and math.isnan(cf[1, 1])
    assert igeo[0, 0] == pytest.approx(math.log2(1 / 1.5))
    assert igeo[1, 2] == pytest.approx(math.log2(96.3 / (1.5 * 21.4)))
    assert np.isnan(igeo[1, 0]) and np.isnan(igeo[1, 1]) and np.isnan(igeo[0, 2])
    # Igeo = log2(CF / 1.5) wherever both are defined.
    both = np.isfinite(igeo)
    np.testing.assert_allclose(igeo[both], np.log2(cf[both] / 1.5))


@pytest.mark.parametrize("background", [0, -2, float("nan"), "abc", None])
def test_bad_background_raises(background):
    with pytest.raises(SoilMetalError, match="positive number"):
        contamination_factor([1.0], background)
    with pytest.raises(SoilMetalError, match="positive number"):
        geoaccumulation_index([1.0], background)
