"""Content maps: block-wise prediction equals the model on every pixel; nodata, grids, errors."""

import os

import numpy as np
import pytest
from osgeo import gdal

from core import raster_io
from core.errors import Cancelled, SoilMetalError
from core.model_file import Model
from core.monitor import Monitor
from core.science.network import n_params
from core.workflows.mapping import predict_map
from core.sampling import FactorSource

from rasters import write_raster


def make_model(names, members=1, seed=1, ranges=None):
    rng = np.random.default_rng(seed)
    thetas = [rng.normal(0, 0.7, n_params(len(names), 4)) for _ in range(members)]
    model = Model(factor_names=names, x_min=np.zeros(len(names)), x_max=np.full(len(names), 100.0),
                  y_min=10.0, y_max=90.0, members=thetas, hidden=4, metal="Cu")
    if ranges:
        model.factor_ranges.update(ranges)
    return model


@pytest.fixture
def factors(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 100, (70, 90))
    b = rng.uniform(0, 100, (70, 90))
    c = rng.uniform(0, 100, (70, 90))
    a[3, 4] = -9999.0
    first = write_raster(tmp_path / "spectral.tif", [a, b], ["NDVI", "B2"])
    second = write_raster(tmp_path / "terrain.tif", [c], ["SLOPE"])
    return [FactorSource(first), FactorSource(second)], np.stack([a, b, c])


def read(path):
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    return band.ReadAsArray().astype(float), band.GetNoDataValue(), band.GetDescription()


def test_map_equals_model_on_every_pixel(tmp_path, factors):
    sources, stack = factors
    model = make_model(["SLOPE", "NDVI", "B2"], members=3)
    out, spread = tmp_path / "cu.tif", tmp_path / "cu_std.tif"
    summary = predict_map(model, sources, str(out), str(spread), block_size=32)
    values, nodata, name = read(out)
    assert name == "Cu (mg/kg)" and nodata == raster_io.NODATA
    pixels = np.stack([stack[2], stack[0], stack[1]]).reshape(3, -1).T
    expected_mean, expected_std = model.predict(pixels)
    expected_mean = expected_mean.reshape(70, 90)
    valid = stack[0] != -9999.0
    np.testing.assert_allclose(values[valid], expected_mean[valid], rtol=1e-5)
    assert values[3, 4] == raster_io.NODATA
    std, _, _ = read(spread)
    np.testing.assert_allclose(std[valid], expected_std.reshape(70, 90)[valid], rtol=1e-4, atol=1e-4)
    assert summary["pixels_nodata"] == 1 and summary["pixels_mapped"] == 70 * 90 - 1


def test_raster_on_another_grid_is_resampled_not_shifted(tmp_path, factors):
    sources, stack = factors
    # The same SLOPE values at half the resolution, in the same CRS: resampled onto the first grid.
    coarse = write_raster(tmp_path / "coarse.tif", [np.full((35, 45), 42.0)], ["SLOPE"], size=60.0)
    model = make_model(["NDVI", "SLOPE"])
    out = tmp_path / "m.tif"
    predict_map(model, [sources[0], FactorSource(coarse)], str(out))
    values, _, _ = read(out)
    info = raster_io.raster_info(str(out))
    assert info.same_grid(raster_io.raster_info(sources[0].path))
    pixels = np.stack([stack[0], np.full((70, 90), 42.0)]).reshape(2, -1).T
    expected = model.predict(pixels)[0].reshape(70, 90)
    valid = stack[0] != -9999.0
    np.testing.assert_allclose(values[valid], expected[valid], rtol=1e-5)


