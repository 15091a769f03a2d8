"""predictcontent with RESIDUAL_KRIGING: the kriged residual added on the model's scale equals
kriging at the pixel centres, samples in another CRS land in the same place, intervals widen
away from samples, and the messages for models that cannot krige."""

import numpy as np
import pytest

from core import raster_io
from core.cv import baseline_oof
from core.cv_gabp import cv_record, samples_record
from core.errors import SoilMetalError
from core.kriging import OrdinaryKriging
from core.kriging_report import kriging_record
from core.model_file import Model
from core.monitor import Monitor
from core.network import n_params
from core.predict import predict_map
from core.sampling import FactorSource
from core.variogram import VariogramModel
from rasters import read_bands, write_raster, wkt

ORIGIN, CELL, COLS, ROWS = (180000.0, 332000.0), 40.0, 60, 50        # EPSG:28992, 2400 x 2000 m


def pixel_centres():
    cols, rows = np.meshgrid(np.arange(COLS), np.arange(ROWS))
    return ORIGIN[0] + (cols + 0.5) * CELL, ORIGIN[1] - (rows + 0.5) * CELL


@pytest.fixture
def scene(tmp_path):
    """A one-factor raster and a log-target model whose residuals are a spatial field."""
    rng = np.random.default_rng(3)
    px, py = pixel_centres()
    factor = (px - ORIGIN[0]) / 2400.0
    factor[:3, :4] = np.nan                                   # a nodata corner
    path = write_raster(tmp_path / "f.tif", [np.nan_to_num(factor, nan=-9999.0)], ["F"],
                        origin=ORIGIN, size=CELL, epsg=28992)
    n = 150
    x = rng.uniform(ORIGIN[0] + 20, ORIGIN[0] + 2380, n)
    y = rng.uniform(ORIGIN[1] - 1980, ORIGIN[1] - 20, n)
    h = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    cov = VariogramModel("exponential", 0.0, 0.3, 250.0).covariance(h) + 1e-9 * np.eye(n)
    field = np.linalg.cholesky(cov) @ rng.normal(size=n)
    f = (x - ORIGIN[0]) / 2400.0
    model = Model(factor_names=["F"], x_min=[0.0], x_max=[1.0], y_min=3.0, y_max=4.0,
                  members=[rng.normal(0, 0.5, n_params(1, 4))], log_target=True, seed=2,
                  factor_ranges={"F": [0.0, 1.0]})
    prediction = model.predict(f[:, None])[0]
    observed = prediction * np.exp(field + rng.normal(0, 0.03, n))
    labels = np.arange(n) % 5
    model.samples = samples_record(wkt(28992), [str(i) for i in range(n)], x, y, f[:, None],
                                   observed, ["train"] * n)
    model.cv = cv_record("random", labels, observed, prediction,
                         baseline_oof(f[:, None], observed, labels, True), True)
    model.cv["kriging"] = kriging_record(model)[0]
    assert model.cv["kriging"]["structure"]
    return {"path": path, "model": model, "tmp": tmp_path}


def run(scene, name, **kwargs):
    out = str(scene["tmp"] / f"{name}.tif")
    predict_map(scene["model"], [FactorSource(scene["path"])], out, extrapolation="keep", **kwargs)
    return out


def band(path):
    return next(iter(read_bands(path).values()))


def test_kriged_residual_is_kriging_at_pixel_centres_added_on_the_log_scale(scene):
    model = scene["model"]
    plain = band(run(scene, "plain"))
    kriged_path = str(scene["tmp"] / "k.tif")
    krigedmap = band(run(scene, "rk", residual_kriging=True, kriged_path=kriged_path))
    added = band(kriged_path)
    valid = np.isfinite(plain)
    assert valid.sum() == COLS * ROWS - 12
    np.testing.assert_array_equal(np.isfinite(added), valid)
    np.testing.assert_allclose(np.log(krigedmap[valid]), np.log(plain[valid]) + added[valid],
                               rtol=1e-5, atol=1e-5)
    px, py = pixel_centres()
    kriging = OrdinaryKriging(model.samples["x"], model.samples["y"], model.cv["residual"],
                              VariogramModel.from_dict(model.cv["kriging"]["variogram"]), 16)
    expected, _ = kriging.predict(px[valid], py[valid])
    # nodes every few pixels, bilinear between: close to kriging every pixel
    error = added[valid] - expected
    assert np.sqrt(np.mean(error ** 2)) < 0.1 * np.std(expected)
    assert np.corrcoef(added[valid], expected)[0, 1] > 0.99


