"""Empirical variogram and fit against gstat's published Meuse results, a brute-force binning,
known models recovered from their own semivariances, and the messages for bad input."""

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import SoilMetalError
from core.science.variogram import (
    MODELS,
    EmpiricalVariogram,
    VariogramModel,
    bounding_box_diagonal,
    empirical_variogram,
    fit_residual_variogram,
    fit_variogram,
)
from support import REAL_DATA

MEUSE = REAL_DATA / "meuse" / "ucdavis_meuse.csv"

# gstat's reference manual, ?variogram, Examples (sp's meuse, 155 samples):
# variogram(log(zinc) ~ 1, meuse): np, dist, gamma of the 15 default bins.
GSTAT_NP = [57, 299, 419, 457, 547, 533, 574, 564, 589, 543, 500, 477, 452, 457, 415]
GSTAT_DIST = [79.29244, 163.97367, 267.36483, 372.73542, 478.47670, 585.34058, 693.14526,
              796.18365, 903.14650, 1011.29177, 1117.86235, 1221.32810, 1329.16407,
              1437.25620, 1543.20248]
GSTAT_GAMMA = [0.1234479, 0.2162185, 0.3027859, 0.4121448, 0.4634128, 0.5646933, 0.5689683,
               0.6186769, 0.6471479, 0.6915705, 0.7033984, 0.6038770, 0.6517158, 0.5665318,
               0.5748227]
# variogram(log(zinc) ~ 1, meuse, width = 90, cutoff = 1300): np of the 15 bins.
GSTAT_NP_90 = [41, 212, 320, 371, 423, 458, 455, 466, 503, 480, 468, 460, 422, 408, 173]
GSTAT_DIST_90_LAST = 1280.65364


@pytest.fixture(scope="module")
def meuse():
    """x, y, log(zinc) of the 155 Meuse samples."""
    table = pd.read_csv(MEUSE)
    assert len(table) == 155
    return table["x"].to_numpy(float), table["y"].to_numpy(float), np.log(table["zinc"].to_numpy(float))


def test_meuse_empirical_variogram_is_gstats(meuse):
    x, y, z = meuse
    ev = empirical_variogram(x, y, z)
    assert ev.cutoff == pytest.approx(bounding_box_diagonal(x, y) / 3)
    assert ev.width == pytest.approx(ev.cutoff / 15)
    assert list(ev.np) == GSTAT_NP
    np.testing.assert_allclose(ev.dist, GSTAT_DIST, rtol=1e-6)
    np.testing.assert_allclose(ev.gamma, GSTAT_GAMMA, rtol=1e-6)


def test_meuse_bins_with_given_cutoff_and_width(meuse):
    x, y, z = meuse
    ev = empirical_variogram(x, y, z, cutoff=1300, width=90)
    assert list(ev.np) == GSTAT_NP_90
    assert ev.dist[-1] == pytest.approx(GSTAT_DIST_90_LAST, rel=1e-6)


def test_meuse_spherical_fit_within_5_percent_of_gstat(meuse):
    # fit.variogram(variogram(log(zinc) ~ 1, meuse), vgm("Sph")): nugget 0.0507, psill 0.5906, range 897.
    x, y, z = meuse
    ev, fit = fit_residual_variogram(x, y, z, "spherical")
    model = fit.model
    assert model.nugget == pytest.approx(0.0507, rel=0.05)
    assert model.psill == pytest.approx(0.5906, rel=0.05)
    assert model.range == pytest.approx(897, rel=0.05)
    assert fit.warning == ""
    assert not model.pure_nugget


def test_meuse_residual_variogram_of_linear_trend(meuse):
    # gstat ?variogram: fit.variogram(variogram(log(zinc) ~ x + y, meuse), vgm(1, "Sph", 700, 1))
    # gives Nug 0.08234213, Sph 0.38866509, range 1098.571 (on the OLS residuals).
    x, y, z = meuse
    design = np.column_stack([np.ones_like(x), x, y])
    residual = z - design @ np.linalg.lstsq(design, z, rcond=None)[0]
    ev, fit = fit_residual_variogram(x, y, residual)
    assert ev.gamma[0] == pytest.approx(0.1060834, rel=1e-5)
    assert fit.model.nugget == pytest.approx(0.08234213, rel=0.01)
    assert fit.model.psill == pytest.approx(0.38866509, rel=0.01)
    assert fit.model.range == pytest.approx(1098.571, rel=0.01)


