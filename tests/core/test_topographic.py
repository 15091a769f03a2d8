"""Topographic correction against direct formulas: a synthetic DEM with an analytic gradient,
scenes with a known illumination effect added (then recovered), bad inputs, and the real
Sentinel-2 + DEM pair of Luxembourg (tests/data/scenes/sentinel2_l2a_terra)."""

import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from core.reports.topographic import write_topographic_report
from core.workflows.topographic_correction import run_topographic_correction
from core.errors import SoilMetalError
from rasters import write_raster
from scenes_support import write_like

gdal.UseExceptions()

SCENES = Path(__file__).resolve().parents[1] / "data" / "scenes"
TERRA = SCENES / "sentinel2_l2a_terra"
S2_SAFE = SCENES / "sentinel2_l2a" / "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE"
ROWS, COLS, SIZE, ORIGIN = 120, 150, 30.0, (300000.0, 3730000.0)
AZIMUTH, ELEVATION = 135.0, 35.0


def analytic_terrain():
    """z = 500 + 300 sin(x/L) cos(y/L): elevation, slope and aspect (radians) from its exact gradient."""
    rows, cols = np.mgrid[0:ROWS, 0:COLS]
    east = (cols + 0.5) * SIZE
    south = (rows + 0.5) * SIZE
    length = 600.0
    z = 500 + 300 * np.sin(east / length) * np.cos(south / length)
    dz_east = 300 / length * np.cos(east / length) * np.cos(south / length)
    dz_north = 300 / length * np.sin(east / length) * np.sin(south / length)
    slope = np.arctan(np.hypot(dz_east, dz_north))
    aspect = np.arctan2(-dz_east, -dz_north)          # downslope, clockwise from north
    return z, slope, aspect


def cos_i_of(slope, aspect, azimuth=AZIMUTH, elevation=ELEVATION):
    zenith = np.radians(90 - elevation)
    return (np.cos(zenith) * np.cos(slope)
            + np.sin(zenith) * np.sin(slope) * np.cos(np.radians(azimuth) - aspect))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The DEM and the true (horizontal) reflectance of two bands."""
    folder = tmp_path_factory.mktemp("topo")
    z, slope, aspect = analytic_terrain()
    rng = np.random.default_rng(0)
    truth = np.stack([0.05 + 0.02 * rng.random((ROWS, COLS)), 0.30 + 0.05 * rng.random((ROWS, COLS))])
    dem = write_raster(folder / "dem.tif", [z], ["ELEVATION"], origin=ORIGIN, size=SIZE)
    return {"folder": folder, "dem": dem, "slope": slope, "aspect": aspect, "truth": truth,
            "cos_i": cos_i_of(slope, aspect)}


def read(path):
    dataset = gdal.Open(str(path))
    names = [dataset.GetRasterBand(i).GetDescription() for i in range(1, dataset.RasterCount + 1)]
    values = dataset.ReadAsArray().astype(np.float64)
    values[values == -9999] = np.nan
    return (values if values.ndim == 3 else values[None]), names, dataset.GetMetadata()


INTERIOR = (slice(2, -2), slice(2, -2))


def illuminated(method, truth, cos_i, slope, parameter):
    """The observed reflectance each method's model predicts for a true horizontal reflectance."""
    cos_z = np.cos(np.radians(90 - ELEVATION))
    p = np.asarray(parameter)[:, None, None]
    if method == "cosine":
        return truth * cos_i / cos_z
    if method == "c":
        return truth * (cos_i + p) / (cos_z + p)
    if method == "scs_c":
        return truth * (cos_i + p) / (cos_z * np.cos(slope) + p)
    return truth * np.power(cos_i / cos_z, p)


@pytest.mark.parametrize("method, parameter", [("cosine", [0, 0]), ("c", [0.4, 1.2]),
                                               ("scs_c", [0.3, 0.8]), ("minnaert", [0.6, 0.9])])
