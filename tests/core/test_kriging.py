"""Ordinary kriging against a direct dense solve of the kriging system, its textbook properties
(weights sum to 1, exact at the samples, the far-away variance), neighbourhoods, duplicates."""

import math

import numpy as np
import pytest

import core.science.kriging as kriging
from core.errors import SoilMetalError
from core.science.kriging import OrdinaryKriging, geographic_to_local_metres, krige, merge_duplicates
from core.monitor import Monitor
from core.science.variogram import VariogramModel

SPH = VariogramModel("spherical", 0.1, 1.0, 400.0)
EXP0 = VariogramModel("exponential", 0.0, 2.0, 150.0)


def dense_ok(sx, sy, values, tx, ty, model):
    """Ordinary kriging written out: one (n+1) x (n+1) solve per target, all samples used."""
    n = len(sx)
    h = np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :])
    a = np.ones((n + 1, n + 1))
    a[:n, :n] = model.sill - np.where(h > 0, model.nugget + model.psill * model.unit(h), 0.0)
    a[n, n] = 0.0
    estimates, variances, weights = [], [], []
    for px, py in zip(tx, ty):
        d = np.hypot(sx - px, sy - py)
        b = np.ones(n + 1)
        b[:n] = model.sill - np.where(d > 0, model.nugget + model.psill * model.unit(d), 0.0)
        solution = np.linalg.solve(a, b)
        estimates.append(solution[:n] @ values)
        variances.append(model.sill - solution @ b)
        weights.append(solution[:n])
    return np.array(estimates), np.array(variances), np.array(weights)


def sample_set(seed=0, n=12, extent=1000.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, extent, n), rng.uniform(0, extent, n), rng.normal(size=n)


@pytest.mark.parametrize("model", [SPH, EXP0, VariogramModel("gaussian", 0.05, 1.0, 300.0)])
def test_all_samples_as_neighbours_equals_dense_solve(model):
    sx, sy, values = sample_set()
    rng = np.random.default_rng(1)
    tx, ty = rng.uniform(-200, 1200, 300), rng.uniform(-200, 1200, 300)
    estimate, variance = krige(sx, sy, values, tx, ty, model, neighbours=len(sx))
    expected, expected_var, _ = dense_ok(sx, sy, values, tx, ty, model)
    np.testing.assert_allclose(estimate, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(variance, expected_var, rtol=1e-8, atol=1e-10)


def test_local_neighbourhood_equals_dense_solve_on_the_nearest_samples():
    sx, sy, values = sample_set(seed=2, n=60)
    rng = np.random.default_rng(3)
    tx, ty = rng.uniform(0, 1000, 200), rng.uniform(0, 1000, 200)
    estimate, variance = krige(sx, sy, values, tx, ty, SPH, neighbours=7)
    for i in range(tx.size):
        nearest = np.argsort(np.hypot(sx - tx[i], sy - ty[i]))[:7]
        e, v, _ = dense_ok(sx[nearest], sy[nearest], values[nearest], tx[i:i + 1], ty[i:i + 1], SPH)
        assert estimate[i] == pytest.approx(e[0], rel=1e-8, abs=1e-10)
        assert variance[i] == pytest.approx(v[0], rel=1e-8, abs=1e-10)


def test_weights_sum_to_one():
    sx, sy, _ = sample_set(seed=4, n=10)
    tx, ty = np.array([100.0, 500.0, 2000.0]), np.array([900.0, 500.0, -300.0])
    # kriging the unit vector e_j gives every target's weight of sample j
    weights = np.column_stack([krige(sx, sy, np.eye(10)[j], tx, ty, SPH, neighbours=10)[0]
                               for j in range(10)])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-10)
    _, _, dense_weights = dense_ok(sx, sy, np.zeros(10), tx, ty, SPH)
    np.testing.assert_allclose(weights, dense_weights, atol=1e-10)
    constant = krige(sx, sy, np.full(10, 3.5), tx, ty, SPH, neighbours=4)[0]
    np.testing.assert_allclose(constant, 3.5)


