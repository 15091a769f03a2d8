"""spectralindices S2_RESOLUTION: a Sentinel-2 L2A product on a chosen 10 or 20 m grid. The test
product holds 60 m bands only, so every band is resampled; the result is checked against each
60 m pixel repeated k x k times (nearest neighbour onto a grid k times finer, computed here
independently from the raw integers and the metadata's offset and quantification)."""

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

SAFE = (Path(__file__).resolve().parents[1] / "data" / "scenes" / "sentinel2_l2a"
        / "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE")


def raw(band):
    """The 60 m DN of a band ('B04', 'B8A', 'SCL') as float64, and its geotransform."""
    dataset = gdal.Open(str(next(SAFE.glob(f"GRANULE/*/IMG_DATA/R60m/*_{band}_60m.jp2"))))
    values = dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)
    return values, dataset.GetGeoTransform()


def finer(values, k):
    """Each pixel as a k x k block."""
    return np.kron(values, np.ones((k, k)))


def reflectance(dn):
    """(DN - 1000) / 10000 (baseline 04.00 offset and quantification), NaN for DN 0 and 65535."""
    result = (dn - 1000.0) / 10000.0
    result[(dn == 0) | (dn == 65535)] = np.nan
    return result


def read(path):
    """Every band with nodata as NaN, and the geotransform."""
    dataset = gdal.Open(str(path))
    bands = []
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        values = band.ReadAsArray().astype(np.float64)
        values[values == band.GetNoDataValue()] = np.nan
        bands.append(values)
    return bands, dataset.GetGeoTransform()


@pytest.mark.parametrize("choice, metres", [(1, 10), (2, 20)])
def test_bands_resampled_to_the_chosen_grid(run_alg, tmp_path, choice, metres):
    k = 60 // metres
    result = run_alg("spectralindices", {"INPUT": str(SAFE), "FACTORS": [2, 3, 6], "MASK": [],
                                         "S2_RESOLUTION": choice, "OUTPUT": str(tmp_path / "s2.tif")})
    assert result["FACTOR_NAMES"] == "B4,B5,NDVI"
    (red, nir, ndvi), transform = read(result["OUTPUT"])
    dn_red, transform_60 = raw("B04")
    dn_nir, _ = raw("B8A")
    assert red.shape == (dn_red.shape[0] * k, dn_red.shape[1] * k)
    assert transform[1] == pytest.approx(metres) and transform[5] == pytest.approx(-metres)
    assert transform[0] == pytest.approx(transform_60[0]) and transform[3] == pytest.approx(transform_60[3])
    expected_red, expected_nir = finer(reflectance(dn_red), k), finer(reflectance(dn_nir), k)
    np.testing.assert_allclose(red, expected_red, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_allclose(nir, expected_nir, rtol=1e-6, atol=1e-7, equal_nan=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_ndvi = (expected_nir - expected_red) / (expected_nir + expected_red)
    np.testing.assert_allclose(ndvi, expected_ndvi, rtol=1e-5, atol=1e-6, equal_nan=True)
    assert np.isnan(red).mean() > 0.2   # the product's nodata stays nodata


def test_the_scene_classification_masks_on_the_chosen_grid(run_alg, tmp_path):
    result = run_alg("spectralindices", {"INPUT": str(SAFE), "FACTORS": [2], "S2_RESOLUTION": 1,
                                         "OUTPUT": str(tmp_path / "red.tif")})
    (red,), _ = read(result["OUTPUT"])
    scl, _ = raw("SCL")
    dn_red, _ = raw("B04")
    masked = finer(np.isin(scl, [0, 1, 3, 8, 9, 10]), 6).astype(bool)   # default MASK classes
    expected = finer(reflectance(dn_red), 6)
    expected[masked] = np.nan
    np.testing.assert_allclose(red, expected, rtol=1e-6, atol=1e-7, equal_nan=True)
    assert masked.any() and (~masked & ~np.isnan(expected)).any()
