"""traingabp -> transfergabp -> evaluatemodel as a qgis_process script runs them, and a bad input."""

import hashlib
import sys

import numpy as np
import pytest
from osgeo import ogr, osr

from rasters import write_raster
from support import ROOT, run_algorithm_cli

NAMES = ["NDVI", "SLOPE"]
ORIGIN = (300000.0, 3730000.0)
SIZE = 30.0


def content(ndvi, slope):
    return 40 + 12 * np.sin(5 * ndvi) + 0.5 * slope


def period(tmp_path, name, seed, count, scale=1.0, shift=0.0):
    """Factor raster and GeoPackage samples (field cu_mg_kg) of one survey period."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(0, 1, (40, 40)), rng.uniform(0, 30, (40, 40))]
    raster = write_raster(tmp_path / f"{name}.tif", arrays, NAMES, origin=ORIGIN, size=SIZE)
    cells = rng.choice(1600, count, replace=False)
    rows, cols = cells // 40, cells % 40
    values = scale * content(arrays[0][rows, cols], arrays[1][rows, cols]) + shift \
        + rng.normal(0, 0.5, count)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / f"{name}.gpkg"))
    layer = ds.CreateLayer("samples", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("sample_id", ogr.OFTString))
    layer.CreateField(ogr.FieldDefn("cu_mg_kg", ogr.OFTReal))
    for k, (r, c, v) in enumerate(zip(rows, cols, values)):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("sample_id", f"{name}{k}")
        feature.SetField("cu_mg_kg", float(v))
        geometry = ogr.Geometry(ogr.wkbPoint)
        geometry.AddPoint_2D(ORIGIN[0] + (c + 0.5) * SIZE, ORIGIN[1] - (r + 0.5) * SIZE)
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    ds = None
    return raster, str(tmp_path / f"{name}.gpkg")


def test_train_transfer_evaluate_chain(profile, tmp_path):
    sys.path.insert(0, str(ROOT))
    from core.model_file import load_model
    src_raster, src_points = period(tmp_path, "y2017", 1, 50)
    tgt_raster, tgt_points = period(tmp_path, "y2019", 2, 40, scale=1.1, shift=5)
    code, payload, log = run_algorithm_cli("traingabp", {
        "POINTS": src_points, "FIELD": "cu_mg_kg", "FACTORS": src_raster, "FACTOR_NAMES": "NDVI,SLOPE",
        "ENSEMBLE": 2, "SEED": 1, "OUTPUT_MODEL": tmp_path / "cu_2017.json",
        "OUTPUT_REPORT": tmp_path / "cu_2017.html"}, profile)
    assert code == 0, log
    results = payload["results"]
    assert results["N_TRAIN"] == 40 and results["N_VALIDATION"] == 10
    assert results["RMSE"] > 0 and (tmp_path / "cu_2017.html").exists()
    source = load_model(tmp_path / "cu_2017.json")
    assert source.metal == "Cu" and source.ensemble_size == 2

    code, payload, log = run_algorithm_cli("transfergabp", {
        "SOURCE_MODEL": tmp_path / "cu_2017.json", "POINTS": tgt_points, "FIELD": "cu_mg_kg",
        "FACTORS": tgt_raster, "TRAIN_SAMPLES": 16, "SEED": 0, "METHOD": 1,
        "OUTPUT_MODEL": tmp_path / "cu_2019.json", "OUTPUT_BASELINE_MODEL": tmp_path / "base.json",
        "OUTPUT_REPORT": tmp_path / "cu_2019.html"}, profile)
    assert code == 0, log
    results = payload["results"]
    for key in ("RMSE", "MRE", "R2", "BETA", "BASELINE_RMSE", "BASELINE_MRE", "SOURCE_RMSE"):
        assert isinstance(results[key], float), key
    assert results["N_TRAIN"] == 16 and results["N_VALIDATION"] == 5
    transferred = load_model(tmp_path / "cu_2019.json")
    digest = hashlib.sha256((tmp_path / "cu_2017.json").read_bytes()).hexdigest()
    assert transferred.provenance["source_sha256"] == digest
    assert transferred.provenance["method"] == "lm"
    assert results["BETA"] == pytest.approx(np.median(transferred.provenance["beta"]))   # issue 9: the median

    # Every 2019 sample was given to the transfer (16 retrained on, the rest validated on):
    # evaluatemodel leaves them out and, with none left, says how to go on (issue 9).
    evaluation = {"MODEL": tmp_path / "cu_2019.json", "POINTS": tgt_points, "FIELD": "cu_mg_kg",
                  "FACTORS": tgt_raster, "OUTPUT_TABLE": tmp_path / "eval.csv"}
    code, payload, log = run_algorithm_cli("evaluatemodel", evaluation, profile)
    assert code != 0 and "none is independent" in log and "INCLUDE_TRAINING" in log
    code, payload, log = run_algorithm_cli("evaluatemodel", dict(evaluation, INCLUDE_TRAINING="true"),
                                           profile)
    assert code == 0, log
    assert payload["results"]["N"] == 40 and payload["results"]["N_EXCLUDED"] == 0
    assert len((tmp_path / "eval.csv").read_text().splitlines()) == 41


def test_transfer_with_too_few_samples_exits_non_zero(profile, tmp_path):
    sys.path.insert(0, str(ROOT))
    from core.science.gabp import GABPSettings, train_gabp
    from core.model_file import save_model
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, 1, 30), rng.uniform(0, 30, 30)])
    save_model(train_gabp(x, content(x[:, 0], x[:, 1]), NAMES, GABPSettings(generations=5)),
               str(tmp_path / "src.json"))
    raster, points = period(tmp_path, "few", 3, 12)
    code, _, log = run_algorithm_cli("transfergabp", {
        "SOURCE_MODEL": tmp_path / "src.json", "POINTS": points, "FIELD": "cu_mg_kg", "FACTORS": raster,
        "OUTPUT_MODEL": tmp_path / "out.json"}, profile)
    assert code != 0
    assert "Only 12 valid target samples" in log and "TRAIN_SAMPLES" in log
    assert not (tmp_path / "out.json").exists()
