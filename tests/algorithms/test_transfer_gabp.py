"""transfergabp through processing.run: Table 5 numbers, provenance, negative transfer, errors."""

import csv
import hashlib
import json

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from soilmetal.core.science.gabp import GABPSettings, train_gabp
from soilmetal.core.model_file import load_model, save_model

from rasters import write_points as write_point_layer, write_raster

NAMES = ["NDVI", "SLOPE", "ELEVATION"]
ORIGIN = (300000.0, 3730000.0)
SIZE = 30.0
SHAPE = (50, 50)


def content(x):
    """The source period's Cu content (mg/kg) of factor values x (n, 3): non-linear enough that
    16 samples cannot teach it to a network from scratch, while 80 source samples can."""
    return (40 + 12 * np.sin(6 * x[:, 0]) + 8 * np.cos(x[:, 1] / 6)
            + 0.05 * (x[:, 2] - 1000) * x[:, 0])


def factor_arrays(seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, SHAPE), rng.uniform(0, 40, SHAPE), rng.uniform(900, 1100, SHAPE)]


def write_points(path, xy, values, ids, field="cu_mg_kg"):
    """A GeoPackage point layer (EPSG:32649) with sample_id and the content field."""
    return write_point_layer(path, xy, {"sample_id": list(ids), field: [float(v) for v in values]})


def sample_period(tmp_path, name, seed, count, target_fn, noise=1.0):
    """Factor raster + points of one period; returns paths, ids, factor values (independent read)."""
    arrays = factor_arrays(seed)
    raster = write_raster(tmp_path / f"{name}.tif", arrays, NAMES, origin=ORIGIN, size=SIZE)
    rng = np.random.default_rng(seed + 100)
    cells = rng.choice(SHAPE[0] * SHAPE[1], count, replace=False)
    rows, cols = cells // SHAPE[1], cells % SHAPE[1]
    ds = gdal.Open(raster)
    stack = np.stack([ds.GetRasterBand(b + 1).ReadAsArray().astype(float) for b in range(3)])
    x = stack[:, rows, cols].T
    values = target_fn(x) + rng.normal(0, noise, count)
    xy = [(ORIGIN[0] + (c + 0.5) * SIZE, ORIGIN[1] - (r + 0.5) * SIZE) for r, c in zip(rows, cols)]
    ids = [f"{name}{k:03d}" for k in range(count)]
    points = write_points(tmp_path / f"{name}.gpkg", xy, values, ids)
    return {"raster": raster, "points": points, "ids": ids, "x": x, "values": values}


@pytest.fixture
def source(tmp_path):
    """A single-network GA-BP source model trained (core) on 80 samples of the source period."""
    period = sample_period(tmp_path, "src", 1, 80, content)
    model = train_gabp(period["x"], period["values"], NAMES, GABPSettings(seed=3, goal=0.05), metal="Cu")
    path = tmp_path / "source.json"
    save_model(model, str(path))
    return str(path), model


@pytest.fixture
def related(tmp_path):
    """Target period: the same relation, shifted and stretched (the paper's situation)."""
    return sample_period(tmp_path, "tgt", 2, 40, lambda x: 1.15 * content(x) + 6)