def test_known_illumination_effect_is_recovered(scene, method, parameter):
    folder = scene["folder"]
    observed = illuminated(method, scene["truth"], scene["cos_i"], scene["slope"], parameter)
    image = write_raster(folder / f"{method}.tif", list(observed), ["B4", "B5"], origin=ORIGIN, size=SIZE)
    result = run_topographic_correction(
        image, scene["dem"], str(folder / f"{method}_out.tif"), method=method, sun_azimuth=AZIMUTH,
        sun_elevation=ELEVATION, illumination_path=str(folder / f"{method}_cos.tif"))
    write_topographic_report(result, str(folder / f"{method}.html"))
    corrected, names, metadata = read(folder / f"{method}_out.tif")
    assert names == ["B4", "B5"] and metadata["SUN_ELEVATION"].startswith("35")
    cos_i, _, _ = read(folder / f"{method}_cos.tif")
    np.testing.assert_allclose(cos_i[0][INTERIOR], scene["cos_i"][INTERIOR], atol=1e-3)
    for band, row in enumerate(result.bands):
        if method != "cosine":
            assert row["parameter"] == pytest.approx(parameter[band], rel=0.05)
        assert row["r_before"] > 0.5
        assert abs(row["r_after"]) < 0.05
        np.testing.assert_allclose(corrected[band][INTERIOR], scene["truth"][band][INTERIOR], rtol=0.01)
    # The corrected values are the method's formula with the fitted parameter and written cos(i).
    cos_i = cos_i[0]
    fitted = [row["parameter"] or 0.0 for row in result.bands]
    cos_z = np.cos(np.radians(90 - ELEVATION))
    c = np.asarray(fitted)[:, None, None]
    direct = {"cosine": lambda: observed * cos_z / cos_i,
              "c": lambda: observed * (cos_z + c) / (cos_i + c),
              "scs_c": lambda: observed * (cos_z * np.cos(scene["slope"]) + c) / (cos_i + c),
              "minnaert": lambda: observed * np.power(cos_z / cos_i, c)}[method]()
    # SCS+C's cos(s) is the analytic slope here, Horn's in the code: a slightly wider tolerance.
    np.testing.assert_allclose(corrected[:, 2:-2, 2:-2], direct[:, 2:-2, 2:-2],
                               rtol=5e-4 if method == "scs_c" else 2e-6)
    html = Path(folder / f"{method}.html").read_text()
    assert "r with cos(i) before" in html and f"{result.bands[0]['r_before']:.4f}" in html


