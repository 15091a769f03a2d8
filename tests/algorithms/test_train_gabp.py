"""traingabp through processing.run: held-out metrics, reproducible model files, reports, errors."""

import csv
import hashlib
import json
import time

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from soilmetal.core.model_file import load_model

from rasters import write_points as write_point_layer, write_raster

NAMES = ["NDVI", "SLOPE", "ELEVATION"]
ORIGIN = (300000.0, 3730000.0)
SIZE = 30.0
SHAPE = (60, 60)


def content(ndvi, slope, elevation):
    """A smooth 'true' Cu content (mg/kg) of the three factors."""
    return 40 + 15 * np.sin(3 * ndvi) + 0.4 * slope - 0.01 * (elevation - 1000) ** 2 / 50


def factor_arrays(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, SHAPE), rng.uniform(0, 40, SHAPE), rng.uniform(900, 1100, SHAPE)]


def write_points(path, rows, cols, values, ids, extra=()):
    """A GeoPackage point layer (EPSG:32649) at pixel centres, fields sample_id and cu_mg_kg."""
    points = [(ORIGIN[0] + (c + 0.5) * SIZE, ORIGIN[1] - (r + 0.5) * SIZE, v, i)
              for r, c, v, i in zip(rows, cols, values, ids)] + list(extra)
    return write_point_layer(path, [(x, y) for x, y, _, _ in points],
                             {"sample_id": [p[3] for p in points], "cu_mg_kg": [p[2] for p in points]})


@pytest.fixture
def survey(tmp_path):
    """58 valid samples of a smooth function of 3 factors, one point outside, one without a value."""
    arrays = factor_arrays()
    raster = write_raster(tmp_path / "factors.tif", arrays, NAMES, origin=ORIGIN, size=SIZE)
    rng = np.random.default_rng(2)
    cells = rng.choice(SHAPE[0] * SHAPE[1], 58, replace=False)
    rows, cols = cells // SHAPE[1], cells % SHAPE[1]
    truth = content(*(a[rows, cols] for a in arrays))
    values = truth + rng.normal(0, 0.5, truth.size)
    ids = [f"S{k:03d}" for k in range(58)]
    extra = [(ORIGIN[0] - 500.0, ORIGIN[1] + 500.0, 50.0, "OUTSIDE"),
             (ORIGIN[0] + 15.0, ORIGIN[1] - 15.0, None, "NOVALUE")]
    points = write_points(tmp_path / "samples.gpkg", rows, cols, values, ids, extra)
    return {"raster": raster, "points": points, "ids": ids, "values": values, "rows": rows,
            "cols": cols, "arrays": arrays}


def factor_values_at(raster, rows, cols):
    """Factor values read with GDAL at the pixels (n, 3), independent of the code under test."""
    ds = gdal.Open(raster)
    stack = np.stack([ds.GetRasterBand(b + 1).ReadAsArray().astype(float) for b in range(3)])
    return stack[:, rows, cols].T


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def params(survey, tmp_path, **extra):
    base = {"POINTS": survey["points"], "FIELD": "cu_mg_kg", "FACTORS": [survey["raster"]],
            "OUTPUT_MODEL": str(tmp_path / "model.json")}
    base.update(extra)
    return base


