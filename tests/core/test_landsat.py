"""Landsat MTL parsing and the MTL input of run_spectral_indices, on the real Level-1 clip
and on Collection 2 MTL files written here around copies of its band files."""

import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from core.science import indices
from core.workflows.spectral_indices import run_spectral_indices
from core import landsat
from core.errors import SoilMetalError
from core.monitor import Monitor
from support import REAL_DATA

gdal.UseExceptions()

L1_DIR = str(REAL_DATA / "landsat8_l1")
L1_MTL = os.path.join(L1_DIR, "l8_MTL.txt")
OLI = {"B2": 2, "B3": 3, "B4": 4, "B5": 5, "B6": 6, "B7": 7}

C2_L2_PRODUCT = "LC08_L2SP_020039_20150804_20200908_02_T1"
C2_L1_PRODUCT = "LC08_L1TP_020039_20150804_20200908_02_T1"


def mtl_value(text, key, group=None):
    """A numeric MTL value found with a regex (optionally only inside one GROUP)."""
    if group:
        text = re.search(rf"GROUP = {group}\n(.*?)END_GROUP = {group}", text, re.S).group(1)
    return float(re.search(rf"^\s*{key} = (\S+)\s*$", text, re.M).group(1))


def read_dn(path):
    """The first band of a raster as float64."""
    dataset = gdal.Open(path)
    return dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)


def read_output(path):
    """{band description: (float64 with nodata as NaN, raw float32)} of a factor raster."""
    dataset = gdal.Open(path)
    out = {}
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        raw = band.ReadAsArray()
        clean = raw.astype(np.float64)
        clean[raw == band.GetNoDataValue()] = np.nan
        out[band.GetDescription()] = (clean, raw)
    return out


def write_copy(source, target, fill_pixels=()):
    """Copy a UInt16 band file, setting the given (row, col) pixels to DN 0 (fill)."""
    dataset = gdal.GetDriverByName("GTiff").CreateCopy(str(target), gdal.Open(source))
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray()
    for row, col in fill_pixels:
        values[row, col] = 0
    band.WriteArray(values)
    dataset = None


def collection2_mtl(level, sun_elevation=64.74360932):
    """A Collection 2 MTL in the layout USGS delivers (trimmed to the groups that matter)."""
    product = C2_L2_PRODUCT if level == "L2" else C2_L1_PRODUCT
    suffix = "_SR_B" if level == "L2" else "_B"
    files = "\n".join(f'    FILE_NAME_BAND_{n} = "{product}{suffix}{n}.TIF"' for n in range(1, 8))
    l1 = "\n".join(f"    REFLECTANCE_MULT_BAND_{n} = 2.0000E-05\n    REFLECTANCE_ADD_BAND_{n} = -0.100000"
                   for n in range(1, 10))
    lines = ["GROUP = LANDSAT_METADATA_FILE", "  GROUP = PRODUCT_CONTENTS",
             '    ORIGIN = "Image courtesy of the U.S. Geological Survey"',
             f'    LANDSAT_PRODUCT_ID = "{product}"',
             f'    PROCESSING_LEVEL = "{"L2SP" if level == "L2" else "L1TP"}"',
             files, f'    FILE_NAME_METADATA_ODL = "{product}_MTL.txt"',
             "  END_GROUP = PRODUCT_CONTENTS", "  GROUP = IMAGE_ATTRIBUTES",
             '    SPACECRAFT_ID = "LANDSAT_8"', "    SUN_AZIMUTH = 115.87210674",
             f"    SUN_ELEVATION = {sun_elevation}", "  END_GROUP = IMAGE_ATTRIBUTES"]
    if level == "L2":
        l2 = "\n".join(f"    REFLECTANCE_MULT_BAND_{n} = 2.75E-05\n    REFLECTANCE_ADD_BAND_{n} = -0.2"
                       for n in range(1, 8))
        lines += ["  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
                  "    REFLECTANCE_MAXIMUM_BAND_1 = 1.602213",
                  "    QUANTIZE_CAL_MAX_BAND_1 = 65535", l2,
                  "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"]
    lines += ["  GROUP = LEVEL1_RADIOMETRIC_RESCALING", "    RADIANCE_MULT_BAND_1 = 1.2198E-02", l1,
              "  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING", "END_GROUP = LANDSAT_METADATA_FILE", "END"]
    return "\n".join(lines) + "\n"


