"""spectralindices through processing.run: factors written vs NumPy on the real Landsat 8 clips,
band choices, factor subsets, Landsat MTL input and bad inputs that leave nothing behind."""

import os
import re

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProperty

from processing_feedback import KeepingFeedback
from rasters import read_bands as read_band_dict, write_raster
from support import REAL_DATA

SR_DIR = REAL_DATA / "landsat8_sr"
SR_CLIPS = ["LC08_232066_20190727.tif", "LC08_003069_20180906_clip.tif"]
MTL = REAL_DATA / "landsat8_l1" / "l8_MTL.txt"
ALL_NAMES = ["B2", "B3", "B4", "B5", "B6", "B7", "NDVI", "EVI", "DVI", "RVI", "MNDWI", "CMR",
             "BRIGHTNESS", "GREENNESS", "WETNESS"]


def read_bands(path):
    """Every band as float64 (bands, rows, cols), each band's nodata as NaN; descriptions."""
    bands = read_band_dict(path)
    return np.array(list(bands.values())), list(bands)


def ratio(numerator, denominator):
    """numerator / denominator with NaN where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, np.nan, numerator / np.where(denominator == 0, 1, denominator))


def assert_same(actual, expected):
    """Equal within 1e-5 (absolute or relative), NaN exactly where expected is NaN."""
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    valid = ~np.isnan(expected)
    np.testing.assert_allclose(actual[valid], expected[valid], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clip", SR_CLIPS)
def test_all_factors_of_the_real_clips_equal_numpy(run_alg, tmp_path, clip):
    source = SR_DIR / clip
    result = run_alg("spectralindices", {"INPUT": str(source), "SCALE": 2,
                                         "OUTPUT": str(tmp_path / "factors.tif")})
    assert set(result) == {"OUTPUT", "FACTOR_NAMES", "MASKED_SHARE"}
    assert result["MASKED_SHARE"] == 0.0   # a raster without a QA band: nothing masked
    assert result["FACTOR_NAMES"] == ",".join(ALL_NAMES)
    written, names = read_bands(result["OUTPUT"])
    assert names == ALL_NAMES
    raw, _ = read_bands(source)
    blue, green, red, nir, swir1, swir2 = raw * 0.0001
    factor = dict(zip(names, written))
    for name, band in zip(ALL_NAMES[:6], (blue, green, red, nir, swir1, swir2)):
        assert_same(factor[name], band)
    assert_same(factor["NDVI"], ratio(nir - red, nir + red))
    assert_same(factor["EVI"], ratio(2.5 * (nir - red), nir + 6 * red - 7.5 * blue + 1))
    assert_same(factor["CMR"], ratio(swir1, swir2))
    assert_same(factor["DVI"], nir - red)
    assert_same(factor["RVI"], ratio(nir, red))
    # Baig et al. (2014) brightness, typed from the paper rather than taken from core.
    brightness = (0.3029 * blue + 0.2786 * green + 0.4733 * red + 0.5599 * nir + 0.5080 * swir1
                  + 0.1872 * swir2)
    assert_same(factor["BRIGHTNESS"], brightness)
    output = gdal.Open(result["OUTPUT"])
    reference = gdal.Open(str(source))
    assert output.GetGeoTransform() == reference.GetGeoTransform()
    assert output.GetRasterBand(1).DataType == gdal.GDT_Float32


def test_a_subset_of_factors_is_written_in_canonical_order(run_alg, tmp_path):
    source = SR_DIR / SR_CLIPS[0]
    # CMR, NDVI, B2 asked in that order: written as B2, NDVI, CMR.
    result = run_alg("spectralindices", {"INPUT": str(source), "SCALE": 2, "FACTORS": [11, 6, 0],
                                         "OUTPUT": str(tmp_path / "subset.tif")})
    assert result["FACTOR_NAMES"] == "B2,NDVI,CMR"
    written, names = read_bands(result["OUTPUT"])
    assert names == ["B2", "NDVI", "CMR"]
    raw, _ = read_bands(source)
    blue, _, red, nir, swir1, swir2 = raw * 0.0001
    assert_same(written[0], blue)
    assert_same(written[1], ratio(nir - red, nir + red))
    assert_same(written[2], ratio(swir1, swir2))


def test_explicit_band_numbers_are_honoured(run_alg, tmp_path):
    source = SR_DIR / SR_CLIPS[0]
    # Red and near infrared swapped: NDVI changes sign, B4 is the clip's band 4.
    result = run_alg("spectralindices", {"INPUT": str(source), "SCALE": 2, "BAND_RED": 4, "BAND_NIR": 3,
                                         "FACTORS": [2, 3, 6], "OUTPUT": str(tmp_path / "swapped.tif")})
    written, names = read_bands(result["OUTPUT"])
    assert names == ["B4", "B5", "NDVI"]
    raw, _ = read_bands(source)
    red, nir = raw[3] * 0.0001, raw[2] * 0.0001
    assert_same(written[0], red)
    assert_same(written[1], nir)
    assert_same(written[2], ratio(nir - red, nir + red))
    default = run_alg("spectralindices", {"INPUT": str(source), "SCALE": 2, "FACTORS": [6],
                                          "OUTPUT": str(tmp_path / "default.tif")})
    default_ndvi, _ = read_bands(default["OUTPUT"])
    assert_same(written[2], -default_ndvi[0])
    assert np.nanmean(default_ndvi[0]) > 0.3        # a vegetated scene: the default order is right


def test_seven_band_stack_defaults_to_bands_2_to_7(run_alg, tmp_path):
    rng = np.random.default_rng(11)
    arrays = [rng.uniform(0.01, 0.5, (12, 15)) for _ in range(7)]
    stack = write_raster(tmp_path / "oli7.tif", arrays, [None] * 7)
    result = run_alg("spectralindices", {"INPUT": stack, "FACTORS": [0, 5, 7],
                                         "OUTPUT": str(tmp_path / "out.tif")})
    written, names = read_bands(result["OUTPUT"])
    assert names == ["B2", "B7", "EVI"]
    blue, red, nir = (np.asarray(arrays[i], dtype=np.float32).astype(np.float64) for i in (1, 3, 4))
    assert_same(written[0], blue)
    assert_same(written[1], np.asarray(arrays[6], dtype=np.float32).astype(np.float64))
    assert_same(written[2], ratio(2.5 * (nir - red), nir + 6 * red - 7.5 * blue + 1))


def test_integers_read_as_reflectance_stop_naming_the_scale_unless_accepted(run_alg, tmp_path):
    # Changed by issue 13: this used to warn and write factors that are not reflectance.
    output = tmp_path / "unscaled.tif"
    with pytest.raises(QgsProcessingException, match=r"Set SCALE=2 \(integers x 0.0001\)"):
        run_alg("spectralindices", {"INPUT": str(SR_DIR / SR_CLIPS[0]), "SCALE": 0, "FACTORS": [6],
                                    "OUTPUT": str(output)})
    assert not output.exists()
    feedback = KeepingFeedback()
    run_alg("spectralindices", {"INPUT": str(SR_DIR / SR_CLIPS[0]), "SCALE": 0, "FACTORS": [6],
                                "ACCEPT_SCALE": True, "OUTPUT": str(output)}, feedback=feedback)
    assert any("SCALE=2" in warning for warning in feedback.warnings), feedback.warnings
    assert output.exists()


def test_landsat_mtl_input_gives_top_of_atmosphere_reflectance(run_alg, tmp_path):
    text = MTL.read_text()

    def value(key):
        return float(re.search(rf"^\s*{key}\s*=\s*(\S+)", text, re.M).group(1))

    sine = np.sin(np.radians(value("SUN_ELEVATION")))
    for input_value in (str(MTL), QgsProperty.fromValue(str(MTL))):
        output = tmp_path / f"toa_{type(input_value).__name__}.tif"
        result = run_alg("spectralindices", {"INPUT": input_value, "SCALE": 2, "BAND_RED": 6,
                                             "FACTORS": [2, 3, 6], "MASK": [],
                                             "OUTPUT": str(output)})
        assert result["FACTOR_NAMES"] == "B4,B5,NDVI"
        written, _ = read_bands(result["OUTPUT"])
        toa = {}
        for number in (4, 5):
            dataset = gdal.Open(str(MTL.parent / f"l8_B{number}.tif"))
            dn = dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)
            reflectance = (value(f"REFLECTANCE_MULT_BAND_{number}") * dn
                           + value(f"REFLECTANCE_ADD_BAND_{number}")) / sine
            reflectance[dn == 0] = np.nan
            toa[number] = reflectance
        # SCALE and BAND_RED are ignored: the MTL's own coefficients and band files are used.
        assert_same(written[0], toa[4])
        assert_same(written[1], toa[5])
        assert_same(written[2], ratio(toa[5] - toa[4], toa[5] + toa[4]))


def test_a_text_file_that_is_not_an_mtl_is_refused(run_alg, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a Landsat product\n")
    with pytest.raises(QgsProcessingException, match="neither a raster QGIS can open nor a Landsat 8"):
        run_alg("spectralindices", {"INPUT": str(notes), "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")


def test_a_raster_with_too_few_bands_is_refused(run_alg, tmp_path):
    three = write_raster(tmp_path / "rgb.tif", [np.full((6, 6), 0.1)] * 3, ["R", "G", "B"])
    with pytest.raises(QgsProcessingException, match=r"has 3 band\(s\), but band 4 is used as the nir band"):
        run_alg("spectralindices", {"INPUT": three, "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")


def test_a_band_number_beyond_the_band_count_is_refused(run_alg, tmp_path):
    message = r"has 6 band\(s\), but band 9 is used as the swir1 band"
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("spectralindices", {"INPUT": str(SR_DIR / SR_CLIPS[1]), "SCALE": 2, "BAND_SWIR1": 9,
                                    "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")
    assert not [name for name in os.listdir(tmp_path) if name.startswith("x")]


def test_a_missing_input_file_is_named(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="was not found"):
        run_alg("spectralindices", {"INPUT": str(tmp_path / "LC08_missing_MTL.txt"),
                                    "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")