def test_held_out_metrics_match_an_independent_recomputation(run_alg, tmp_path, survey):
    result = run_alg("traingabp", params(survey, tmp_path, OUTPUT_TABLE=str(tmp_path / "t.csv"),
                                         OUTPUT_REPORT=str(tmp_path / "r.html")))
    assert result["N_TRAIN"] == 46 and result["N_VALIDATION"] == 12   # round(0.2 * 58) = 12
    model = load_model(result["OUTPUT_MODEL"])
    assert model.metal == "Cu" and model.provenance["field"] == "cu_mg_kg"
    assert model.factor_names == NAMES
    train_ids = model.provenance["samples"]["train"]
    validation_ids = model.provenance["samples"]["validation"]
    assert len(validation_ids) == 12 and not set(train_ids) & set(validation_ids)
    assert set(train_ids) | set(validation_ids) == set(survey["ids"])

    index = {sid: k for k, sid in enumerate(survey["ids"])}
    held = np.array([index[sid] for sid in validation_ids])
    x = factor_values_at(survey["raster"], survey["rows"][held], survey["cols"][held])
    measured = survey["values"][held]
    predicted = model.predict(x)[0]
    rmse = np.sqrt(np.mean((predicted - measured) ** 2))
    assert result["RMSE"] == pytest.approx(rmse, rel=1e-6)
    assert result["MRE"] == pytest.approx(np.mean(np.abs(predicted - measured) / measured), rel=1e-6)
    assert result["MAE"] == pytest.approx(np.mean(np.abs(predicted - measured)), rel=1e-6)
    ss_tot = np.sum((measured - measured.mean()) ** 2)
    assert result["R2"] == pytest.approx(1 - np.sum((predicted - measured) ** 2) / ss_tot, rel=1e-6)
    # The content is a smooth function of the factors: the model must beat the mean predictor.
    assert rmse < 0.6 * np.std(measured)
    assert model.training_metrics["validation"]["RMSE"] == pytest.approx(rmse, rel=1e-9)

    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == 58
    validation = [r for r in rows if r["split"] == "validation"]
    assert {r["sample_id"] for r in validation} == set(validation_ids)
    errors = np.array([float(r["predicted"]) - float(r["measured"]) for r in validation])
    assert np.sqrt(np.mean(errors ** 2)) == pytest.approx(result["RMSE"], rel=1e-9)


def test_same_seed_gives_a_byte_identical_model_file(run_alg, tmp_path, survey):
    first = run_alg("traingabp", params(survey, tmp_path, SEED=7, ENSEMBLE=2,
                                        OUTPUT_MODEL=str(tmp_path / "a.json")))
    second = run_alg("traingabp", params(survey, tmp_path, SEED=7, ENSEMBLE=2,
                                         OUTPUT_MODEL=str(tmp_path / "b.json")))
    other = run_alg("traingabp", params(survey, tmp_path, SEED=8, ENSEMBLE=2,
                                        OUTPUT_MODEL=str(tmp_path / "c.json")))

    def digest(path):
        return hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert digest(first["OUTPUT_MODEL"]) == digest(second["OUTPUT_MODEL"])
    assert digest(first["OUTPUT_MODEL"]) != digest(other["OUTPUT_MODEL"])


def test_report_has_figures_tables_and_dropped_samples(run_alg, tmp_path, survey):
    report = tmp_path / "report.html"
    result = run_alg("traingabp", params(survey, tmp_path, ENSEMBLE=3, OUTPUT_REPORT=str(report)))
    html = report.read_text(encoding="utf-8")
    # predicted vs measured, ensemble spread, GA fitness, LM error
    assert html.count("<img") >= 4
    assert html.count("<table") >= 5
    for text in ("OUTSIDE", "NOVALUE", "outside raster", "Validation", "ensemble mean",
                 "MRE (%)", "S000"):
        assert text in html, text
    figures = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(figures["members"]) == 3 and len(figures["lm"]) == 3
    assert len(figures["ga"][0]["best_rmse"]) == 51     # initial population + 50 generations
    assert figures["metrics"]["validation"]["RMSE"] == pytest.approx(result["RMSE"])
    model = load_model(result["OUTPUT_MODEL"])
    assert model.ensemble_size == 3


def test_figure_json_never_overwrites_the_model(run_alg, tmp_path, survey):
    result = run_alg("traingabp", params(survey, tmp_path, OUTPUT_MODEL=str(tmp_path / "cu.json"),
                                         OUTPUT_REPORT=str(tmp_path / "cu.html")))
    assert load_model(result["OUTPUT_MODEL"]).metal == "Cu"
    assert (tmp_path / "cu.figures.json").exists()


def test_factor_names_subset_and_no_hold_out(run_alg, tmp_path, survey):
    report = tmp_path / "r.html"
    result = run_alg("traingabp", params(survey, tmp_path, FACTOR_NAMES="SLOPE, NDVI",
                                         VALIDATION_FRACTION=0, OUTPUT_REPORT=str(report)))
    assert load_model(result["OUTPUT_MODEL"]).factor_names == ["SLOPE", "NDVI"]
    assert result["N_VALIDATION"] == 0 and result["N_TRAIN"] == 58
    assert np.isnan(result["RMSE"]) and np.isnan(result["R2"])
    assert "no samples were held out" in report.read_text(encoding="utf-8")