def make_collection2_product(folder, level, fill_pixels=(), sun_elevation=64.74360932):
    """Write a Collection 2 MTL and copies of the real B2..B7 DN files under its file names."""
    product = C2_L2_PRODUCT if level == "L2" else C2_L1_PRODUCT
    suffix = "_SR_B" if level == "L2" else "_B"
    for n in range(2, 8):
        write_copy(os.path.join(L1_DIR, f"l8_B{n}.tif"), folder / f"{product}{suffix}{n}.TIF",
                   fill_pixels)
    mtl = folder / f"{product}_MTL.txt"
    mtl.write_text(collection2_mtl(level, sun_elevation))
    return str(mtl)


def test_parse_collection1_level1_mtl():
    product = landsat.read_landsat_product(L1_MTL)
    text = Path(L1_MTL).read_text()
    assert product.level == "L1"
    assert product.scene_id == "LC80200392015216LGN00"
    assert product.sun_elevation == mtl_value(text, "SUN_ELEVATION")
    for n in range(1, 10):
        assert product.multiplier[n] == mtl_value(text, f"REFLECTANCE_MULT_BAND_{n}")
        assert product.addend[n] == mtl_value(text, f"REFLECTANCE_ADD_BAND_{n}")
    assert product.file_names[4] == "LC80200392015216LGN00_B4.TIF"
    # The clip renamed the files: the *_B<n>.tif fallback finds them.
    assert product.band_path(4) == os.path.join(L1_DIR, "l8_B4.tif")
    assert product.band_path(7) == os.path.join(L1_DIR, "l8_B7.tif")
    assert landsat.is_mtl_file(L1_MTL)
    assert not landsat.is_mtl_file(os.path.join(L1_DIR, "l8_B4.tif"))
    assert not landsat.is_mtl_file(os.path.join(L1_DIR, "LICENSE.txt"))


def test_level1_mtl_gives_toa_reflectance(tmp_path):
    output = str(tmp_path / "toa.tif")
    infos = []
    result = run_spectral_indices(L1_MTL, output, scale=2, mask=[],
                                  monitor=Monitor(info=infos.append))
    assert result.factors == list(indices.ALL_FACTORS)
    assert any("SCALE are ignored" in message for message in infos)
    text = Path(L1_MTL).read_text()
    sine = math.sin(math.radians(mtl_value(text, "SUN_ELEVATION")))
    written = read_output(output)
    toa = {}
    for name, n in OLI.items():
        gain = mtl_value(text, f"REFLECTANCE_MULT_BAND_{n}", "RADIOMETRIC_RESCALING")
        offset = mtl_value(text, f"REFLECTANCE_ADD_BAND_{n}", "RADIOMETRIC_RESCALING")
        toa[name] = (gain * read_dn(os.path.join(L1_DIR, f"l8_B{n}.tif")) + offset) / sine
        np.testing.assert_allclose(written[name][0], toa[name], rtol=1e-6, atol=1e-6, err_msg=name)
    ndvi = (toa["B5"] - toa["B4"]) / (toa["B5"] + toa["B4"])
    np.testing.assert_allclose(written["NDVI"][0], ndvi, rtol=1e-6, atol=1e-6)
    cmr = toa["B6"] / toa["B7"]
    np.testing.assert_allclose(written["CMR"][0], cmr, rtol=1e-6, atol=1e-6)
    # Plausible TOA reflectance for a partly cloudy summer scene.
    assert 0.0 < np.nanmin(written["B2"][0]) and np.nanmax(written["B5"][0]) < 1.3
    gt = gdal.Open(output).GetGeoTransform()
    assert gt == pytest.approx(gdal.Open(os.path.join(L1_DIR, "l8_B2.tif")).GetGeoTransform())


def test_dn_zero_is_nodata(tmp_path):
    folder = tmp_path / "scene"
    folder.mkdir()
    for n in range(2, 8):
        write_copy(os.path.join(L1_DIR, f"l8_B{n}.tif"), folder / f"l8_B{n}.tif",
                   fill_pixels=[(0, 0), (10, 20)] if n == 4 else [(0, 0)])
    shutil.copy(L1_MTL, folder / "l8_MTL.txt")
    output = str(tmp_path / "toa.tif")
    run_spectral_indices(str(folder / "l8_MTL.txt"), output)
    written = read_output(output)
    for name in indices.ALL_FACTORS:
        assert written[name][1][0, 0] == -9999.0, name
        assert np.isfinite(written[name][1]).all()
    assert written["B4"][1][10, 20] == -9999.0 and written["NDVI"][1][10, 20] == -9999.0
    assert written["B5"][1][10, 20] != -9999.0 and written["MNDWI"][1][10, 20] != -9999.0