def params(model_path, target, tmp_path, **extra):
    base = {"SOURCE_MODEL": model_path, "POINTS": target["points"], "FIELD": "cu_mg_kg",
            "FACTORS": [target["raster"]], "OUTPUT_MODEL": str(tmp_path / "tr.json")}
    base.update(extra)
    return base


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_table5_numbers_provenance_and_models(run_alg, tmp_path, source, related):
    source_path, source_model = source
    result = run_alg("transfergabp", params(
        source_path, related, tmp_path, VALIDATION_FRACTION=0.5, OUTPUT_TABLE=str(tmp_path / "t.csv"),
        OUTPUT_REPORT=str(tmp_path / "r.html"),
        OUTPUT_BASELINE_MODEL=str(tmp_path / "baseline.json")))
    assert result["N_TRAIN"] == 16 and result["N_VALIDATION"] == 12   # 0.5 of the other 24
    for key in ("RMSE", "MRE", "R2", "BETA", "BASELINE_RMSE", "BASELINE_MRE", "SOURCE_RMSE",
                "SOURCE_MRE"):
        assert np.isfinite(result[key]), key

    model = load_model(result["OUTPUT_MODEL"])
    provenance = model.provenance
    expected_sha = hashlib.sha256(open(source_path, "rb").read()).hexdigest()
    assert provenance["source_sha256"] == expected_sha
    assert provenance["source_file"] == "source.json"
    assert model.method == "Tr-GA-BP" and model.metal == "Cu"
    assert provenance["beta0"][0] in [round(0.1 * k, 1) for k in range(11)]
    assert result["BETA"] == pytest.approx(np.median(provenance["beta"]))   # issue 9: the median
    assert 0.0 <= result["BETA"] <= 1.5
    train_ids, validation_ids = provenance["samples"]["train"], provenance["samples"]["validation"]
    assert len(train_ids) == 16 and len(validation_ids) == 12
    assert not set(train_ids) & set(validation_ids)

    # Validation metrics recomputed from independently read factor values and each model.
    index = {sid: k for k, sid in enumerate(related["ids"])}
    held = [index[sid] for sid in validation_ids]
    x, y = related["x"][held], related["values"][held]
    baseline = load_model(result["OUTPUT_BASELINE_MODEL"])
    assert baseline.ensemble_size == 1 and baseline.provenance["samples"]["train"] == train_ids
    assert result["RMSE"] == pytest.approx(rmse(model.predict(x)[0], y), rel=1e-6)
    assert result["BASELINE_RMSE"] == pytest.approx(rmse(baseline.predict(x)[0], y), rel=1e-6)
    assert result["SOURCE_RMSE"] == pytest.approx(rmse(source_model.predict(x)[0], y), rel=1e-6)
    assert result["BASELINE_MRE"] == pytest.approx(
        np.mean(np.abs(baseline.predict(x)[0] - y) / y), rel=1e-6)
    # The target is the source relation shifted: transfer beats both other models here.
    assert result["RMSE"] < result["BASELINE_RMSE"]
    assert result["RMSE"] < result["SOURCE_RMSE"]

    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == 40
    assert sum(r["split"] == "train" for r in rows) == 16
    validation = [r for r in rows if r["split"] == "validation"]
    measured = [float(r["measured"]) for r in validation]
    assert rmse([float(r["predicted_Tr-GA-BP"]) for r in validation], measured) == \
        pytest.approx(result["RMSE"], rel=1e-9)
    assert rmse([float(r["predicted_GA-BP"]) for r in validation], measured) == \
        pytest.approx(result["BASELINE_RMSE"], rel=1e-9)

    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<img") >= 3      # predicted vs measured, beta grid, training curve
    for text in ("GA-BP (from scratch)", "Tr-GA-BP", "Source model unchanged", "RMSE", "MRE",
                 expected_sha, "beta0"):
        assert text in html, text
    assert "Negative transfer" not in html
    figures = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert figures["beta_grid"] == [round(0.1 * k, 1) for k in range(11)]
    assert figures["metrics"]["GA-BP"]["validation"]["RMSE"] == pytest.approx(result["BASELINE_RMSE"])


def test_unrelated_target_warns_of_negative_transfer(run_alg, tmp_path, source):
    source_path, _ = source
    # Content falls with NDVI and ignores slope: the opposite of the source relation.
    unrelated = sample_period(tmp_path, "other", 4, 40, lambda x: 80 - 30 * x[:, 0])
    feedback = QgsProcessingFeedback()
    result = run_alg("transfergabp", params(source_path, unrelated, tmp_path, VALIDATION_FRACTION=1,
                                            OUTPUT_REPORT=str(tmp_path / "neg.html")),
                     feedback=feedback)
    assert result["N_VALIDATION"] == 24
    assert result["RMSE"] > result["BASELINE_RMSE"]
    html = (tmp_path / "neg.html").read_text(encoding="utf-8")
    assert "Negative transfer" in html and "note-warning" in html
    assert "Negative transfer" in feedback.textLog()