def test_extrapolation_mask_and_count(tmp_path, factors):
    sources, stack = factors
    model = make_model(["NDVI"], ranges={"NDVI": [0.0, 50.0]})
    out, flags = tmp_path / "m.tif", tmp_path / "flags.tif"
    warnings = []
    summary = predict_map(model, sources, str(out), extrapolation_path=str(flags), extrapolation="mask",
                          monitor=Monitor(warning=warnings.append))
    values, _, _ = read(out)
    flag, _, _ = read(flags)
    outside = (stack[0] > 50) & (stack[0] != -9999.0)
    assert (values[outside] == raster_io.NODATA).all()
    assert (flag[outside] == 1).all() and (flag[~outside & (stack[0] != -9999.0)] == 0).all()
    assert summary["pixels_extrapolated"] == outside.sum()
    assert warnings and "outside the range" in warnings[0]


def test_missing_factor_and_no_overlap_are_explained(tmp_path, factors):
    sources, _ = factors
    with pytest.raises(SoilMetalError, match="EVI.*not found.*Available factors: NDVI, B2, SLOPE"):
        predict_map(make_model(["NDVI", "EVI"]), sources, str(tmp_path / "x.tif"))
    far = write_raster(tmp_path / "far.tif", [np.ones((5, 5))], ["EVI"], origin=(900000.0, 1000000.0))
    with pytest.raises(SoilMetalError, match="does not overlap"):
        predict_map(make_model(["NDVI", "EVI"]), sources + [FactorSource(far)], str(tmp_path / "x.tif"))
    assert not os.path.exists(tmp_path / "x.tif")


def test_cancel_leaves_no_output(tmp_path, factors):
    sources, _ = factors
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 3
    with pytest.raises(Cancelled):
        predict_map(make_model(["NDVI"]), sources, str(tmp_path / "c.tif"),
                    monitor=Monitor(is_cancelled=cancelled), block_size=16)
    assert [p for p in os.listdir(tmp_path) if p.startswith("c.tif") or p.startswith(".c.tif")] == []


@pytest.mark.parametrize("log_target", [False, True])
def test_pixel_model_equals_model_predict(log_target):
    from core.science.ensemble import PixelModel
    rng = np.random.default_rng(11)
    names = ["A", "B", "C"]
    thetas = [rng.normal(0, 0.8, n_params(3, 4)) for _ in range(4)]
    # Factor C never varied in training: the model scales it to 0 whatever its value.
    model = Model(factor_names=names, x_min=[0.0, -1.0, 5.0], x_max=[10.0, 1.0, 5.0],
                  y_min=np.log(10) if log_target else 10.0, y_max=np.log(90) if log_target else 90.0,
                  members=thetas, hidden=4, log_target=log_target, metal="Cu")
    x = np.column_stack([rng.uniform(-2, 12, 500), rng.uniform(-1.5, 1.5, 500), rng.uniform(0, 9, 500)])
    x[7, 1] = np.nan
    expected_mean, expected_std = model.predict(x)
    mean, std = PixelModel(model).predict(x.T.astype(np.float32))
    assert np.isnan(mean[7]) and np.isnan(expected_mean[7])
    keep = np.arange(500) != 7
    np.testing.assert_allclose(mean[keep], expected_mean[keep], rtol=2e-5)
    np.testing.assert_allclose(std[keep], expected_std[keep], rtol=1e-3, atol=2e-4)


def with_cv(model, rng, n=40, spread=8.0):
    """model with samples and CV results set the way the model file stores them (SCHEMA)."""
    factors = rng.uniform(10, 60, (n, model.n_inputs))
    observed = model.predict(factors)[0] + rng.normal(0, spread, n)
    model.samples = {"crs": "", "x": list(range(n)), "y": list(range(n)), "id": [str(i) for i in range(n)],
                     "factors": factors.tolist(), "observed": observed.tolist(), "role": ["train"] * n}
    model.cv = {"scheme": "random", "folds": 5, "fold": [i % 5 for i in range(n)],
                "prediction": [], "residual": list(rng.normal(0, spread, n))}
    return model


