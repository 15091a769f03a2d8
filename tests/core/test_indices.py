"""Spectral factors: array functions and run_spectral_indices on the real Landsat 8 SR clips,
checked against an independent GDAL + NumPy computation written here."""

import os

import numpy as np
import pytest
from osgeo import gdal, osr

from core.science import indices
from core.workflows.spectral_indices import run_spectral_indices
from core.errors import Cancelled, SoilMetalError
from core.monitor import Monitor
from rasters import read_bands
from support import REAL_DATA

gdal.UseExceptions()

SR_DIR = str(REAL_DATA / "landsat8_sr")
SR_CLIPS = ["LC08_232066_20190727.tif", "LC08_003069_20180906_clip.tif"]
NAMES = ["B2", "B3", "B4", "B5", "B6", "B7", "NDVI", "EVI", "DVI", "RVI", "MNDWI", "CMR",
         "BRIGHTNESS", "GREENNESS", "WETNESS"]
# Baig et al. 2014, OLI B2..B7 (typed from the paper's table, not taken from the code).
BRIGHTNESS = [0.3029, 0.2786, 0.4733, 0.5599, 0.5080, 0.1872]
GREENNESS = [-0.2941, -0.2430, -0.5424, 0.7276, 0.0713, -0.1608]
WETNESS = [0.1511, 0.1973, 0.3283, 0.3407, -0.7117, -0.4559]


def read_with_gdal(path):
    """All bands as float64 (bands, rows, cols) with each band's nodata as NaN."""
    return np.array(list(read_bands(path).values()))


def divide(numerator, denominator):
    """Reference division: NaN where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, np.nan, numerator / np.where(denominator == 0, 1, denominator))


def expected_factors(blue, green, red, nir, swir1, swir2):
    """The paper's factors computed from first principles."""
    bands = [blue, green, red, nir, swir1, swir2]
    return {
        "B2": blue, "B3": green, "B4": red, "B5": nir, "B6": swir1, "B7": swir2,
        "NDVI": divide(nir - red, nir + red),
        "EVI": divide(2.5 * (nir - red), nir + 6 * red - 7.5 * blue + 1),
        "DVI": nir - red,
        "RVI": divide(nir, red),
        "MNDWI": divide(green - swir1, green + swir1),
        "CMR": divide(swir1, swir2),
        "BRIGHTNESS": sum(c * b for c, b in zip(BRIGHTNESS, bands)),
        "GREENNESS": sum(c * b for c, b in zip(GREENNESS, bands)),
        "WETNESS": sum(c * b for c, b in zip(WETNESS, bands)),
    }


def read_output(path):
    """(band descriptions, float64 stack with nodata as NaN, raw float32 stack, nodata values)."""
    dataset = gdal.Open(path)
    names, stack, raw, nodata = [], [], [], []
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        names.append(band.GetDescription())
        values = band.ReadAsArray()
        raw.append(values)
        nodata.append(band.GetNoDataValue())
        clean = values.astype(np.float64)
        clean[values == band.GetNoDataValue()] = np.nan
        stack.append(clean)
    return names, np.array(stack), np.array(raw), nodata