def test_exact_at_the_samples_without_nugget():
    sx, sy, values = sample_set(seed=5, n=25)
    estimate, variance = krige(sx, sy, values, sx, sy, EXP0, neighbours=8)
    np.testing.assert_allclose(estimate, values, atol=1e-9)
    np.testing.assert_allclose(variance, 0.0, atol=1e-9)


def test_variance_is_the_sill_far_away():
    # Samples further apart than the range are uncorrelated: far from all of them the ordinary
    # kriging variance is the sill plus the variance of the estimated mean, sill / n.
    sx = np.array([0.0, 1000.0, 2000.0, 3000.0])
    sy = np.zeros(4)
    model = VariogramModel("spherical", 0.2, 0.8, 500.0)
    estimate, variance = krige(sx, sy, np.array([1.0, 2.0, 3.0, 6.0]), [1e6], [1e6], model)
    assert variance[0] == pytest.approx(model.sill * (1 + 1 / 4))
    assert estimate[0] == pytest.approx(3.0)            # the mean of the samples
    # with a search distance, no sample is found: residual 0 and variance the sill exactly
    estimate, variance = krige(sx, sy, np.ones(4), [1e6], [1e6], model, max_distance=5000.0)
    assert estimate[0] == 0.0 and variance[0] == pytest.approx(model.sill)


def test_max_distance_uses_only_samples_within_it():
    sx, sy, values = sample_set(seed=6, n=40)
    rng = np.random.default_rng(7)
    tx, ty = rng.uniform(0, 1000, 100), rng.uniform(0, 1000, 100)
    estimate, variance = krige(sx, sy, values, tx, ty, SPH, neighbours=10, max_distance=200.0)
    for i in range(tx.size):
        d = np.hypot(sx - tx[i], sy - ty[i])
        near = np.argsort(d)[:10]
        near = near[d[near] <= 200.0]
        if near.size == 0:
            assert estimate[i] == 0.0 and variance[i] == pytest.approx(SPH.sill)
            continue
        e, v, _ = dense_ok(sx[near], sy[near], values[near], tx[i:i + 1], ty[i:i + 1], SPH)
        assert estimate[i] == pytest.approx(e[0], rel=1e-8, abs=1e-10)
        assert variance[i] == pytest.approx(v[0], rel=1e-8, abs=1e-10)


def test_grid_of_targets_sharing_neighbourhoods_and_hash_collisions(monkeypatch):
    sx, sy, values = sample_set(seed=8, n=30)
    gx, gy = np.meshgrid(np.arange(0, 1000, 10.0), np.arange(0, 1000, 10.0))
    tx, ty = gx.ravel(), gy.ravel()
    estimate, variance = krige(sx, sy, values, tx, ty, SPH, neighbours=5)
    probe = np.random.default_rng(9).choice(tx.size, 40, replace=False)
    for i in probe:
        nearest = np.argsort(np.hypot(sx - tx[i], sy - ty[i]))[:5]
        e, v, _ = dense_ok(sx[nearest], sy[nearest], values[nearest], tx[i:i + 1], ty[i:i + 1], SPH)
        assert estimate[i] == pytest.approx(e[0], rel=1e-8, abs=1e-10)
        assert variance[i] == pytest.approx(v[0], rel=1e-8, abs=1e-10)
    # every neighbour set hashing alike must still group exactly
    kriger = OrdinaryKriging(sx, sy, values, SPH, neighbours=5)
    kriger._hash = np.zeros_like(kriger._hash)
    collided = kriger.predict(tx, ty)
    np.testing.assert_allclose(collided[0], estimate, rtol=1e-10, atol=1e-12)
    # batches smaller than the map give the same result
    monkeypatch.setattr(kriging, "_BATCH", 333)
    np.testing.assert_allclose(krige(sx, sy, values, tx, ty, SPH, neighbours=5)[0], estimate,
                               rtol=1e-10, atol=1e-12)


