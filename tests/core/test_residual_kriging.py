"""CV of regression kriging: the per-fold refit, the kriged held-out residuals against a dense
solve, the gain on a field with spatial structure, nothing added without structure."""

import numpy as np
import pytest

from core.errors import SoilMetalError
from core.science.residual_kriging import NO_STRUCTURE, regression_kriging_cv, residual_variogram
from core.science.variogram import VariogramModel


def correlated_field(n=150, seed=0, model=VariogramModel("exponential", 0.0, 0.5, 300.0)):
    """Sample coordinates (m) and a Gaussian field with the given covariance at them."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    h = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    cov = model.covariance(h) + 1e-9 * np.eye(n)
    return x, y, np.linalg.cholesky(cov) @ rng.normal(size=n), rng


def dense_ok(sx, sy, values, tx, ty, model):
    """Ordinary kriging with all samples, one dense solve per target."""
    n = sx.size
    a = np.ones((n + 1, n + 1))
    a[:n, :n] = model.covariance(np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :]))
    a[n, n] = 0.0
    out = []
    for px, py in zip(tx, ty):
        b = np.append(model.covariance(np.hypot(sx - px, sy - py)), 1.0)
        out.append(np.linalg.solve(a, b)[:n] @ values)
    return np.array(out)


def test_kriging_the_residuals_of_a_log_model_helps_and_matches_a_dense_solve():
    x, y, field, rng = correlated_field()
    trend = 3.0 + x / 3000.0
    observed = np.exp(trend + field + rng.normal(0, 0.05, x.size))
    prediction = np.exp(trend)                       # a model that misses the spatial part
    residual = np.log(observed) - np.log(prediction)
    fold = rng.integers(0, 5, x.size)
    cv = regression_kriging_cv(x, y, observed, prediction, residual, fold, log_target=True,
                               neighbours=1000)
    assert cv.structure
    assert cv.metrics["RMSE"] < 0.8 * cv.model_metrics["RMSE"]
    assert cv.model_metrics["RMSE"] == pytest.approx(np.sqrt(np.mean((prediction - observed) ** 2)))
    assert "lowers" in cv.verdict()
    assert cv.summary()["RK_CV_RMSE"] == cv.metrics["RMSE"]
    for f in range(5):
        test, train = fold == f, fold != f
        vgm = VariogramModel.from_dict(cv.fold_variograms[f])
        kriged = dense_ok(x[train], y[train], residual[train], x[test], y[test], vgm)
        np.testing.assert_allclose(cv.kriged_residual[test], kriged, atol=1e-8)
        np.testing.assert_allclose(cv.prediction[test], prediction[test] * np.exp(kriged), rtol=1e-8)


def test_white_noise_residuals_add_nothing():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 5000, 200), rng.uniform(0, 5000, 200)
    prediction = np.full(200, 50.0)
    observed = prediction + rng.normal(0, 5, 200)
    fold = np.arange(200) % 5
    cv = regression_kriging_cv(x, y, observed, prediction, observed - prediction, fold,
                               log_target=False)
    assert not cv.structure
    assert NO_STRUCTURE in cv.verdict()
    assert cv.metrics["RMSE"] == pytest.approx(cv.model_metrics["RMSE"])
    np.testing.assert_array_equal(cv.kriged_residual, 0.0)


def test_source_variogram_rescaled_to_the_fold_residual_variance():
    x, y, field, rng = correlated_field(n=40, seed=2)
    source = VariogramModel("spherical", 0.1, 0.9, 800.0)
    fold = np.arange(40) % 4
    prediction = np.full(40, 100.0)
    observed = prediction + 10 * field
    residual = observed - prediction
    cv = regression_kriging_cv(x, y, observed, prediction, residual, fold, log_target=False,
                               source_variogram=source, variogram_source="source-rescaled")
    for f in range(4):
        used = VariogramModel.from_dict(cv.fold_variograms[f])
        assert cv.fold_variograms[f]["p_value"] is None
        assert used.sill == pytest.approx(np.var(residual[fold != f], ddof=1))
        assert used.nugget_ratio == pytest.approx(source.nugget_ratio)
        assert used.range == source.range
    model, note, p_value = residual_variogram(x, y, residual, source_variogram=source,
                                     variogram_source="source-rescaled")
    assert model.sill == pytest.approx(np.var(residual, ddof=1)) and note == "" and p_value is None


def test_too_few_samples_in_a_fold_is_a_note_not_a_crash():
    x = np.array([0.0, 100.0, 200.0, 300.0, 400.0, 500.0])
    y = np.zeros(6)
    values = np.array([1.0, 2.0, 1.5, 3.0, 2.5, 2.0])
    fold = np.array([0, 0, 0, 0, 1, 1])
    cv = regression_kriging_cv(x, y, values + 1, values, np.ones(6) * 1.0 + values * 0.1, fold,
                               log_target=False)
    assert any("variogram not fitted" in note for note in cv.notes)


def test_mismatched_lengths_and_unknown_source_stop_with_a_message():
    with pytest.raises(SoilMetalError, match="retrain"):
        regression_kriging_cv([0, 1], [0, 1], [1, 2, 3], [1, 2], [0, 0], [0, 1], False)
    with pytest.raises(SoilMetalError, match="Unknown variogram source"):
        residual_variogram([0, 1, 2], [0, 1, 2], [1, 2, 3], variogram_source="borrowed")
    with pytest.raises(SoilMetalError, match="stores none"):
        residual_variogram([0, 1, 2], [0, 1, 2], [1, 2, 3], variogram_source="source-rescaled")