def write_raster(path, stack, nodata=None, epsg=32631, dtype=gdal.GDT_Float32):
    """A small north-up GeoTIFF (30 m) from a (bands, rows, cols) array."""
    bands, rows, cols = stack.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, dtype)
    dataset.SetGeoTransform((500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    dataset.SetProjection(srs.ExportToWkt())
    for index in range(bands):
        band = dataset.GetRasterBand(index + 1)
        band.WriteArray(stack[index])
        if nodata is not None:
            band.SetNoDataValue(nodata)
    dataset = None
    return str(path)


class Recorder:
    """Collects monitor messages."""

    def __init__(self):
        self.infos, self.warnings, self.progress = [], [], []
        self.monitor = Monitor(progress=self.progress.append, info=self.infos.append,
                               warning=self.warnings.append)


@pytest.mark.parametrize("clip", SR_CLIPS)
def test_real_clip_matches_independent_computation(tmp_path, clip):
    path = os.path.join(SR_DIR, clip)
    output = tmp_path / "factors.tif"
    recorder = Recorder()
    result = run_spectral_indices(path, str(output), bands=None, scale=2,
                                  factors=None, monitor=recorder.monitor)
    assert result.factors == NAMES
    assert result.warnings == [] and recorder.warnings == []
    assert recorder.progress and recorder.progress[-1] == pytest.approx(100.0)

    reflectance = read_with_gdal(path) * 0.0001   # six bands B2..B7, so bands 1-6
    expected = expected_factors(*reflectance)
    names, stack, raw, nodata = read_output(str(output))
    assert names == NAMES
    assert nodata == [-9999.0] * len(NAMES)
    assert np.isfinite(raw).all()
    for index, name in enumerate(NAMES):
        np.testing.assert_allclose(stack[index], expected[name], rtol=1e-6, atol=1e-5,
                                   err_msg=name)
    # Sanity on the science, not just agreement: a vegetated Amazon scene.
    assert np.nanmean(stack[NAMES.index("NDVI")]) > 0.3


def test_output_is_tiled_deflate_float32_with_georeferencing(tmp_path):
    path = os.path.join(SR_DIR, SR_CLIPS[0])
    output = str(tmp_path / "factors.tif")
    run_spectral_indices(path, output, scale=2, factors=["NDVI", "B4"])
    dataset = gdal.Open(output)
    source = gdal.Open(path)
    assert dataset.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
    band = dataset.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Float32
    block_x, block_y = band.GetBlockSize()
    assert block_y > 1 and block_x == block_y == 256  # tiled, not strips
    assert dataset.GetGeoTransform() == pytest.approx(source.GetGeoTransform())
    assert osr.SpatialReference(dataset.GetProjection()).IsSame(
        osr.SpatialReference(source.GetProjection()))
    # Chosen factors come out in the canonical order, whatever order they were asked in.
    assert [dataset.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["B4", "NDVI"]


def test_nodata_and_zero_denominators_become_nodata_not_inf(tmp_path):
    rows, cols = 4, 5
    rng = np.random.default_rng(1)
    stack = rng.uniform(500, 3000, size=(6, rows, cols)).astype(np.float32)
    stack[:, 0, 0] = -9999            # nodata in every band
    stack[3, 0, 1] = -9999            # nodata in nir only
    stack[2, 1, 1] = 0                # red 0 -> RVI denominator 0
    stack[3, 1, 2] = 0                # nir = red = 0 -> NDVI 0/0, RVI 0/0
    stack[2, 1, 2] = 0
    stack[5, 2, 2] = 0                # swir2 0 -> CMR x/0
    stack[1, 3, 3] = 0                # green = swir1 = 0 -> MNDWI 0/0
    stack[4, 3, 3] = 0
    path = write_raster(tmp_path / "synthetic.tif", stack, nodata=-9999)
    output = str(tmp_path / "factors.tif")
    run_spectral_indices(path, output, scale=2)
    names, clean, raw, _ = read_output(output)
    assert np.isfinite(raw).all()           # no inf or NaN written, only the nodata value
    at = {name: raw[names.index(name)] for name in names}
    for name in NAMES:
        assert at[name][0, 0] == -9999.0
    for name in ("B5", "NDVI", "EVI", "DVI", "RVI", "BRIGHTNESS", "GREENNESS", "WETNESS"):
        assert at[name][0, 1] == -9999.0, name
    assert at["B2"][0, 1] != -9999.0        # a band not needing nir keeps its value
    assert at["RVI"][1, 1] == -9999.0 and at["NDVI"][1, 1] != -9999.0
    assert at["NDVI"][1, 2] == -9999.0 and at["RVI"][1, 2] == -9999.0
    assert at["DVI"][1, 2] == 0.0           # N - R is defined
    assert at["CMR"][2, 2] == -9999.0
    assert at["MNDWI"][3, 3] == -9999.0
    reference = expected_factors(*(np.where(stack == -9999, np.nan, stack) * 0.0001))
    for index, name in enumerate(names):
        np.testing.assert_allclose(clean[index], reference[name], rtol=1e-6, atol=1e-6)


def test_compute_factors_reads_only_needed_bands_and_never_returns_inf():
    red = np.array([0.0, 0.1, np.nan, 1e-300])
    nir = np.array([0.0, 0.3, 0.2, 0.5])
    result = indices.compute_factors({"red": red, "nir": nir}, ["RVI", "NDVI", "DVI"])
    assert list(result) == ["NDVI", "DVI", "RVI"]
    assert np.isnan(result["NDVI"][0]) and np.isnan(result["RVI"][0])
    assert result["NDVI"][1] == pytest.approx(0.5)
    assert result["RVI"][1] == pytest.approx(3.0)
    assert np.isnan(result["RVI"][2]) and np.isnan(result["DVI"][2])
    assert np.isnan(result["RVI"][3])       # finite in float64 but would be inf in Float32
    assert not np.isinf(np.concatenate(list(result.values()))).any()
    with pytest.raises(ValueError):
        indices.compute_factors({"red": red}, ["NDVI"])
    assert indices.bands_needed(["CMR"]) == ["swir1", "swir2"]
    assert indices.bands_needed(["EVI", "B3"]) == ["blue", "green", "red", "nir"]


def test_tasseled_cap_and_evi_on_one_pixel():
    bands = {"blue": 0.05, "green": 0.08, "red": 0.06, "nir": 0.35, "swir1": 0.18, "swir2": 0.09}
    arrays = {key: np.array([value]) for key, value in bands.items()}
    result = indices.compute_factors(arrays, ["EVI", "BRIGHTNESS", "GREENNESS", "WETNESS"])
    values = [bands[key] for key in ("blue", "green", "red", "nir", "swir1", "swir2")]
    assert result["BRIGHTNESS"][0] == pytest.approx(np.dot(BRIGHTNESS, values))
    assert result["GREENNESS"][0] == pytest.approx(np.dot(GREENNESS, values))
    assert result["WETNESS"][0] == pytest.approx(np.dot(WETNESS, values))
    assert result["EVI"][0] == pytest.approx(2.5 * 0.29 / (0.35 + 0.36 - 0.375 + 1))


def test_scale_conversions():
    dn = np.array([0.0, 10000.0, 43636.0, np.nan])
    c2 = indices.to_reflectance(dn, indices.Scale.LANDSAT_C2_L2)
    assert np.isnan(c2[0]) and np.isnan(c2[3])          # 0 is Collection 2 fill
    assert c2[1] == pytest.approx(10000 * 0.0000275 - 0.2)
    assert c2[2] == pytest.approx(43636 * 0.0000275 - 0.2)
    e4 = indices.to_reflectance(dn, 2)
    assert e4[0] == 0.0 and e4[1] == pytest.approx(1.0)
    same = indices.to_reflectance(np.array([0.25]), 0)
    assert same[0] == 0.25


def test_looks_like_scaled_integers():
    assert indices.looks_like_scaled_integers(np.array([450.0, 800.0, 2400.0, np.nan]))
    assert not indices.looks_like_scaled_integers(np.array([0.04, 0.08, 0.3, 0.45, np.nan]))
    assert not indices.looks_like_scaled_integers(np.array([np.nan, np.nan]))
    # A few bright outliers do not make reflectance look scaled.
    assert not indices.looks_like_scaled_integers(np.array([0.1] * 50 + [5000.0] * 3))


def test_a_scale_that_does_not_fit_stops_naming_the_right_scale(tmp_path):
    # Changed by issue 13: a wrong SCALE used to warn and write factors that are not
    # reflectance; now it stops, naming the SCALE that fits, unless accept_scale is set.
    path = os.path.join(SR_DIR, SR_CLIPS[1])
    with pytest.raises(SoilMetalError, match=r"SCALE=2 \(integers x 0.0001\)"):
        run_spectral_indices(path, str(tmp_path / "a.tif"), scale=0, factors=["NDVI"])
    assert not (tmp_path / "a.tif").exists()
    recorder = Recorder()
    result = run_spectral_indices(path, str(tmp_path / "a.tif"), scale=0, factors=["NDVI"],
                                  accept_scale=True, monitor=recorder.monitor)
    assert len(recorder.warnings) == 1 and "SCALE=2" in recorder.warnings[0]
    assert result.warnings == recorder.warnings
    # Reflectance data read as integers: SCALE=0 is named.
    reflectance = read_with_gdal(path).astype(np.float32) * np.float32(0.0001)
    stack_path = write_raster(tmp_path / "reflectance.tif", reflectance)
    with pytest.raises(SoilMetalError, match=r"SCALE=0 \(reflectance 0-1\)"):
        run_spectral_indices(stack_path, str(tmp_path / "b.tif"), scale=2, factors=["NDVI"])
    recorder = Recorder()
    run_spectral_indices(stack_path, str(tmp_path / "c.tif"), scale=0,
                         factors=["NDVI"], monitor=recorder.monitor)
    assert recorder.warnings == []
    # Collection 2 Level-2 integers (reflectance 0 = DN 7273) read as integers x 0.0001.
    c2 = (reflectance / np.float32(0.0000275) + np.float32(7273)).astype(np.float32)
    c2_path = write_raster(tmp_path / "c2.tif", c2)
    with pytest.raises(SoilMetalError, match=r"SCALE=1 \(Landsat Collection 2"):
        run_spectral_indices(c2_path, str(tmp_path / "d.tif"), scale=2, factors=["NDVI"])
    run_spectral_indices(c2_path, str(tmp_path / "d.tif"), scale=1, factors=["NDVI"])
    # Values that are no reflectance under any SCALE (4e9 with SCALE=1).
    huge_path = write_raster(tmp_path / "huge.tif", np.full_like(reflectance, 4e9))
    with pytest.raises(SoilMetalError, match="No SCALE fits"):
        run_spectral_indices(huge_path, str(tmp_path / "e.tif"), scale=1, factors=["NDVI"])


def test_fewer_bands_than_named_is_refused_and_leaves_no_file(tmp_path):
    stack = np.ones((3, 4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "three.tif", stack)
    output = tmp_path / "out" / "factors.tif"
    with pytest.raises(SoilMetalError) as error:
        run_spectral_indices(path, str(output), scale=0)
    message = str(error.value)
    assert "3 band(s)" in message and "BAND_" in message
    assert not output.exists()
    assert not output.parent.exists() or os.listdir(output.parent) == []
    with pytest.raises(SoilMetalError, match="3 band"):
        run_spectral_indices(path, str(output), bands=(1, 2, 3, 4, 5, 6), scale=0,
                             factors=["NDVI"])


def test_default_bands_depend_on_band_count_and_only_needed_bands_are_validated(tmp_path):
    rng = np.random.default_rng(2)
    seven = rng.uniform(0.01, 0.5, size=(7, 3, 4)).astype(np.float32)
    path = write_raster(tmp_path / "seven.tif", seven)
    output = str(tmp_path / "ndvi7.tif")
    run_spectral_indices(path, output, factors=["NDVI"])
    _, stack, _, _ = read_output(output)
    red, nir = seven[3].astype(np.float64), seven[4].astype(np.float64)   # bands 4 and 5
    np.testing.assert_allclose(stack[0], (nir - red) / (nir + red), rtol=1e-6)
    # A 4-band blue/green/red/nir stack is enough for NDVI with the 1-6 default.
    four = seven[:4]
    path4 = write_raster(tmp_path / "four.tif", four)
    output4 = str(tmp_path / "ndvi4.tif")
    run_spectral_indices(path4, output4, factors=["NDVI"])
    _, stack4, _, _ = read_output(output4)
    red, nir = four[2].astype(np.float64), four[3].astype(np.float64)
    np.testing.assert_allclose(stack4[0], (nir - red) / (nir + red), rtol=1e-6)
    # Explicit band choice.
    output_b = str(tmp_path / "b.tif")
    run_spectral_indices(path, output_b, bands=(7, 6, 5, 4, 3, 2), factors=["B2", "B7"])
    _, stack_b, _, _ = read_output(output_b)
    np.testing.assert_allclose(stack_b[0], seven[6], rtol=1e-7)
    np.testing.assert_allclose(stack_b[1], seven[1], rtol=1e-7)


def test_unknown_factor_is_refused():
    with pytest.raises(SoilMetalError, match="NDWI"):
        indices.normalise_factors(["NDVI", "NDWI"])
    assert indices.normalise_factors(["wetness", "b2", "B2"]) == ["B2", "WETNESS"]


def test_small_blocks_give_the_same_result(tmp_path):
    path = os.path.join(SR_DIR, SR_CLIPS[0])
    whole, tiled = str(tmp_path / "whole.tif"), str(tmp_path / "tiled.tif")
    run_spectral_indices(path, whole, scale=2)
    run_spectral_indices(path, tiled, scale=2, block_size=64)
    np.testing.assert_array_equal(read_output(whole)[2], read_output(tiled)[2])


def test_cancel_leaves_no_output(tmp_path):
    path = os.path.join(SR_DIR, SR_CLIPS[0])
    output = tmp_path / "factors.tif"
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        run_spectral_indices(path, str(output), scale=2, block_size=64,
                             monitor=Monitor(is_cancelled=cancelled))
    assert os.listdir(tmp_path) == []


def test_run_statistics_describe_the_written_bands(tmp_path):
    path = os.path.join(SR_DIR, SR_CLIPS[0])
    output = tmp_path / "factors.tif"
    result = run_spectral_indices(path, str(output), scale=2, factors=["B4", "NDVI"], block_size=64)
    written = read_bands(str(output))
    assert [row["band"] for row in result.statistics] == ["B4", "NDVI"]
    for row in result.statistics:
        values = written[row["band"]]
        finite = values[np.isfinite(values)]
        assert row["valid"] == finite.size > 0
        assert row["min"] == pytest.approx(finite.min(), rel=1e-6)
        assert row["max"] == pytest.approx(finite.max(), rel=1e-6)
        assert row["mean"] == pytest.approx(finite.mean(), rel=1e-5)