def test_duplicates_are_merged_with_a_warning():
    warnings = []
    monitor = Monitor(warning=warnings.append)
    x = np.array([0.0, 0.0, 100.0, 200.0, 300.0])
    y = np.array([0.0, 0.0, 50.0, 0.0, 80.0])
    values = np.array([1.0, 3.0, 0.5, -1.0, 2.0])
    mx, my, mv = merge_duplicates(x, y, values, monitor)
    assert len(mx) == 4 and "1 samples share a location" in warnings[0]
    assert mv[(mx == 0) & (my == 0)][0] == pytest.approx(2.0)
    estimate, _ = krige(x, y, values, [0.0], [0.0], EXP0, neighbours=4, monitor=monitor)
    assert estimate[0] == pytest.approx(2.0)       # exact at the merged sample


def test_all_samples_at_one_location_stop_with_a_message():
    with pytest.raises(SoilMetalError, match="share one location"):
        krige(np.ones(5), np.ones(5), np.arange(5.0), [0.0], [0.0], SPH)
    with pytest.raises(SoilMetalError, match="KRIGING_NEIGHBOURS"):
        krige(*sample_set()[:3], [0.0], [0.0], SPH, neighbours=0)


def test_geographic_coordinates_to_metres():
    lon0, lat0 = 5.73, 50.97
    lon = np.array([5.73, 5.76, 5.70])
    lat = np.array([50.97, 50.99, 50.95])
    x, y = geographic_to_local_metres(lon, lat, lon0, lat0)

    def haversine(i, j):
        p1, p2 = math.radians(lat[i]), math.radians(lat[j])
        dlat, dlon = p2 - p1, math.radians(lon[j] - lon[i])
        a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
        return 2 * kriging.EARTH_RADIUS * math.asin(math.sqrt(a))

    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert math.hypot(x[i] - x[j], y[i] - y[j]) == pytest.approx(haversine(i, j), rel=2e-3)


def surface_setup(n=30, seed=12, cell=30.0, width=160, height=130):
    from core.science.kriging import KrigedSurface, node_step
    sx, sy, values = sample_set(seed=seed, n=n, extent=width * cell)
    sy = sy * height / width
    model = VariogramModel("spherical", 0.05, 1.0, 2000.0)
    kriger = OrdinaryKriging(sx, sy, values, model, neighbours=16)
    gt = (0.0, cell, 0.0, height * cell, 0.0, -cell)
    return kriger, gt, width, height, KrigedSurface, node_step(kriger, cell)


def test_surface_step_one_is_kriging_at_pixel_centres():
    from core.blocks import Window
    kriger, gt, width, height, KrigedSurface, _ = surface_setup()
    surface = KrigedSurface(kriger, gt, width, height, step=1)
    window = Window(17, 30, 50, 40)
    valid = np.random.default_rng(1).random(50 * 40) > 0.3
    estimate = surface.window(window, valid)
    rows, cols = np.divmod(np.arange(50 * 40), 50)
    x = gt[0] + (cols + 17 + 0.5) * gt[1]
    y = gt[3] + (rows + 30 + 0.5) * gt[5]
    expected, _ = kriger.predict(x[valid], y[valid])
    np.testing.assert_allclose(estimate[valid], expected)
    np.testing.assert_array_equal(kriger.estimate(x[valid], y[valid]), expected)
    assert np.isnan(estimate[~valid]).all()


def test_surface_nodes_are_exact_windows_agree_and_interpolation_is_close():
    from core.blocks import Window, iter_blocks
    kriger, gt, width, height, KrigedSurface, step = surface_setup()
    assert step > 1
    exact = KrigedSurface(kriger, gt, width, height, step=1).window(Window(0, 0, width, height))
    surface = KrigedSurface(kriger, gt, width, height, step=step)
    whole = surface.window(Window(0, 0, width, height))
    piece = np.full(width * height, np.nan)
    for window in iter_blocks(width, height, block_size=37):
        rows, cols = np.divmod(np.arange(window.xsize * window.ysize), window.xsize)
        piece[(rows + window.yoff) * width + cols + window.xoff] = surface.window(window)
    np.testing.assert_allclose(piece, whole, rtol=1e-10, atol=1e-12)
    grid = np.arange(width * height).reshape(height, width)
    nodes = grid[::step, ::step].ravel()
    np.testing.assert_allclose(whole[nodes], exact[nodes], atol=1e-10)
    error = whole - exact
    assert np.sqrt(np.mean(error ** 2)) < 0.05 * np.std(exact)
