"""Content maps: block-wise prediction equals the model on every pixel; nodata, grids, errors."""

import os

import numpy as np
import pytest
from osgeo import gdal

from core import raster_io
from core.errors import Cancelled, SoilMetalError
from core.model_file import Model
from core.monitor import Monitor
from core.network import n_params
from core.predict import predict_map
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
    from core.predict import PixelModel
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