def test_ensemble_source_members_and_bootstrap_ensemble(run_alg, tmp_path, source, related):
    source_path, single = source
    boot = run_alg("transfergabp", params(source_path, related, tmp_path, ENSEMBLE=3,
                                          OUTPUT_BASELINE_MODEL=str(tmp_path / "b.json")))
    assert boot["N_TRAIN"] == 16 and boot["N_VALIDATION"] == 5     # round(0.2 * 24)
    model = load_model(boot["OUTPUT_MODEL"])
    assert model.ensemble_size == 3 and "bootstrap" in model.provenance["ensemble_mode"]
    assert load_model(str(tmp_path / "b.json")).ensemble_size == 3
    assert boot["BETA"] == pytest.approx(np.median(model.provenance["beta"]))   # issue 9: the median

    period = sample_period(tmp_path, "src2", 1, 80, content)
    ensemble = train_gabp(period["x"], period["values"], NAMES,
                          GABPSettings(seed=3, goal=0.05, ensemble=2), metal="Cu")
    save_model(ensemble, str(tmp_path / "ens.json"))
    result = run_alg("transfergabp", params(str(tmp_path / "ens.json"), related, tmp_path,
                                            OUTPUT_MODEL=str(tmp_path / "tr2.json")))
    transferred = load_model(result["OUTPUT_MODEL"])
    assert transferred.ensemble_size == 2 and len(transferred.provenance["beta"]) == 2


def test_same_seed_same_file(run_alg, tmp_path, source, related):
    source_path, _ = source
    a = run_alg("transfergabp", params(source_path, related, tmp_path, SEED=5,
                                       OUTPUT_MODEL=str(tmp_path / "a.json")))
    b = run_alg("transfergabp", params(source_path, related, tmp_path, SEED=5,
                                       OUTPUT_MODEL=str(tmp_path / "b.json")))
    assert open(a["OUTPUT_MODEL"], "rb").read() == open(b["OUTPUT_MODEL"], "rb").read()


def test_missing_factor_is_named_with_the_available_ones(run_alg, tmp_path, source, related):
    source_path, _ = source
    arrays = factor_arrays(2)
    partial = write_raster(tmp_path / "partial.tif", arrays[:2], ["NDVI", "SLOPE"], origin=ORIGIN,
                           size=SIZE)
    with pytest.raises(QgsProcessingException,
                       match="needs factor.*ELEVATION.*Available factors: NDVI, SLOPE"):
        run_alg("transfergabp", params(source_path, related, tmp_path, FACTORS=[partial]))
    assert not (tmp_path / "tr.json").exists()


def test_too_few_target_samples_says_what_to_set(run_alg, tmp_path, source):
    source_path, _ = source
    few = sample_period(tmp_path, "few", 6, 12, content)
    with pytest.raises(QgsProcessingException,
                       match="Only 12 valid target samples.*TRAIN_SAMPLES = 16.*at most 10"):
        run_alg("transfergabp", params(source_path, few, tmp_path))
    assert not (tmp_path / "tr.json").exists()


def test_a_file_that_is_not_a_model_is_refused(run_alg, tmp_path, related):
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(QgsProcessingException, match="not a soilmetal model"):
        run_alg("transfergabp", params(str(bogus), related, tmp_path))
    assert not (tmp_path / "tr.json").exists()


def test_cross_validated_verdict_outputs_and_baseline_model(run_alg, tmp_path, source, related):
    source_path, _ = source
    result = run_alg("transfergabp", params(source_path, related, tmp_path, CV=1, FOLDS=4,
                                            OUTPUT_BASELINE_MODEL=str(tmp_path / "scratch.json"),
                                            OUTPUT_REPORT=str(tmp_path / "cv.html")))
    assert result["VERDICT"] in ("helps", "negative", "no detectable difference")
    model = load_model(result["OUTPUT_MODEL"])
    scratch = load_model(str(tmp_path / "scratch.json"))
    assert model.cv["scheme"] == "random" and model.cv["folds"] == 4
    observed = np.asarray(model.samples["observed"])
    assert len(observed) == 40 and model.samples["role"].count("train") == 16
    assert scratch.samples["role"] == model.samples["role"]
    tr, base = np.asarray(model.cv["prediction"]), np.asarray(scratch.cv["prediction"])
    assert result["CV_RMSE"] == pytest.approx(np.sqrt(np.mean((tr - observed) ** 2)))
    assert result["BASELINE_CV_RMSE"] == pytest.approx(np.sqrt(np.mean((base - observed) ** 2)))
    html = (tmp_path / "cv.html").read_text(encoding="utf-8")
    assert "Model to map with:" in html and "Cross-validated comparison on all target" in html
    assert html.index("Model to map with:") < html.index("Settings")
    assert result["RK_CV_RMSE"] == pytest.approx(model.cv["kriging"]["metrics"]["RMSE"], rel=1e-12)
    assert "kriging" in scratch.cv and "Residual kriging (regression kriging)" in html
