"""Real scenes in tests/data/scenes: QA cloud masks (pre-collection BQA, Collection 2 QA_PIXEL,
Sentinel-2 SCL), Landsat 9 MTL, Sentinel-2 L2A scaling, and bad inputs. Expected values are
computed here from the raw integers and the metadata text, independently of core."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from core.workflows.spectral_indices import run_spectral_indices
from core.science import qa_masks
from core.errors import SoilMetalError
from core.monitor import Monitor
from rasters import write_raster

gdal.UseExceptions()

SCENES = Path(__file__).resolve().parents[1] / "data" / "scenes"
L1 = SCENES / "landsat8_l1"
C2 = SCENES / "landsat8_c2l2"
C2_ID = "LC08_L2SP_001070_20190114_20200830_02_T2"
S2_SAFE = SCENES / "sentinel2_l2a" / "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE"
S2_R60 = next(S2_SAFE.glob("GRANULE/*/IMG_DATA/R60m"))


def raw(path):
    """Band 1 of a raster as int64, ignoring any nodata tag."""
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(1).ReadAsArray().astype(np.int64)


def written(path):
    """{band description: float64 with nodata as NaN} and the dataset's metadata."""
    dataset = gdal.Open(str(path))
    out = {}
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        values = band.ReadAsArray().astype(np.float64)
        values[values == band.GetNoDataValue()] = np.nan
        out[band.GetDescription()] = values
    return out, dataset.GetMetadata(), dataset.GetGeoTransform()


def mtl_number(path, key):
    """A numeric MTL value (first occurrence) read with a regex."""
    return float(re.search(rf"^\s*{key}\s*=\s*\"?([-0-9.Ee+]+)", Path(path).read_text(), re.M).group(1))


