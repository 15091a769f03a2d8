"""The residual kriging record a model file keeps, its RK_CV_RMSE and the report section."""

import math

import numpy as np
import pytest
from osgeo import osr

from core.science.cv import baseline_oof
from core.science.cv_gabp import cv_record, samples_record
from core.reports.kriging import kriging_section
from core.workflows.kriging_record import kriging_record, kriging_summary, sample_metres, stored_record
from core.model_file import Model, load_model, save_model
from core.science.network import n_params
from core.reports.html import HtmlReport
from core.science.residual_kriging import regression_kriging_cv
from core.science.variogram import VariogramModel


def wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def model_with_cv(structured=True, n=120, seed=0, crs=28992):
    """A log-target model whose out-of-fold predictions miss a spatial field (or white noise)."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    factor = rng.uniform(0, 1, n)
    if structured:
        h = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        cov = VariogramModel("exponential", 0.0, 0.4, 300.0).covariance(h) + 1e-9 * np.eye(n)
        field = np.linalg.cholesky(cov) @ rng.normal(size=n)
    else:
        field = rng.normal(0, 0.6, n)
    observed = np.exp(3 + factor + field)
    prediction = np.exp(3 + factor)
    labels = np.arange(n) % 5
    model = Model(factor_names=["F"], x_min=[0.0], x_max=[1.0], y_min=3.0, y_max=4.0,
                  members=[rng.normal(size=n_params(1, 4))], log_target=True, seed=3)
    model.samples = samples_record(wkt(crs), [str(i) for i in range(n)], x, y, factor[:, None],
                                   observed, ["train"] * n)
    model.cv = cv_record("random", labels, observed, prediction,
                         baseline_oof(factor[:, None], observed, labels, True), True)
    return model


def test_record_matches_the_cv_function_and_survives_the_model_file(tmp_path):
    model = model_with_cv()
    record, result = kriging_record(model)
    x, y = np.asarray(model.samples["x"]), np.asarray(model.samples["y"])
    direct = regression_kriging_cv(x, y, model.samples["observed"], model.cv["prediction"],
                                   model.cv["residual"], model.cv["fold"], True,
                                   rng=np.random.default_rng(model.seed))
    assert record["metrics"]["RMSE"] == pytest.approx(direct.metrics["RMSE"])
    assert record["structure"] and record["p_value"] <= 0.05
    assert record["metrics"]["RMSE"] < model.cv["metrics"]["RMSE"]
    assert record["coordinates"] == "projected"
    model.cv["kriging"] = record
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert stored_record(loaded)["variogram"] == record["variogram"]
    assert kriging_summary(loaded)["RK_CV_RMSE"] == pytest.approx(record["metrics"]["RMSE"])
    report = HtmlReport("t")
    kriging_section(report, loaded)
    html = report.to_html()
    assert "lowers the cross-validated RMSE" in html and "<img" in html


def test_no_structure_means_the_model_metrics_and_says_so():
    model = model_with_cv(structured=False, seed=5)
    record, _ = kriging_record(model)
    assert not record["structure"]
    assert record["metrics"]["RMSE"] == model.cv["metrics"]["RMSE"]
    model.cv["kriging"] = record
    report = HtmlReport("t")
    kriging_section(report, model)
    html = report.to_html()
    assert html.count("kriging adds nothing") == 1, html
    assert "leave RESIDUAL_KRIGING off" in html
    # These residuals get a fitted curve whose permutation test is not significant: it is never
    # called a structure.
    assert record.get("variogram") and record["p_value"] > 0.05
    assert "no spatial structure is established" in html and " spatial structure, correlated" not in html


def test_a_fitted_variogram_without_significant_structure_is_not_called_structure():
    model = model_with_cv(structured=False, seed=5)
    record, _ = kriging_record(model)
    record.update(variogram=VariogramModel("spherical", 29.2, 332.0, 3277.0).to_dict(), p_value=0.13)
    model.cv["kriging"] = record
    report = HtmlReport("t")
    kriging_section(report, model)
    html = report.to_html()
    assert "nugget-to-sill ratio 0.08" in html and "p = 0.13, not significant" in html
    assert "strong spatial structure" not in html and "no spatial structure is established" in html


def test_without_cv_rk_is_nan_and_the_section_says_why():
    model = model_with_cv()
    model.cv = None
    assert math.isnan(kriging_summary(model)["RK_CV_RMSE"])
    report = HtmlReport("t")
    kriging_section(report, model)
    assert "CV = 1 or 2" in report.to_html()


def test_samples_at_one_location_do_not_stop_training():
    model = model_with_cv()
    n = len(model.samples["x"])
    model.samples["x"] = [100.0] * n
    model.samples["y"] = [200.0] * n
    record, result = kriging_record(model)
    assert not record["structure"]
    assert record["metrics"]["RMSE"] == model.cv["metrics"]["RMSE"]
    assert "share one location" in record["note"]


def test_geographic_samples_are_kriged_in_metres():
    model = model_with_cv(crs=4326)
    lon0, lat0 = 5.7, 51.0
    x = np.asarray(model.samples["x"])
    y = np.asarray(model.samples["y"])
    model.samples["x"] = list(lon0 + x / (111195.0 * math.cos(math.radians(lat0))))
    model.samples["y"] = list(lat0 + y / 111195.0)
    mx, my, kind = sample_metres(model.samples)
    assert kind == "geographic"
    assert np.ptp(mx) == pytest.approx(np.ptp(x), rel=0.01)
    record, _ = kriging_record(model)
    assert record["coordinates"] == "geographic"
    assert 100 < record["variogram"]["range"] < 5000        # metres, not degrees


def test_transfer_with_few_target_samples_borrows_the_source_variogram():
    from core.workflows.kriging_record import transfer_kriging_record
    source = model_with_cv(n=120)
    source.cv["kriging"] = kriging_record(source)[0]
    assert source.cv["kriging"]["structure"]
    target = model_with_cv(n=24, seed=7)
    record, _ = transfer_kriging_record(target, source)
    assert record["variogram_source"] == "source-rescaled" and record["p_value"] is None
    borrowed = VariogramModel.from_dict(record["variogram"])
    source_vgm = VariogramModel.from_dict(source.cv["kriging"]["variogram"])
    assert borrowed.range == source_vgm.range
    assert borrowed.sill == pytest.approx(np.var(target.cv["residual"], ddof=1))
    many = model_with_cv(n=60, seed=9)
    assert transfer_kriging_record(many, source)[0]["variogram_source"] == "target"

