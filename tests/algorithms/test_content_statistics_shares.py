"""contentstatistics' THRESHOLD and AOA inputs through processing.run: the numbers it returns
against NumPy counts, and bad inputs stopped with a message naming the fix."""

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from rasters import write_raster


def stored(path, values, name):
    """Write values (NaN = nodata) and read back what was stored."""
    write_raster(path, [np.where(np.isfinite(values), values, -9999.0)], [name])
    array = gdal.Open(str(path)).ReadAsArray().astype(float)
    return np.where(array == -9999.0, np.nan, array)


def test_threshold_interval_and_aoa_share(run_alg, tmp_path):
    rng = np.random.default_rng(8)
    content = rng.lognormal(np.log(50.0), 0.4, (60, 80))
    content[:3] = np.nan
    content = stored(tmp_path / "cu.tif", content, "Cu (mg/kg)")
    lower = stored(tmp_path / "lo.tif", content * 0.8, "lower")
    upper = stored(tmp_path / "up.tif", content * 1.25, "upper")
    di = stored(tmp_path / "di.tif", rng.gamma(2.0, 0.3, content.shape), "DI")
    dataset = gdal.Open(str(tmp_path / "di.tif"), gdal.GA_Update)
    dataset.GetRasterBand(1).SetMetadataItem("AOA_THRESHOLD", "0.9")
    dataset = None
    result = run_alg("contentstatistics", {
        "INPUT": str(tmp_path / "cu.tif"), "THRESHOLD": 60.0, "LOWER": str(tmp_path / "lo.tif"),
        "UPPER": str(tmp_path / "up.tif"), "AOA": str(tmp_path / "di.tif"),
        "OUTPUT_REPORT": str(tmp_path / "r.html")})
    valid = np.isfinite(content)
    assert result["PERCENT_ABOVE_THRESHOLD"] == pytest.approx(100 * (content[valid] > 60).mean())
    assert result["PERCENT_ABOVE_THRESHOLD_LOW"] == pytest.approx(100 * (lower[valid] > 60).mean())
    assert result["PERCENT_ABOVE_THRESHOLD_HIGH"] == pytest.approx(100 * (upper[valid] > 60).mean())
    assert result["AOA_SHARE"] == pytest.approx((di[valid] <= 0.9).mean())
    assert "PERCENT_ABOVE_THRESHOLD_EXPECTED" not in result or result["PERCENT_ABOVE_THRESHOLD_EXPECTED"] is None
    plain = run_alg("contentstatistics", {"INPUT": str(tmp_path / "cu.tif"), "THRESHOLD": 60.0})
    assert plain["PERCENT_ABOVE_THRESHOLD"] == result["PERCENT_ABOVE_THRESHOLD"]
    assert plain.get("PERCENT_ABOVE_THRESHOLD_LOW") is None and plain.get("AOA_SHARE") is None


def test_bounds_without_threshold_stop_with_the_fix(run_alg, tmp_path):
    values = np.full((10, 10), 40.0)
    for name in ("cu", "lo", "up"):
        stored(tmp_path / f"{name}.tif", values, name)
    with pytest.raises(QgsProcessingException, match="set THRESHOLD"):
        run_alg("contentstatistics", {"INPUT": str(tmp_path / "cu.tif"), "LOWER": str(tmp_path / "lo.tif"),
                                      "UPPER": str(tmp_path / "up.tif")})