def test_fit_mask_limits_the_fit(scene):
    folder = scene["folder"]
    observed = illuminated("c", scene["truth"], scene["cos_i"], scene["slope"], [0.4, 1.2])
    # Outside the mask the band has another dependence: fitting there would change c.
    use = np.zeros((ROWS, COLS))
    use[:, : COLS // 2] = 1
    disturbed = observed.copy()
    disturbed[:, :, COLS // 2:] = scene["truth"][:, :, COLS // 2:] * (scene["cos_i"][:, COLS // 2:] + 5.0) / (
        np.cos(np.radians(55)) + 5.0)
    image = write_raster(folder / "fit.tif", list(disturbed), ["B4", "B5"], origin=ORIGIN, size=SIZE)
    mask = write_raster(folder / "use.tif", [use], ["USE"], origin=ORIGIN, size=SIZE)
    result = run_topographic_correction(
        image, scene["dem"], str(folder / "fit_out.tif"), sun_azimuth=AZIMUTH,
        sun_elevation=ELEVATION, fit_mask_path=mask)
    assert [row["parameter"] for row in result.bands] == pytest.approx([0.4, 1.2], rel=0.05)
    assert result.bands[0]["n_fit"] == ROWS * (COLS // 2)


def test_bad_inputs_stop_with_the_fix(scene, tmp_path):
    image = write_raster(tmp_path / "img.tif", [np.full((ROWS, COLS), 0.2)], ["B4"], origin=ORIGIN,
                         size=SIZE)
    far = write_raster(tmp_path / "far.tif", [np.full((50, 50), 100.0)], ["Z"],
                       origin=(700000.0, 3730000.0), size=SIZE)
    with pytest.raises(SoilMetalError, match="does not overlap.*Choose a DEM that covers"):
        run_topographic_correction(image, far, str(tmp_path / "a.tif"),
                                   sun_azimuth=100, sun_elevation=40)
    with pytest.raises(SoilMetalError, match="at or below the horizon.*SUN_ELEVATION"):
        run_topographic_correction(image, scene["dem"], str(tmp_path / "b.tif"),
                                   sun_azimuth=100, sun_elevation=-3)
    with pytest.raises(SoilMetalError, match="give SUN_AZIMUTH and SUN_ELEVATION"):
        run_topographic_correction(image, scene["dem"], str(tmp_path / "c.tif"))
    small = write_raster(tmp_path / "small.tif", [np.ones((5, 5))], ["USE"], origin=ORIGIN, size=SIZE)
    with pytest.raises(SoilMetalError, match="fitting mask .* 5 x 5 pixels"):
        run_topographic_correction(image, scene["dem"], str(tmp_path / "d.tif"),
                                   sun_azimuth=100, sun_elevation=40,
                                   fit_mask_path=small)
    assert not list(tmp_path.glob("[abcd].tif"))
    # Integers are corrected, with a warning that names the conversion to reflectance.
    integers = write_raster(tmp_path / "dn.tif", [np.full((ROWS, COLS), 2200.0) * (1 + 0.3 * scene["cos_i"])],
                            ["B4"], origin=ORIGIN, size=SIZE)
    result = run_topographic_correction(integers, scene["dem"], str(tmp_path / "e.tif"),
                                        sun_azimuth=100, sun_elevation=40)
    assert any("scaled integers" in w and "SCALE" in w for w in result.warnings)


def test_sentinel2_product_gives_the_sun_and_b_names(tmp_path):
    text = next(S2_SAFE.glob("GRANULE/*/MTD_TL.xml")).read_text()
    zenith = float(re.search(r"<Mean_Sun_Angle>\s*<ZENITH_ANGLE[^>]*>([\d.]+)<", text).group(1))
    azimuth = float(re.search(r"<AZIMUTH_ANGLE[^>]*>([\d.]+)<", text.split("<Mean_Sun_Angle>")[1]).group(1))
    band = gdal.Open(str(next(S2_SAFE.glob("GRANULE/*/IMG_DATA/R60m/*_B04_60m.jp2"))))
    gt = band.GetGeoTransform()
    rows, cols = np.mgrid[0:band.RasterYSize, 0:band.RasterXSize]
    z = 100 + 20 * np.sin(cols / 9.0) + 15 * np.cos(rows / 7.0)
    dem = tmp_path / "dem.tif"
    driver = gdal.GetDriverByName("GTiff").Create(str(dem), band.RasterXSize, band.RasterYSize, 1,
                                                  gdal.GDT_Float32)
    driver.SetGeoTransform(gt)
    driver.SetProjection(band.GetProjection())
    driver.GetRasterBand(1).WriteArray(z)
    driver = None
    result = run_topographic_correction(str(S2_SAFE), str(dem), str(tmp_path / "s2.tif"),
                                        method="cosine")
    assert result.sun_elevation == pytest.approx(90 - zenith)
    assert result.sun_azimuth == pytest.approx(azimuth)
    _, names, metadata = read(tmp_path / "s2.tif")
    assert names == ["B4", "B5", "B6"] and metadata["SENSOR"] == "Sentinel-2A MSI"
    assert result.masked_share > 0.3


def test_real_sentinel2_and_dem_of_luxembourg(tmp_path):
    source = gdal.Open(str(TERRA / "sent2_L2A_2024-08-24.tif"))
    dn = source.ReadAsArray().astype(np.float64)
    names = [source.GetRasterBand(i).GetDescription() for i in range(1, source.RasterCount + 1)]
    reflectance = (dn - 1000.0) / 10000.0     # baseline >= 04.00 offset (see README.txt)
    image = write_like(source, reflectance, tmp_path / "s2_reflectance.tif", names)
    # 2024-08-24 about 10:30 UTC (Sentinel-2's overpass) at 49.8 N 6.1 E: the sun at ~153 / 49 deg.
    result = run_topographic_correction(
        str(image), str(TERRA / "terra_elev.tif"), str(tmp_path / "corrected.tif"), method="c",
        sun_azimuth=153.0, sun_elevation=49.0)
    write_topographic_report(result, str(tmp_path / "terra.html"))
    corrected, written, _ = read(tmp_path / "corrected.tif")
    assert written == ["B02", "B03", "B04", "B08"]
    # On 1 km cells cos(i) hardly varies (std ~0.015) and no band brightens with it: the
    # correlation is already small and of the wrong sign for illumination, so C-correction
    # leaves every band as it is (and says so) instead of removing land-cover signal.
    for index, row in enumerate(result.bands):
        assert row["n_fit"] > 4000
        assert abs(row["r_before"]) < 0.1
        assert row["parameter"] is None and row["r_after"] == pytest.approx(row["r_before"])
        valid = np.isfinite(reflectance[index]) & np.isfinite(corrected[index])
        np.testing.assert_allclose(corrected[index][valid], reflectance[index][valid], rtol=1e-6)
    assert len(result.warnings) == 4 and all("left uncorrected" in w for w in result.warnings)
    assert "not corrected" in (tmp_path / "terra.html").read_text()


def test_landsat_mtl_gives_the_sun_and_masks_clouds(tmp_path):
    c2 = SCENES / "landsat8_c2l2"
    mtl = next(c2.glob("*_MTL.txt"))
    text = mtl.read_text()
    band = gdal.Open(str(next(c2.glob("*_SR_B4.TIF"))))
    rows, cols = np.mgrid[0:band.RasterYSize, 0:band.RasterXSize]
    dem = tmp_path / "dem.tif"
    out = gdal.GetDriverByName("GTiff").Create(str(dem), band.RasterXSize, band.RasterYSize, 1,
                                               gdal.GDT_Float32)
    out.SetGeoTransform(band.GetGeoTransform())
    out.SetProjection(band.GetProjection())
    out.GetRasterBand(1).WriteArray(300 + 200 * np.sin(cols / 10.0) * np.cos(rows / 12.0))
    out = None
    result = run_topographic_correction(str(mtl), str(dem), str(tmp_path / "c2.tif"),
                                        method="cosine")
    assert result.sun_elevation == pytest.approx(float(re.search(r"SUN_ELEVATION = (\S+)", text).group(1)))
    assert result.sun_azimuth == pytest.approx(float(re.search(r"SUN_AZIMUTH = (\S+)", text).group(1)))
    corrected, names, metadata = read(tmp_path / "c2.tif")
    assert names == ["B4", "B5"] and metadata["SENSOR"] == "Landsat 8 OLI"
    qa_data = gdal.Open(str(next(c2.glob("*_QA_PIXEL.TIF"))))
    qa = qa_data.GetRasterBand(1).ReadAsArray().astype(np.int64)
    assert np.isnan(corrected[:, (qa >> 3) & 1 == 1]).all()


def test_large_scene_is_fitted_on_a_block_sample_and_cancel_leaves_nothing(scene, tmp_path):
    from core.errors import Cancelled
    from core.monitor import Monitor
    observed = illuminated("c", scene["truth"], scene["cos_i"], scene["slope"], [0.4, 1.2])
    image = write_raster(tmp_path / "img.tif", list(observed), ["B4", "B5"], origin=ORIGIN, size=SIZE)
    progress = []
    result = run_topographic_correction(
        image, scene["dem"], str(tmp_path / "out.tif"), sun_azimuth=AZIMUTH, sun_elevation=ELEVATION,
        block_size=16, monitor=Monitor(progress=progress.append))
    assert result.fit_blocks == (16, 80)
    assert [row["parameter"] for row in result.bands] == pytest.approx([0.4, 1.2], rel=0.05)
    assert all(abs(row["r_after"]) < 0.05 for row in result.bands)
    assert progress == sorted(progress) and progress[-1] == pytest.approx(100.0)
    calls = []
    with pytest.raises(Cancelled):
        run_topographic_correction(
            image, scene["dem"], str(tmp_path / "cancelled.tif"), sun_azimuth=AZIMUTH,
            sun_elevation=ELEVATION, illumination_path=str(tmp_path / "cancelled_cos.tif"),
            block_size=16, monitor=Monitor(is_cancelled=lambda: calls.append(1) or len(calls) > 30))
    assert not list(tmp_path.glob("*cancelled*"))