def brute_force_bins(x, y, z, cutoff, width):
    """gstat's binning written out pair by pair: {bin: (np, sum dist, sum sq diff)}."""
    bins = {}
    for i in range(len(x)):
        for j in range(i):
            h = math.hypot(x[i] - x[j], y[i] - y[j])
            if h > cutoff:
                continue
            index = math.ceil(h / width) - 1 if h > 0 else 0
            n, s, q = bins.get(index, (0, 0.0, 0.0))
            bins[index] = (n + 1, s + h, q + (z[i] - z[j]) ** 2)
    return bins


def test_binning_against_pair_loop_with_duplicates_and_boundaries():
    rng = np.random.default_rng(3)
    # integer coordinates put many pairs exactly on bin boundaries (width 5), and two
    # duplicated locations give pairs at distance 0.
    x = rng.integers(0, 60, 40).astype(float)
    y = rng.integers(0, 60, 40).astype(float)
    x[5], y[5] = x[4], y[4]
    x[9], y[9] = x[8], y[8]
    z = rng.normal(size=40)
    ev = empirical_variogram(x, y, z, cutoff=50.0, width=5.0)
    bins = brute_force_bins(x, y, z, 50.0, 5.0)
    keys = sorted(bins)
    assert list(ev.np) == [bins[k][0] for k in keys]
    np.testing.assert_allclose(ev.dist, [bins[k][1] / bins[k][0] for k in keys])
    np.testing.assert_allclose(ev.gamma, [bins[k][2] / (2 * bins[k][0]) for k in keys])


def test_chunked_pairs_agree_with_one_chunk(monkeypatch):
    import core.science.variogram as variogram
    rng = np.random.default_rng(5)
    x, y, z = rng.uniform(0, 1000, 300), rng.uniform(0, 1000, 300), rng.normal(size=300)
    whole = empirical_variogram(x, y, z)
    monkeypatch.setattr(variogram, "_PAIR_CHUNK", 1000)
    chunked = empirical_variogram(x, y, z)
    np.testing.assert_array_equal(whole.np, chunked.np)
    np.testing.assert_allclose(whole.gamma, chunked.gamma)
    np.testing.assert_allclose(whole.dist, chunked.dist)


@pytest.mark.parametrize("name", MODELS)
def test_fit_recovers_a_model_from_its_own_semivariances(name):
    truth = VariogramModel(name, 0.2, 1.3, 300.0)
    dist = np.linspace(20, 900, 15)
    ev = EmpiricalVariogram(np.full(15, 100), dist, truth.semivariance(dist), 900.0, 60.0)
    fit = fit_variogram(ev, name)
    assert fit.model.nugget == pytest.approx(0.2, abs=1e-4)
    assert fit.model.psill == pytest.approx(1.3, rel=1e-4)
    assert fit.model.range == pytest.approx(300.0, rel=1e-4)


def test_model_shapes():
    h = np.array([0.0, 50.0, 100.0, 400.0])
    sph = VariogramModel("spherical", 0.1, 1.0, 100.0)
    np.testing.assert_allclose(sph.semivariance(h), [0.0, 0.1 + 0.75 - 0.0625, 1.1, 1.1])
    exp_ = VariogramModel("exponential", 0.0, 2.0, 100.0)
    np.testing.assert_allclose(exp_.semivariance(h), 2.0 * (1 - np.exp(-h / 100.0)))
    gau = VariogramModel("gaussian", 0.0, 2.0, 100.0)
    np.testing.assert_allclose(gau.semivariance(h), 2.0 * (1 - np.exp(-(h / 100.0) ** 2)))
    np.testing.assert_allclose(sph.covariance(h), 1.1 - sph.semivariance(h))
    assert exp_.practical_range == pytest.approx(300.0)
    assert exp_.semivariance(300.0) == pytest.approx(0.95 * 2.0, rel=0.01)