def test_intervals_exceedance_and_aoa_equal_independent_computations(tmp_path, factors):
    from test_aoa import brute_force_di
    from core.science.aoa import permutation_importance
    sources, stack = factors
    rng = np.random.default_rng(5)
    model = with_cv(make_model(["SLOPE", "NDVI"], members=2), rng)
    paths = {key: str(tmp_path / f"{key}.tif") for key in ("content", "lower", "upper", "p", "di", "spread")}
    messages = []
    summary = predict_map(model, sources, paths["content"], paths["spread"], lower_path=paths["lower"],
                          upper_path=paths["upper"], coverage=0.8, exceedance_path=paths["p"], threshold=50.0,
                          aoa_path=paths["di"], monitor=Monitor(info=messages.append, warning=messages.append),
                          block_size=32)
    pixels = np.stack([stack[2], stack[0]]).reshape(2, -1).T
    valid = (stack[0] != -9999.0).ravel()
    centre = model.predict(pixels)[0]
    r = np.sort(model.cv["residual"])
    lo, hi = r[int(np.floor(41 * 0.1)) - 1], r[int(np.ceil(41 * 0.9)) - 1]
    lower, _, _ = read(paths["lower"])
    upper, _, _ = read(paths["upper"])
    np.testing.assert_allclose(lower.ravel()[valid], np.maximum(centre + lo, 0)[valid], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(upper.ravel()[valid], (centre + hi)[valid], rtol=1e-4, atol=1e-3)
    p, _, name = read(paths["p"])
    assert name == "P(Cu > 50 mg/kg)"
    expected_p = np.array([((r >= 50 - c).sum() + 0.5) / 41 for c in centre])
    # float32 pixel arithmetic may move a centre across a residual: allow a few pixels one step off.
    diff = np.abs(p.ravel()[valid] - expected_p[valid])
    assert (diff < 1e-6).mean() > 0.99 and diff.max() <= 1 / 41 + 1e-6
    weights = permutation_importance(model, np.asarray(model.samples["factors"]),
                                     np.asarray(model.samples["observed"]), np.random.default_rng(model.seed))
    train_di, new_di = brute_force_di(model.samples["factors"], model.cv["fold"], np.maximum(weights, 0),
                                      pixels[valid])
    ds = gdal.Open(paths["di"])
    band = ds.GetRasterBand(1)
    di = band.ReadAsArray().astype(float).ravel()
    np.testing.assert_allclose(di[valid], new_di, rtol=1e-4)
    threshold = float(band.GetMetadata()["AOA_THRESHOLD"])
    assert threshold == pytest.approx(summary["aoa_threshold"], rel=1e-5)
    assert summary["aoa_share"] == pytest.approx(np.mean(new_di <= summary["aoa_threshold"]))
    assert any("DI threshold" in m for m in messages)
    for path in paths.values():
        values, nodata, _ = read(path)
        assert values[3, 4] == nodata


def test_aoa_mask_sets_every_companion_to_nodata_and_counts_what_was_written(tmp_path, factors):
    sources, stack = factors
    model = with_cv(make_model(["SLOPE", "NDVI"]), np.random.default_rng(6))
    out, spread, lower, di = (str(tmp_path / f"{k}.tif") for k in ("c", "s", "l", "d"))
    summary = predict_map(model, sources, out, spread, lower_path=lower, aoa_path=di, aoa_mask=True)
    content, nodata, _ = read(out)
    dis, _, _ = read(di)
    threshold = summary["aoa_threshold"]
    outside = (dis > threshold) & (dis != nodata)
    assert outside.any() and (~outside & (dis != nodata)).any()
    for path in (out, spread, lower):
        values, _, _ = read(path)
        assert (values[outside] == nodata).all() and (values[~outside & (dis != nodata)] != nodata).all()
    assert summary["pixels_mapped"] == int((content != nodata).sum()) == summary["pixels_valid"] - outside.sum()


def test_single_network_spread_is_nodata_where_the_map_is(tmp_path, factors):
    sources, _ = factors
    out, spread = tmp_path / "c.tif", tmp_path / "s.tif"
    predict_map(make_model(["NDVI", "B2"]), sources, str(out), str(spread))
    std, nodata, name = read(spread)
    assert std[3, 4] == nodata and (np.delete(std.ravel(), 3 * 90 + 4) == 0).all()
    assert "not an error bar" in name


def test_overflowing_weights_are_an_error_not_an_empty_map(tmp_path, factors):
    sources, _ = factors
    model = make_model(["NDVI"])
    model.members = [np.full_like(model.members[0], 1e300)]
    with pytest.raises(SoilMetalError, match="no finite content.*overflow.*Retrain"):
        predict_map(model, sources, str(tmp_path / "o.tif"))
    assert sorted(os.listdir(tmp_path)) == ["spectral.tif", "terrain.tif"]  # listdir order is the filesystem's


def test_negative_contents_are_clamped_and_counted(tmp_path, factors):
    sources, stack = factors
    model = make_model(["NDVI"])
    model.y_min, model.y_max = -40.0, 20.0
    warnings = []
    out = tmp_path / "n.tif"
    summary = predict_map(model, sources, str(out), monitor=Monitor(warning=warnings.append))
    values, nodata, _ = read(out)
    raw = model.predict(stack[0].reshape(-1, 1))[0].reshape(70, 90)
    valid = stack[0] != -9999.0
    assert summary["pixels_clamped"] == int((raw[valid] < 0).sum()) > 0
    assert (values[valid & (raw < 0)] == 0).all() and values[valid].min() >= 0
    assert any("below 0 mg/kg" in w for w in warnings)


def test_all_masked_or_all_nodata_is_an_error(tmp_path, factors):
    sources, stack = factors
    model = make_model(["NDVI"], ranges={"NDVI": [500.0, 600.0]})
    with pytest.raises(SoilMetalError, match="were masked.*set EXTRAPOLATION to 0 or 2"):
        predict_map(model, sources, str(tmp_path / "m.tif"), extrapolation="mask")
    empty = write_raster(tmp_path / "empty.tif", [np.full((10, 10), -9999.0)], ["NDVI"])
    with pytest.raises(SoilMetalError, match="No pixel has valid values"):
        predict_map(make_model(["NDVI"]), [FactorSource(empty)], str(tmp_path / "e.tif"))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(("m.tif", "e.tif", ".m.tif", ".e.tif"))]


