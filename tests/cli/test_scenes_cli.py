"""spectralindices on real scenes as qgis_process users call it: a Sentinel-2 MTD_MSIL2A.xml
with its SCL mask, and a wrong SCALE that stops with the right one."""

from pathlib import Path

import numpy as np
from osgeo import gdal

from support import run_algorithm_cli

SCENES = Path(__file__).resolve().parents[1] / "data" / "scenes"
S2_SAFE = SCENES / "sentinel2_l2a" / "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE"
C2_SR = SCENES / "landsat8_c2l2" / "LC08_L2SP_001070_20190114_20200830_02_T2_SR_B4.TIF"


def test_sentinel2_metadata_with_scl_mask(profile, tmp_path):
    output = tmp_path / "s2.tif"
    code, payload, log = run_algorithm_cli("spectralindices", {
        "INPUT": S2_SAFE / "MTD_MSIL2A.xml", "FACTORS": [2, 3], "OUTPUT": output}, profile)
    assert code == 0, log
    scl_data = gdal.Open(str(next(S2_SAFE.glob("GRANULE/*/IMG_DATA/R60m/*_SCL_60m.jp2"))))
    scl = scl_data.GetRasterBand(1).ReadAsArray()
    masked, fill = np.isin(scl, [0, 1, 3, 8, 9, 10]), np.isin(scl, [0, 1])
    share = payload["results"]["MASKED_SHARE"]
    assert abs(share - (masked & ~fill).sum() / (~fill).sum()) < 1e-9
    dataset = gdal.Open(str(output))
    band = dataset.GetRasterBand(1)
    assert ((band.ReadAsArray() == band.GetNoDataValue()) == masked).all()


def test_collection2_integers_read_as_reflectance_stop(profile, tmp_path):
    output = tmp_path / "bad.tif"
    code, _, log = run_algorithm_cli("spectralindices", {
        "INPUT": C2_SR, "BAND_BLUE": 1, "BAND_GREEN": 1, "BAND_RED": 1, "BAND_NIR": 1,
        "BAND_SWIR1": 1, "BAND_SWIR2": 1, "FACTORS": 2, "OUTPUT": output}, profile)
    assert code != 0
    assert "SCALE=1" in log and "ACCEPT_SCALE" in log
    assert not output.exists()


def test_topographiccorrection_on_the_real_luxembourg_pair(profile, tmp_path):
    terra = SCENES / "sentinel2_l2a_terra"
    output, report = tmp_path / "corrected.tif", tmp_path / "report.html"
    code, payload, log = run_algorithm_cli("topographiccorrection", {
        "INPUT": terra / "sent2_L2A_2024-08-24.tif", "DEM": terra / "terra_elev.tif", "METHOD": 0,
        "SUN_AZIMUTH": 153, "SUN_ELEVATION": 49, "OUTPUT": output, "OUTPUT_REPORT": report}, profile)
    assert code == 0, log
    source = gdal.Open(str(terra / "sent2_L2A_2024-08-24.tif"))
    dataset = gdal.Open(str(output))
    names = [dataset.GetRasterBand(i).GetDescription() for i in range(1, 5)]
    assert names == [source.GetRasterBand(i).GetDescription() for i in range(1, 5)]
    assert "Cosine" in report.read_text()
    code, _, log = run_algorithm_cli("topographiccorrection", {
        "INPUT": terra / "sent2_L2A_2024-08-24.tif", "DEM": terra / "terra_elev.tif",
        "OUTPUT": tmp_path / "nosun.tif"}, profile)
    assert code != 0 and "SUN_AZIMUTH and SUN_ELEVATION" in log