def test_fixed_parameters_are_kept(meuse):
    x, y, z = meuse
    ev = empirical_variogram(x, y, z)
    fit = fit_variogram(ev, "spherical", nugget=0.0)
    assert fit.model.nugget == 0.0 and fit.model.psill > 0
    fixed = fit_variogram(ev, "spherical", range_=897.0)
    assert fixed.model.range == 897.0
    assert fixed.model.psill == pytest.approx(0.5906, rel=0.01)
    all_fixed = fit_variogram(ev, "spherical", nugget=0.05, psill=0.6, range_=900.0)
    assert all_fixed.model.to_dict() == {"model": "spherical", "nugget": 0.05, "psill": 0.6,
                                         "range": 900.0}


def test_white_noise_is_pure_nugget():
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 5000, 400), rng.uniform(0, 5000, 400)
    ev, fit = fit_residual_variogram(x, y, rng.normal(size=400))
    assert fit.model.pure_nugget
    assert fit.model.sill == pytest.approx(1.0, rel=0.15)
    assert "no spatial structure" in fit.model.describe()


def test_round_trip_and_rescale():
    model = VariogramModel("exponential", 0.1, 0.4, 250.0)
    assert VariogramModel.from_dict(model.to_dict()) == model
    scaled = model.scaled(1.0)
    assert scaled.sill == pytest.approx(1.0)
    assert scaled.nugget_ratio == pytest.approx(model.nugget_ratio)
    assert scaled.range == model.range
    with pytest.raises(SoilMetalError, match="retrain"):
        VariogramModel.from_dict({"model": "spherical", "nugget": "x"})


def test_bad_input_names_the_fix():
    with pytest.raises(SoilMetalError, match="share one location"):
        empirical_variogram([1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(SoilMetalError, match="at least 3 samples"):
        empirical_variogram([0.0, 1.0], [0.0, 1.0], [1.0, 2.0])
    with pytest.raises(SoilMetalError, match="do not vary"):
        fit_residual_variogram(np.arange(30.0), np.arange(30.0) ** 1.5, np.ones(30))
    with pytest.raises(SoilMetalError, match="Unknown variogram model"):
        VariogramModel("cubic", 0, 1, 1)
    with pytest.raises(SoilMetalError, match="give the"):
        ev = empirical_variogram([0.0, 10.0, 20.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], width=15.0)
        fit_variogram(ev)


def test_closed_form_sills_agree_with_nnls(meuse):
    from core.science.variogram import _free_sills_sse, _sills_for_range
    x, y, z = meuse
    ev = empirical_variogram(x, y, z)
    weights = ev.np / ev.dist ** 2
    for name in MODELS:
        ranges = np.array([5.0, 80.0, 400.0, 900.0, 3000.0, 20000.0])
        unit = VariogramModel(name, 0.0, 1.0, 1.0).unit(ev.dist[None, :] / ranges[:, None])
        # a decreasing variogram forces psill 0; an offset one forces nugget 0 at short range
        for gamma in (ev.gamma, ev.gamma[::-1].copy(), ev.gamma - 0.1):
            shifted = EmpiricalVariogram(ev.np, ev.dist, gamma, ev.cutoff, ev.width)
            closed = _free_sills_sse(unit, gamma, weights)
            nnls_sse = [_sills_for_range(name, r, shifted, weights, None, None)[2] for r in ranges]
            np.testing.assert_allclose(closed, nnls_sse, rtol=1e-7, atol=1e-12)


def test_structure_test_finds_meuse_structure_and_rarely_noise():
    from core.science.variogram import structure_p_value
    table = pd.read_csv(MEUSE)
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    assert structure_p_value(x, y, np.log(table["zinc"].to_numpy(float))) <= 0.01
    rng = np.random.default_rng(21)
    p = [structure_p_value(*rng.uniform(0, 5000, (2, 150)), rng.normal(size=150), rng=rng)
         for _ in range(40)]
    assert np.mean(np.array(p) < 0.05) <= 0.15      # nominal 5 %: 2 of 40 expected
    assert min(p) >= 0.01