def test_collection2_level2_uses_surface_reflectance_group_without_sun(tmp_path):
    mtl = make_collection2_product(tmp_path, "L2", fill_pixels=[(5, 5)])
    product = landsat.read_landsat_product(mtl)
    assert product.level == "L2"
    assert product.coefficients(4) == pytest.approx((2.75e-05, -0.2))
    assert product.band_path(4).endswith(f"{C2_L2_PRODUCT}_SR_B4.TIF")
    output = str(tmp_path / "out" / "sr.tif")
    run_spectral_indices(mtl, output, factors=["B4", "B5", "NDVI"])
    written = read_output(output)
    red = read_dn(product.band_path(4)) * 2.75e-05 - 0.2
    nir = read_dn(product.band_path(5)) * 2.75e-05 - 0.2
    red[5, 5] = nir[5, 5] = np.nan
    np.testing.assert_allclose(written["B4"][0], red, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(written["NDVI"][0], (nir - red) / (nir + red), rtol=1e-5, atol=1e-5)
    assert written["B4"][1][5, 5] == -9999.0


def test_collection2_level1_uses_level1_group_and_sun(tmp_path):
    mtl = make_collection2_product(tmp_path, "L1", sun_elevation=40.0)
    product = landsat.read_landsat_product(mtl)
    assert product.level == "L1" and product.sun_elevation == 40.0
    gain, offset = product.coefficients(3)
    sine = math.sin(math.radians(40.0))
    assert gain == pytest.approx(2.0e-05 / sine) and offset == pytest.approx(-0.1 / sine)
    dn = np.array([0.0, 10000.0, np.nan])
    reflectance = product.reflectance(3, dn)
    assert np.isnan(reflectance[0]) and np.isnan(reflectance[2])
    assert reflectance[1] == pytest.approx((2.0e-05 * 10000 - 0.1) / sine)
    assert product.band_path(3).endswith(f"{C2_L1_PRODUCT}_B3.TIF")


def test_missing_band_file_names_file_and_folder(tmp_path):
    shutil.copy(L1_MTL, tmp_path / "l8_MTL.txt")
    output = tmp_path / "factors.tif"
    with pytest.raises(SoilMetalError) as error:
        run_spectral_indices(str(tmp_path / "l8_MTL.txt"), str(output))
    message = str(error.value)
    assert "LC80200392015216LGN00_B2.TIF" in message and str(tmp_path) in message
    assert not output.exists()


def test_only_the_bands_needed_must_exist(tmp_path):
    for n in (4, 5):
        shutil.copy(os.path.join(L1_DIR, f"l8_B{n}.tif"), tmp_path / f"l8_B{n}.tif")
    shutil.copy(L1_MTL, tmp_path / "l8_MTL.txt")
    output = str(tmp_path / "ndvi.tif")
    result = run_spectral_indices(str(tmp_path / "l8_MTL.txt"), output, factors=["NDVI"])
    assert result.factors == ["NDVI"]
    with pytest.raises(SoilMetalError, match="_B6.TIF"):
        run_spectral_indices(str(tmp_path / "l8_MTL.txt"), str(tmp_path / "cmr.tif"),
                             factors=["CMR"])
    assert not (tmp_path / "cmr.tif").exists()


def test_not_an_mtl_or_no_coefficients_is_a_clear_error(tmp_path):
    bogus = tmp_path / "notes_MTL.txt"
    bogus.write_text("hello\n")
    with pytest.raises(SoilMetalError, match="not a Landsat MTL"):
        landsat.read_landsat_product(str(bogus))
    stripped = tmp_path / "stripped_MTL.txt"
    stripped.write_text("GROUP = L1_METADATA_FILE\n  GROUP = IMAGE_ATTRIBUTES\n    SUN_ELEVATION = 30\n"
                        "  END_GROUP = IMAGE_ATTRIBUTES\nEND_GROUP = L1_METADATA_FILE\nEND\n")
    with pytest.raises(SoilMetalError, match="REFLECTANCE_MULT_BAND"):
        landsat.read_landsat_product(str(stripped))
