"""spectralindices through processing.run on the real scenes of tests/data/scenes: the QA mask
and MASKED_SHARE, Sentinel-2 L2A through its SAFE folder, and bad inputs."""

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

SCENES = Path(__file__).resolve().parents[1] / "data" / "scenes"
C2_ID = "LC08_L2SP_001070_20190114_20200830_02_T2"
C2_MTL = SCENES / "landsat8_c2l2" / f"{C2_ID}_MTL.txt"
S2_SAFE = SCENES / "sentinel2_l2a" / "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE"


def raw(path):
    """Band 1 as int64, no nodata handling."""
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(1).ReadAsArray().astype(np.int64)


def band_nan(path, index):
    """True where band `index` of a written raster is nodata."""
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(index)
    return band.ReadAsArray() == band.GetNoDataValue()


def test_collection2_mask_and_masked_share(run_alg, tmp_path):
    qa = raw(C2_MTL.parent / f"{C2_ID}_QA_PIXEL.TIF")
    fill = qa & 1 == 1
    masked = fill.copy()
    for bit in (1, 2, 3, 4):   # default: dilated cloud, cirrus, cloud, shadow (and fill)
        masked |= (qa >> bit) & 1 == 1
    result = run_alg("spectralindices", {"INPUT": str(C2_MTL), "FACTORS": [6],
                                         "OUTPUT": str(tmp_path / "ndvi.tif")})
    assert result["MASKED_SHARE"] == pytest.approx((masked & ~fill).sum() / (~fill).sum())
    assert band_nan(result["OUTPUT"], 1)[(qa >> 3) & 1 == 1].all()
    # Only snow and water: the clouds stay.
    result = run_alg("spectralindices", {"INPUT": str(C2_MTL), "FACTORS": [6], "MASK": [3, 4],
                                         "OUTPUT": str(tmp_path / "ndvi2.tif")})
    cloud_only = ((qa >> 3) & 1 == 1) & ~fill & ~((qa >> 5) & 1 == 1) & ~((qa >> 7) & 1 == 1)
    assert not band_nan(result["OUTPUT"], 1)[cloud_only].all()


def test_sentinel2_safe_folder_as_input(run_alg, tmp_path):
    result = run_alg("spectralindices", {"INPUT": str(S2_SAFE), "FACTORS": [2, 3, 6], "MASK": [],
                                         "OUTPUT": str(tmp_path / "s2.tif")})
    assert result["FACTOR_NAMES"] == "B4,B5,NDVI"
    dn = raw(next(S2_SAFE.glob("GRANULE/*/IMG_DATA/R60m/*_B04_60m.jp2"))).astype(np.float64)
    dataset = gdal.Open(result["OUTPUT"])
    red = dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)
    valid = dn > 0
    np.testing.assert_allclose(red[valid], (dn[valid] - 1000) / 10000, rtol=1e-6, atol=1e-7)
    assert band_nan(result["OUTPUT"], 1)[~valid].all()
    assert dataset.GetMetadataItem("SENSOR") == "Sentinel-2A MSI"


def test_a_qa_raster_of_another_size_stops(run_alg, tmp_path):
    stack = tmp_path / "stack.tif"
    qa = tmp_path / "qa.tif"
    for path, rows in ((stack, 10), (qa, 12)):
        dataset = gdal.GetDriverByName("GTiff").Create(str(path), 8, rows, 6 if path == stack else 1,
                                                      gdal.GDT_Float32)
        dataset.SetGeoTransform((500000, 30, 0, 4000000, 0, -30))
        for index in range(1, dataset.RasterCount + 1):
            dataset.GetRasterBand(index).Fill(0.2)
        dataset = None
    with pytest.raises(QgsProcessingException, match="QA band .* 8 x 12 pixels.*8 x 10"):
        run_alg("spectralindices", {"INPUT": str(stack), "QA": str(qa),
                                    "OUTPUT": str(tmp_path / "out.tif")})
