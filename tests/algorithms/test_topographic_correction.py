"""topographiccorrection through processing.run: a synthetic DEM and scene with a known
C-correction illumination effect, outputs and report; bad inputs stop with the fix."""

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from rasters import write_raster

ORIGIN, SIZE = (300000.0, 3730000.0), 30.0
C2_MTL = (Path(__file__).resolve().parents[1] / "data" / "scenes" / "landsat8_c2l2"
          / "LC08_L2SP_001070_20190114_20200830_02_T2_MTL.txt")


def synthetic(folder, c=0.5, azimuth=120.0, elevation=40.0):
    """A DEM of hills and a 2-band image whose reflectance follows (cos i + c) / (cos Z + c)."""
    rows, cols = np.mgrid[0:80, 0:100]
    east, south = (cols + 0.5) * SIZE, (rows + 0.5) * SIZE
    z = 400 + 250 * np.sin(east / 500) * np.cos(south / 500)
    dz_east = 0.5 * np.cos(east / 500) * np.cos(south / 500)
    dz_north = 0.5 * np.sin(east / 500) * np.sin(south / 500)
    slope = np.arctan(np.hypot(dz_east, dz_north))
    aspect = np.arctan2(-dz_east, -dz_north)
    zenith = np.radians(90 - elevation)
    cos_i = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
        np.radians(azimuth) - aspect)
    truth = np.stack([np.full(z.shape, 0.08), np.full(z.shape, 0.35)])
    truth += 0.01 * np.random.default_rng(1).random(truth.shape)
    observed = truth * (cos_i + c) / (np.cos(zenith) + c)
    dem = write_raster(folder / "dem.tif", [z], ["ELEVATION"], origin=ORIGIN, size=SIZE)
    image = write_raster(folder / "image.tif", list(observed), ["B4", "NIR band"], origin=ORIGIN, size=SIZE)
    return dem, image, truth, cos_i


def test_c_correction_end_to_end(run_alg, tmp_path):
    dem, image, truth, cos_i = synthetic(tmp_path)
    result = run_alg("topographiccorrection", {
        "INPUT": image, "DEM": dem, "SUN_AZIMUTH": 120, "SUN_ELEVATION": 40,
        "OUTPUT": str(tmp_path / "corrected.tif"), "OUTPUT_ILLUMINATION": str(tmp_path / "cos.tif"),
        "OUTPUT_REPORT": str(tmp_path / "report.html")})
    dataset = gdal.Open(result["OUTPUT"])
    assert [dataset.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["B4", "NIR band"]
    assert dataset.GetMetadataItem("TOPOGRAPHIC_CORRECTION") == "C-correction"
    corrected = dataset.ReadAsArray().astype(np.float64)
    np.testing.assert_allclose(corrected[:, 2:-2, 2:-2], truth[:, 2:-2, 2:-2], rtol=0.01)
    for band in range(2):
        r = np.corrcoef(corrected[band].ravel(), cos_i.ravel())[0, 1]
        assert abs(r) < 0.05
    illumination = gdal.Open(result["OUTPUT_ILLUMINATION"])
    np.testing.assert_allclose(illumination.ReadAsArray()[2:-2, 2:-2], cos_i[2:-2, 2:-2], atol=2e-3)
    html = Path(result["OUTPUT_REPORT"]).read_text()
    assert "NIR band" in html and "C-correction" in html
    assert result["MASKED_SHARE"] == 0.0


def test_optional_outputs_can_be_left_out_and_methods_by_index(run_alg, tmp_path):
    dem, image, _, _ = synthetic(tmp_path)
    result = run_alg("topographiccorrection", {"INPUT": image, "DEM": dem, "METHOD": 3,
                                               "SUN_AZIMUTH": 120, "SUN_ELEVATION": 40,
                                               "OUTPUT": str(tmp_path / "minnaert.tif")})
    assert set(result) == {"OUTPUT", "MASKED_SHARE"}
    dataset = gdal.Open(result["OUTPUT"])
    assert dataset.GetMetadataItem("TOPOGRAPHIC_CORRECTION") == "Minnaert"


def test_bad_inputs(run_alg, tmp_path):
    dem, image, _, _ = synthetic(tmp_path)
    with pytest.raises(QgsProcessingException, match="SUN_ELEVATION"):
        run_alg("topographiccorrection", {"INPUT": image, "DEM": dem, "SUN_AZIMUTH": 120,
                                          "SUN_ELEVATION": 0, "OUTPUT": str(tmp_path / "a.tif")})
    far = write_raster(tmp_path / "far.tif", [np.ones((10, 10))], ["Z"], origin=(900000.0, 3730000.0),
                       size=SIZE)
    with pytest.raises(QgsProcessingException, match="does not overlap"):
        run_alg("topographiccorrection", {"INPUT": image, "DEM": far, "SUN_AZIMUTH": 120,
                                          "SUN_ELEVATION": 40, "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "b.tif").exists()


def test_an_mtl_of_another_sensor_stops(run_alg, tmp_path):
    folder = tmp_path / "l5"
    folder.mkdir()
    for path in C2_MTL.parent.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    mtl = folder / C2_MTL.name
    mtl.write_text(mtl.read_text().replace('"LANDSAT_8"', '"LANDSAT_5"').replace('"OLI_TIRS"', '"TM"'))
    dem, _, _, _ = synthetic(tmp_path)
    with pytest.raises(QgsProcessingException, match="LANDSAT_5 TM, not Landsat 8 or 9"):
        run_alg("topographiccorrection", {"INPUT": str(mtl), "DEM": dem,
                                          "OUTPUT": str(tmp_path / "c.tif")})