def save_png(mask, path):
    """A black-and-white picture of a mask, to look at by eye."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.imsave(str(path), mask.astype(np.uint8), cmap="gray", vmin=0, vmax=1)


def test_pre_collection_bqa_cloud_mask_of_the_real_level1_clip(tmp_path):
    qa = raw(L1 / "l8_BQA.tif")
    clouds = ((qa >> 14) & 3) == 3                   # pre-collection: cloud confidence high
    cirrus = ((qa >> 12) & 3) == 3
    assert "COLLECTION_NUMBER" not in (L1 / "l8_MTL.txt").read_text()
    assert 0.05 < clouds.mean() < 0.5                # the clip is partly cloudy
    save_png(clouds, tmp_path / "landsat8_l1_clouds.png")
    output = tmp_path / "clouds.tif"
    result = run_spectral_indices(str(L1 / "l8_MTL.txt"), str(output),
                                  factors=["B4", "B5", "NDVI"], mask=["clouds"])
    bands, metadata, _ = written(output)
    for name, values in bands.items():
        np.testing.assert_array_equal(np.isnan(values), clouds, err_msg=name)
    assert result.masked_share == pytest.approx(clouds.mean())
    assert metadata["SENSOR"] == "Landsat 8 OLI"
    # The default also masks cirrus (and fill, and shadows the layout does not have).
    result = run_spectral_indices(str(L1 / "l8_MTL.txt"), str(tmp_path / "default.tif"),
                                  factors=["NDVI"])
    bands, _, _ = written(tmp_path / "default.tif")
    np.testing.assert_array_equal(np.isnan(bands["NDVI"]), clouds | cirrus)
    assert result.masked_share == pytest.approx((clouds | cirrus).mean())


def test_collection2_qa_pixel_every_cloud_pixel_is_nodata(tmp_path):
    mtl = C2 / f"{C2_ID}_MTL.txt"
    qa = raw(C2 / f"{C2_ID}_QA_PIXEL.TIF")
    cloud = (qa >> 3) & 1 == 1
    fill = qa & 1 == 1
    assert cloud.mean() > 0.3 and fill.any()
    output = tmp_path / "c2.tif"
    result = run_spectral_indices(str(mtl), str(output), factors=["B4", "B5", "NDVI"])
    bands, metadata, geotransform = written(output)
    for name, values in bands.items():
        assert np.isnan(values[cloud]).all(), name
    # Non-square pixels of the shrunk files are kept, although the MTL describes a 30 m grid.
    assert mtl_number(mtl, "GRID_CELL_SIZE_REFLECTIVE") == 30.0
    assert geotransform[1] == pytest.approx(448.30078125)
    assert geotransform[5] == pytest.approx(-455.91796875)
    # Clear pixels keep MULT * DN + ADD; the masked share counts the non-fill pixels masked.
    masked = cloud | ((qa >> 1) & 1 == 1) | ((qa >> 2) & 1 == 1) | ((qa >> 4) & 1 == 1) | fill
    dn = raw(C2 / f"{C2_ID}_SR_B4.TIF").astype(np.float64)
    expected = mtl_number(mtl, "REFLECTANCE_MULT_BAND_4") * dn + mtl_number(mtl, "REFLECTANCE_ADD_BAND_4")
    expected[masked | (dn == 0)] = np.nan
    np.testing.assert_allclose(bands["B4"], expected, rtol=1e-6, atol=1e-7)
    assert result.masked_share == pytest.approx((masked & ~fill).sum() / (~fill).sum())
    assert metadata["SENSOR"] == "Landsat 8 OLI"


def test_landsat9_mtl_reads_like_landsat8_and_records_the_sensor(tmp_path):
    folder = tmp_path / "l9"
    shutil.copytree(C2, folder)
    mtl = folder / f"{C2_ID}_MTL.txt"
    mtl.write_text(mtl.read_text().replace('SPACECRAFT_ID = "LANDSAT_8"', 'SPACECRAFT_ID = "LANDSAT_9"'))
    run_spectral_indices(str(C2 / f"{C2_ID}_MTL.txt"), str(tmp_path / "l8.tif"), factors=["NDVI"])
    run_spectral_indices(str(mtl), str(tmp_path / "l9.tif"), factors=["NDVI"])
    l8, _, _ = written(tmp_path / "l8.tif")
    l9, metadata, _ = written(tmp_path / "l9.tif")
    np.testing.assert_array_equal(l8["NDVI"], l9["NDVI"])
    assert metadata["SENSOR"] == "Landsat 9 OLI-2"
    gdal_metadata = gdal.Open(str(tmp_path / "l9.tif"))
    assert gdal_metadata.GetRasterBand(1).GetMetadataItem("SENSOR") == "Landsat 9 OLI-2"


def test_an_mtl_of_another_sensor_stops_with_the_fix(tmp_path):
    folder = tmp_path / "l7"
    shutil.copytree(C2, folder)
    mtl = folder / f"{C2_ID}_MTL.txt"
    mtl.write_text(mtl.read_text().replace('SPACECRAFT_ID = "LANDSAT_8"', 'SPACECRAFT_ID = "LANDSAT_7"')
                   .replace('SENSOR_ID = "OLI_TIRS"', 'SENSOR_ID = "ETM"'))
    with pytest.raises(SoilMetalError, match="LANDSAT_7 ETM, not Landsat 8 or 9.*stack"):
        run_spectral_indices(str(mtl), str(tmp_path / "out.tif"), factors=["NDVI"])
    assert not (tmp_path / "out.tif").exists()


def s2_expected(band):
    """Surface reflectance of a 60 m band computed from its raw integers and the MTD text."""
    text = (S2_SAFE / "MTD_MSIL2A.xml").read_text()
    band_id = re.search(rf'bandId="(\d+)" physicalBand="{band}"', text).group(1)
    offset = float(re.search(rf'<BOA_ADD_OFFSET band_id="{band_id}">(-?\d+)<', text).group(1))
    quantification = float(re.search(r"<BOA_QUANTIFICATION_VALUE[^>]*>(\d+)<", text).group(1))
    assert offset == -1000 and quantification == 10000
    file_band = band if band == "B8A" else f"B{int(band[1:]):02d}"
    dn = raw(next(S2_R60.glob(f"*_{file_band}_60m.jp2"))).astype(np.float64)
    reflectance = (dn + offset) / quantification
    reflectance[dn == 0] = np.nan
    return reflectance


@pytest.mark.parametrize("given", ["xml", "safe"])
def test_sentinel2_l2a_scaled_from_the_metadata(tmp_path, given):
    path = S2_SAFE / "MTD_MSIL2A.xml" if given == "xml" else S2_SAFE
    infos = []
    output = tmp_path / "s2.tif"
    result = run_spectral_indices(str(path), str(output), factors=["B4", "B5", "B6", "NDVI"],
                                  scale=2, mask=[], monitor=Monitor(info=infos.append))
    bands, metadata, geotransform = written(output)
    assert geotransform[1] == 60.0
    red, nir, swir1 = s2_expected("B4"), s2_expected("B8A"), s2_expected("B11")
    assert np.isnan(red).mean() > 0.2            # the swath edge: DN 0 without a nodata tag
    np.testing.assert_allclose(bands["B4"], red, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bands["B5"], nir, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bands["B6"], swir1, rtol=1e-6, atol=1e-7)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    np.testing.assert_allclose(bands["NDVI"], ndvi, rtol=1e-5, atol=1e-6)
    assert metadata["SENSOR"] == "Sentinel-2A MSI" and result.sensor == "Sentinel-2A MSI"
    assert any("B8A" in message and "60 m" in message for message in infos)


def test_sentinel2_scl_mask(tmp_path):
    scl = raw(next(S2_R60.glob("*_SCL_60m.jp2")))
    masked = np.isin(scl, [0, 1, 3, 8, 9, 10])
    fill = np.isin(scl, [0, 1])
    result = run_spectral_indices(str(S2_SAFE), str(tmp_path / "s2.tif"), factors=["B4"])
    bands, _, _ = written(tmp_path / "s2.tif")
    expected = s2_expected("B4")
    expected[masked] = np.nan
    np.testing.assert_allclose(bands["B4"], expected, rtol=1e-6, atol=1e-7)
    assert result.masked_share == pytest.approx((masked & ~fill).sum() / (~fill).sum())


def test_sentinel2_level1c_given_as_l2a_stops(tmp_path):
    safe = tmp_path / "S2A_MSIL1C.SAFE"
    safe.mkdir()
    text = (S2_SAFE / "MTD_MSIL2A.xml").read_text().replace("S2MSI2A", "S2MSI1C")
    (safe / "MTD_MSIL2A.xml").write_text(text)
    with pytest.raises(SoilMetalError, match="Level-1C.*Level-2A"):
        run_spectral_indices(str(safe), str(tmp_path / "out.tif"), factors=["B4"])


def test_qa_band_of_another_size_stops(tmp_path):
    stack = np.full((6, 20, 30), 0.2, dtype=np.float32)
    path = write_raster(tmp_path / "stack.tif", list(stack), [None] * 6)
    qa = write_raster(tmp_path / "qa.tif", [np.zeros((21, 30), dtype=np.float32)], [None])
    with pytest.raises(SoilMetalError, match="21 x 30|30 x 21"):
        run_spectral_indices(path, str(tmp_path / "out.tif"), qa_path=qa)


def test_explicit_qa_raster_for_a_stack(tmp_path):
    stack = np.full((6, 4, 5), 0.2, dtype=np.float32)
    path = write_raster(tmp_path / "stack.tif", list(stack), [None] * 6)
    scl = np.array([[[4, 4, 8, 9, 10], [3, 6, 11, 0, 5], [4, 4, 4, 4, 4], [4, 4, 4, 4, 4]]],
                   dtype=np.float32)
    qa = write_raster(tmp_path / "scl.tif", list(scl), [None])
    result = run_spectral_indices(path, str(tmp_path / "out.tif"), factors=["B4"], qa_path=qa,
                                  qa_layout="sentinel2_scl", mask=["clouds", "water"])
    bands, _, _ = written(tmp_path / "out.tif")
    expected = np.isin(scl[0], [8, 9, 6])
    np.testing.assert_array_equal(np.isnan(bands["B4"]), expected)
    assert result.masked_share == pytest.approx(3 / 19)   # SCL 0 is fill: 19 pixels with data


def test_class_masks_bits_by_layout():
    c2 = np.array([1, 2, 4, 8, 16, 32, 128, 64])
    masks = qa_masks.class_masks(c2, "landsat_c2")
    assert masks["fill"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert masks["clouds"].tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    assert masks["cirrus"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert masks["shadows"].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    assert masks["snow"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0]
    assert masks["water"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    c1 = np.array([1, 16, 3 << 7, 1 << 7, 3 << 9, 3 << 11, 2 << 11])
    masks = qa_masks.class_masks(c1, "landsat_c1")
    assert masks["clouds"].tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert masks["shadows"].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert masks["snow"].tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert masks["cirrus"].tolist() == [0, 0, 0, 0, 0, 1, 0]
    assert not masks["water"].any()
    with pytest.raises(SoilMetalError, match="Unknown mask class"):
        qa_masks.normalise_classes(["clouds", "haze"])
