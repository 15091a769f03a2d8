"""contentstatistics as a qgis_process user calls it: help, a real run, a clear failure."""

import numpy as np
import pandas as pd
from osgeo import gdal

from rasters import write_raster
from support import qgis_process_help, run_algorithm_cli


def test_help_lists_parameters_and_index_options(profile):
    result = qgis_process_help("contentstatistics", profile)
    assert result.returncode == 0, result.stderr
    for text in ("INPUT", "BAND", "REFERENCE_MEAN", "REFERENCE_MAX", "CLASS_BREAKS", "INDEX",
                 "OUTPUT_TABLE", "OUTPUT_REPORT", "OUTPUT_INDEX", "PERCENT_ABOVE_REFERENCE_MAX",
                 "0: Geo-accumulation index", "1: Contamination factor"):
        assert text in result.stdout


def test_run_with_index_and_a_missing_reference_failure(profile, tmp_path):
    rng = np.random.default_rng(21)
    values = rng.lognormal(np.log(50.0), 0.4, (120, 90))
    values[:5, :5] = -9999.0
    path = write_raster(tmp_path / "cu.tif", [values], ["Cu (mg/kg)"])
    stored = gdal.Open(path).ReadAsArray().astype(float)
    valid = stored[stored != -9999.0]
    code, payload, log = run_algorithm_cli("contentstatistics", {
        "INPUT": path, "REFERENCE_MEAN": 21.4, "REFERENCE_MAX": 43.6,
        "OUTPUT_TABLE": tmp_path / "cu.csv", "OUTPUT_REPORT": tmp_path / "cu.html",
        "OUTPUT_INDEX": tmp_path / "igeo.tif"}, profile)
    assert code == 0, log
    results = payload["results"]
    assert results["COUNT"] == valid.size
    assert abs(results["MEAN"] - valid.mean()) < 1e-9 * valid.mean()
    assert abs(results["PERCENT_ABOVE_REFERENCE_MAX"] - 100 * (valid > 43.6).mean()) < 1e-9
    igeo = gdal.Open(str(tmp_path / "igeo.tif")).ReadAsArray().astype(float)
    np.testing.assert_allclose(igeo[stored != -9999.0], np.log2(valid / (1.5 * 21.4)),
                               rtol=1e-6, atol=1e-6)
    table = pd.read_csv(tmp_path / "cu.csv")
    assert set(table["section"]) >= {"statistics", "content classes", "index classes"}
    assert (tmp_path / "cu.html").exists()

    code, _, log = run_algorithm_cli("contentstatistics", {
        "INPUT": path, "OUTPUT_INDEX": tmp_path / "bad.tif",
        "OUTPUT_TABLE": tmp_path / "bad.csv"}, profile)
    assert code != 0
    assert "OUTPUT_INDEX needs REFERENCE_MEAN" in log
    assert not (tmp_path / "bad.tif").exists() and not (tmp_path / "bad.csv").exists()
