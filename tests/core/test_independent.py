"""evaluatemodel leaves out the model's own samples (by location), and says so."""

import numpy as np
import pandas as pd
import pytest
from osgeo import osr

from core.errors import SoilMetalError
from core.science.gabp import GABPSettings, train_gabp
from core.independent import match_model_samples
from core.science.metrics import regression_metrics
from core.reports.evaluation import build_evaluation_report
from core.workflows.evaluation import run_evaluation
from core.sampling import PreparedSamples, SampleTable, SamplesContext

NAMES = ["F1", "F2"]
UTM = "EPSG:32649"


def wkt(code):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(code)
    return srs.ExportToWkt()


# Evaluation points in the model's own CRS (EPSG:32649).
IN_UTM_49N = SamplesContext(crs_wkt=wkt(32649))


def make_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (10, 2))
    y = 30 + 10 * x[:, 0] + rng.normal(0, 1, 10)
    model = train_gabp(x, y, NAMES, GABPSettings(population=6, generations=2, epochs=5))
    coords = np.column_stack([300000 + 100.0 * np.arange(10), 3730000 + 50.0 * np.arange(10)])
    model.samples = {"crs": wkt(32649), "x": list(coords[:, 0]), "y": list(coords[:, 1]),
                     "id": [f"M{k}" for k in range(10)], "factors": x.tolist(),
                     "observed": list(y), "role": ["train"] * 8 + ["validation"] * 2}
    return model, coords


def prepared(x, y, cx, cy):
    ids = [f"E{k:02d}" for k in range(len(y))]
    table = SampleTable(pd.DataFrame(x, columns=NAMES, index=pd.Index(ids, name="sample_id")),
                        np.asarray(y, float), ids, np.asarray(cx, float), np.asarray(cy, float), [])
    return PreparedSamples(table, [], "none")


def evaluation_points(coords):
    """Model samples 0, 3 (jittered 0.1 mm), 8 (validation), 9 plus six new points 40 m away."""
    at = coords[[0, 3, 8, 9]] + np.array([[0, 0], [1e-4, 0], [0, 0], [0, 0]])
    new = coords[:6] + np.array([40.0, 0.0])
    return np.concatenate([at, new])


def test_samples_at_model_samples_are_left_out_and_metrics_are_of_the_rest():
    model, coords = make_model()
    points = evaluation_points(coords)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (10, 2)), rng.uniform(20, 50, 10)
    run = run_evaluation(model, prepared(x, y, points[:, 0], points[:, 1]), samples_context=IN_UTM_49N)
    assert run.summary["N_EXCLUDED"] == 4 and run.summary["N"] == 6
    assert list(run.independence.role[:4]) == ["train", "train", "validation", "validation"]
    expected = regression_metrics(y[4:], model.predict(x[4:])[0])
    assert run.summary["RMSE"] == pytest.approx(expected["RMSE"])
    assert run.label == "independent samples"
    html = build_evaluation_report(run).to_html()
    assert "Independent samples" in html and "N_EXCLUDED = 4" in html
    kept = run_evaluation(model, prepared(x, y, points[:, 0], points[:, 1]), samples_context=IN_UTM_49N,
                          include_training=True)
    assert kept.summary["N"] == 10 and kept.summary["N_EXCLUDED"] == 0
    assert kept.label == "samples that include training samples"
    assert "include training samples" in build_evaluation_report(kept).to_html()


def test_points_in_another_crs_are_matched_after_reprojection():
    model, coords = make_model()
    points = evaluation_points(coords)
    source, target = osr.SpatialReference(wkt(32649)), osr.SpatialReference(wkt(4326))
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)    # x = longitude
    transform = osr.CoordinateTransformation(source, target)
    lonlat = np.array(transform.TransformPoints(points.tolist()))[:, :2]
    geographic = wkt(4326)
    found = match_model_samples(model, lonlat[:, 0], lonlat[:, 1], geographic)
    np.testing.assert_array_equal(found.at_model_sample, [True] * 4 + [False] * 6)


def test_only_model_samples_or_an_old_file():
    model, coords = make_model()
    x, y = np.asarray(model.samples["factors"]), np.asarray(model.samples["observed"])
    with pytest.raises(SoilMetalError, match="none is independent.*INCLUDE_TRAINING"):
        run_evaluation(model, prepared(x, y, coords[:, 0], coords[:, 1]), samples_context=IN_UTM_49N)
    model.samples = None                         # what a version-1 file loads as
    old = run_evaluation(model, prepared(x, y, coords[:, 0], coords[:, 1]), samples_context=IN_UTM_49N)
    assert old.summary["N_EXCLUDED"] == 0 and old.summary["N"] == 10
    html = build_evaluation_report(old).to_html()
    assert "cannot tell which of these 10 samples are independent" in html
    assert "independence is unknown" in html


def test_observed_coverage_of_the_intervals_on_the_evaluated_samples():
    model, coords = make_model()
    rng = np.random.default_rng(4)
    residuals = rng.normal(0, 2, 40)
    model.cv = {"scheme": "random", "folds": 5, "fold": [0] * 10, "prediction": [0.0] * 10,
                "residual": list(residuals), "metrics": {}, "mean_metrics": {}, "mlr_metrics": {}}
    points = evaluation_points(coords)
    x = rng.uniform(0, 1, (10, 2))
    y = model.predict(x)[0] + rng.normal(0, 2, 10)
    run = run_evaluation(model, prepared(x, y, points[:, 0], points[:, 1]), samples_context=IN_UTM_49N)
    # Independent: the equal-tailed conformal 90 % interval of 40 residuals is
    # [f + r_(2), f + r_(39)] (k_lo = floor(41 * 0.05), k_hi = ceil(41 * 0.95)).
    ordered = np.sort(residuals)
    f = model.predict(x[4:])[0]
    inside = (y[4:] >= f + ordered[1]) & (y[4:] <= f + ordered[38])
    assert run.summary["COVERAGE"] == pytest.approx(inside.mean())
    model.cv = None
    assert np.isnan(run_evaluation(model, prepared(x, y, points[:, 0], points[:, 1]),
                                   samples_context=IN_UTM_49N).summary["COVERAGE"])
