"""predictcontent with RESIDUAL_KRIGING: the kriged residual added on the model's scale equals
kriging at the pixel centres, samples in another CRS land in the same place, the intervals are
conformal on the out-of-fold RK residuals and cover held-out pixels under spatial CV, and the
messages for models that cannot krige."""

import numpy as np
import pytest

from core import raster_io
from core.science.cv import baseline_oof
from core.science.cv_gabp import cv_record, samples_record
from core.errors import SoilMetalError
from core.science.kriging import OrdinaryKriging
from core.workflows.kriging_record import kriging_record
from core.model_file import Model
from core.monitor import Monitor
from core.science.network import n_params
from core.workflows.mapping import predict_map
from core.sampling import FactorSource
from core.science.variogram import VariogramModel
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


def conformal_bounds(residuals, coverage):
    """Equal-tailed split-conformal order statistics of residuals, computed here independently."""
    r, alpha = np.sort(residuals), 1.0 - coverage
    return (r[int(np.floor((r.size + 1) * alpha / 2)) - 1],
            r[int(np.ceil((r.size + 1) * (1 - alpha / 2))) - 1])


def test_rk_intervals_are_conformal_on_the_rk_residuals(scene):
    lower_path, upper_path = str(scene["tmp"] / "lo.tif"), str(scene["tmp"] / "hi.tif")
    content = band(run(scene, "rk_i", residual_kriging=True, lower_path=lower_path,
                       upper_path=upper_path, coverage=0.8))
    lower, upper = band(lower_path), band(upper_path)
    valid = np.isfinite(content)
    cv = scene["model"].cv
    low, high = conformal_bounds(np.asarray(cv["residual"]) - np.asarray(cv["kriging"]["kriged"]), 0.8)
    np.testing.assert_allclose(np.log(lower[valid] / content[valid]), low, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.log(upper[valid] / content[valid]), high, rtol=1e-4, atol=1e-5)


def test_rk_intervals_cover_held_out_pixels_under_spatial_cv(tmp_path):
    """Residuals mostly noise (nugget 0.3, structure 0.1, range 300 m) but kriged with a borrowed
    variogram that claims strong structure (nugget 1 %), 80 samples in 5 spatial CV stripes: the
    held-out samples are far from their training samples, the map's pixels close to the samples.
    The RK 90 % band must cover about 90 % of the true pixels (pooled over 4 scenes); a band
    scaled by each pixel's kriging sd (calibrated on CV residuals over their kriging sd) covers
    far less here (0.74 on these scenes, 0.92 for the RK band)."""
    px, py = (a.ravel() for a in pixel_centres())
    path = write_raster(tmp_path / "f.tif", [(px.reshape(ROWS, COLS) - ORIGIN[0]) / 2400.0], ["F"],
                        origin=ORIGIN, size=CELL, epsg=28992)
    source = VariogramModel("spherical", 0.01, 1.0, 1500.0)
    n, covered, scaled_covered = 80, [], []
    for seed in range(10, 14):
        rng = np.random.default_rng(seed)
        x = rng.uniform(ORIGIN[0] + 20, ORIGIN[0] + 2380, n)
        y = rng.uniform(ORIGIN[1] - 1980, ORIGIN[1] - 20, n)
        ax, ay = np.concatenate([x, px]), np.concatenate([y, py])
        cov = VariogramModel("exponential", 0.0, 0.1, 300.0).covariance(
            np.hypot(ax[:, None] - ax[None, :], ay[:, None] - ay[None, :]))
        field = (np.linalg.cholesky(cov + 1e-9 * np.eye(ax.size)) @ rng.normal(size=ax.size)
                 + rng.normal(0, np.sqrt(0.3), ax.size))
        f = (x - ORIGIN[0]) / 2400.0
        model = Model(factor_names=["F"], x_min=[0.0], x_max=[1.0], y_min=3.0, y_max=4.0,
                      members=[rng.normal(0, 0.5, n_params(1, 4))], log_target=True, seed=2,
                      factor_ranges={"F": [0.0, 1.0]})
        prediction = model.predict(f[:, None])[0]
        observed = prediction * np.exp(field[:n])
        labels = np.minimum((5 * (x - ORIGIN[0]) / 2400.0).astype(int), 4)
        model.samples = samples_record(wkt(28992), [str(i) for i in range(n)], x, y, f[:, None],
                                       observed, ["train"] * n)
        model.cv = cv_record("spatial", labels, observed, prediction,
                             baseline_oof(f[:, None], observed, labels, True), True)
        model.cv["kriging"] = record = kriging_record(model, source_variogram=source,
                                                      variogram_source="source-rescaled")[0]
        assert record["structure"]
        plain, rk = str(tmp_path / f"p{seed}.tif"), str(tmp_path / f"rk{seed}.tif")
        lower, upper = str(tmp_path / f"lo{seed}.tif"), str(tmp_path / f"hi{seed}.tif")
        predict_map(model, [FactorSource(path)], plain, extrapolation="keep")
        predict_map(model, [FactorSource(path)], rk, extrapolation="keep", residual_kriging=True,
                    lower_path=lower, upper_path=upper, coverage=0.9)
        truth = np.log(band(plain).ravel()) + field[n:]
        covered.append((np.log(band(lower).ravel()) <= truth) & (truth <= np.log(band(upper).ravel())))
        # the dropped method, computed here: scores (residual - kriged) / sd, band score x pixel sd
        grid_sd = OrdinaryKriging(x, y, model.cv["residual"], VariogramModel.from_dict(
            record["variogram"]), 16).predict(px, py)[1] ** 0.5
        low, high = conformal_bounds((np.asarray(model.cv["residual"]) - np.asarray(record["kriged"]))
                                     / np.sqrt(record["variance"]), 0.9)
        centre = np.log(band(rk).ravel())
        scaled_covered.append((centre + low * grid_sd <= truth) & (truth <= centre + high * grid_sd))
    # conformal coverage with n calibration residuals varies as Beta: sd sqrt(0.9 0.1 / (n + 2))
    # per scene; 3 sd of the mean of 4. Spatial CV holds out farther than the map predicts, so
    # the band may be conservative, but not wider than 0.98.
    tolerance = 3 * np.sqrt(0.9 * 0.1 / (n + 2) / 4)
    coverage = np.mean(covered)
    assert 0.9 - tolerance <= coverage <= 0.98
    assert np.mean(scaled_covered) < 0.9 - tolerance


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