def test_mostly_nodata_map_warns(tmp_path):
    values = np.full((20, 20), -9999.0)
    values[:3] = 5.0
    raster = write_raster(tmp_path / "sparse.tif", [values], ["NDVI"])
    warnings = []
    summary = predict_map(make_model(["NDVI"]), [FactorSource(raster)], str(tmp_path / "s.tif"),
                          monitor=Monitor(warning=warnings.append))
    assert summary["pixels_mapped"] == 60
    assert any("Only 60 of the 400 pixels" in w for w in warnings)


def test_companions_without_cv_or_threshold_name_the_fix(tmp_path, factors):
    sources, _ = factors
    model = make_model(["NDVI"])
    with pytest.raises(SoilMetalError, match="retrain it.*prediction intervals"):
        predict_map(model, sources, str(tmp_path / "x.tif"), lower_path=str(tmp_path / "l.tif"))
    with pytest.raises(SoilMetalError, match="retrain it.*area of applicability"):
        predict_map(model, sources, str(tmp_path / "x.tif"), aoa_mask=True)
    with pytest.raises(SoilMetalError, match="OUTPUT_EXCEEDANCE needs THRESHOLD"):
        predict_map(with_cv(model, np.random.default_rng(0)), sources, str(tmp_path / "x.tif"),
                    exceedance_path=str(tmp_path / "p.tif"))
    assert sorted(os.listdir(tmp_path)) == ["spectral.tif", "terrain.tif"]  # listdir order is the filesystem's