def test_unknown_factor_name_fails_and_leaves_no_model(run_alg, tmp_path, survey):
    with pytest.raises(QgsProcessingException,
                       match="EVI not found.*Available factors: NDVI, SLOPE, ELEVATION"):
        run_alg("traingabp", params(survey, tmp_path, FACTOR_NAMES="NDVI,EVI"))
    assert not (tmp_path / "model.json").exists()


def test_too_few_samples_for_the_hold_out_is_explained(run_alg, tmp_path, survey):
    few = write_points(tmp_path / "few.gpkg", [1, 2, 3], [1, 2, 3], [40.0, 50.0, 60.0],
                       ["a", "b", "c"])
    with pytest.raises(QgsProcessingException, match="Only 3 valid samples.*VALIDATION_FRACTION"):
        run_alg("traingabp", {"POINTS": few, "FIELD": "cu_mg_kg", "FACTORS": [survey["raster"]],
                              "OUTPUT_MODEL": str(tmp_path / "model.json")})
    assert not (tmp_path / "model.json").exists()


def test_cancel_stops_within_a_second(run_alg, tmp_path, survey):
    feedback = QgsProcessingFeedback()
    marks = {}

    def on_progress(value):
        if value > 6 and "cancelled" not in marks:
            marks["cancelled"] = time.perf_counter()
            feedback.cancel()
    feedback.progressChanged.connect(on_progress)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("traingabp", params(survey, tmp_path, GENERATIONS=100000, POPULATION=200),
                feedback=feedback)
    assert time.perf_counter() - marks["cancelled"] < 1.0
    assert not (tmp_path / "model.json").exists()


def test_cross_validation_outputs_match_the_model_file(run_alg, tmp_path, survey):
    result = run_alg("traingabp", params(survey, tmp_path, CV=1, FOLDS=4,
                                         OUTPUT_REPORT=str(tmp_path / "r.html")))
    model = load_model(result["OUTPUT_MODEL"])
    assert model.cv["scheme"] == "random" and model.cv["folds"] == 4
    index = {sid: k for k, sid in enumerate(survey["ids"])}
    rows = np.array([index[sid] for sid in model.samples["id"]])
    measured = survey["values"][rows]
    np.testing.assert_allclose(model.samples["observed"], measured, rtol=1e-9)
    np.testing.assert_allclose(model.samples["factors"], factor_values_at(
        survey["raster"], survey["rows"][rows], survey["cols"][rows]), rtol=1e-6)
    assert "32649" in model.samples["crs"]
    oof = np.asarray(model.cv["prediction"])
    assert result["CV_RMSE"] == pytest.approx(np.sqrt(np.mean((oof - measured) ** 2)), rel=1e-9)
    assert result["CV_RMSE"] < result["MEAN_CV_RMSE"]      # a smooth function of the factors
    assert np.isfinite(result["MLR_CV_RMSE"]) and np.isfinite(result["CV_R2"])
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Cross-validated (random k-fold, 4 folds, 58 samples)" in html
    kriging = model.cv["kriging"]       # regression kriging judged by the same folds
    assert result["RK_CV_RMSE"] == pytest.approx(kriging["metrics"]["RMSE"], rel=1e-12)
    assert kriging["structure"] or result["RK_CV_RMSE"] == result["CV_RMSE"]
    assert "Residual kriging (regression kriging)" in html


def test_folds_above_the_sample_count_name_the_fix(run_alg, tmp_path, survey):
    with pytest.raises(QgsProcessingException, match="FOLDS = 80 is more than the 58 valid "
                                                     "samples. Set FOLDS to at most 58"):
        run_alg("traingabp", params(survey, tmp_path, FOLDS=80))
    assert not (tmp_path / "model.json").exists()
    result = run_alg("traingabp", params(survey, tmp_path, CV=0))
    assert np.isnan(result["CV_RMSE"]) and load_model(result["OUTPUT_MODEL"]).cv is None
    assert np.isnan(result["RK_CV_RMSE"])