def test_samples_in_geographic_coordinates_give_the_same_surface(scene):
    reference = band(run(scene, "rk_rd", residual_kriging=True))
    model = scene["model"]
    lon, lat = raster_io.transform_xy(model.samples["x"], model.samples["y"], wkt(28992), wkt(4326))
    model.samples = dict(model.samples, x=list(lon), y=list(lat), crs=wkt(4326))
    moved = band(run(scene, "rk_ll", residual_kriging=True))
    valid = np.isfinite(reference)
    np.testing.assert_allclose(moved[valid], reference[valid], rtol=1e-4)


def test_rk_intervals_contain_the_map_and_widen_away_from_samples(scene):
    lower_path, upper_path = str(scene["tmp"] / "lo.tif"), str(scene["tmp"] / "hi.tif")
    content = band(run(scene, "rk_i", residual_kriging=True, lower_path=lower_path,
                       upper_path=upper_path, coverage=0.8))
    lower, upper = band(lower_path), band(upper_path)
    valid = np.isfinite(content)
    assert np.all(lower[valid] <= content[valid] * (1 + 1e-6))
    assert np.all(upper[valid] >= content[valid] * (1 - 1e-6))
    width = np.log(upper[valid] / lower[valid])
    assert width.min() < 0.9 * width.max()         # the kriging sd varies: so does the band
    model = scene["model"]
    px, py = pixel_centres()
    nearest = np.min(np.hypot(px[valid][:, None] - np.asarray(model.samples["x"])[None, :],
                              py[valid][:, None] - np.asarray(model.samples["y"])[None, :]), axis=1)
    assert np.corrcoef(nearest, width)[0, 1] > 0.3


def test_what_cannot_krige_says_what_to_do(scene):
    with pytest.raises(SoilMetalError, match="set RESIDUAL_KRIGING to true"):
        run(scene, "x", kriged_path=str(scene["tmp"] / "k.tif"))
    model = scene["model"]
    model.cv = None
    with pytest.raises(SoilMetalError, match="CV = 2"):
        run(scene, "y", residual_kriging=True)


def test_no_structure_warns_and_maps_the_model_alone(scene):
    model = scene["model"]
    rng = np.random.default_rng(8)
    model.cv["residual"] = list(rng.normal(0, 0.3, len(model.samples["x"])))
    model.cv.pop("kriging")
    warnings = []
    plain = band(run(scene, "plain2"))
    kriged_path = str(scene["tmp"] / "k0.tif")
    out = str(scene["tmp"] / "rk0.tif")
    predict_map(model, [FactorSource(scene["path"])], out, extrapolation="keep",
                residual_kriging=True, kriged_path=kriged_path,
                monitor=Monitor(warning=warnings.append))
    assert any("kriging adds nothing" in w for w in warnings)
    valid = np.isfinite(plain)
    np.testing.assert_allclose(band(out)[valid], plain[valid])
    np.testing.assert_array_equal(band(kriged_path)[valid], 0.0)


def test_interval_bands_say_they_are_regression_kriging(scene):
    from osgeo import gdal
    lower_path = str(scene["tmp"] / "lo_meta.tif")
    run(scene, "rk_meta", residual_kriging=True, lower_path=lower_path, coverage=0.8)
    dataset = gdal.Open(lower_path)
    metadata = dataset.GetRasterBand(1).GetMetadata()
    assert metadata["METHOD"].startswith("regression kriging")
    plain_path = str(scene["tmp"] / "lo_plain.tif")
    run(scene, "plain_meta", lower_path=plain_path, coverage=0.8)
    dataset = gdal.Open(plain_path)
    assert not dataset.GetRasterBand(1).GetMetadata()["METHOD"].startswith("regression kriging")
