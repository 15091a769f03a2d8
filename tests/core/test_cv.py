"""Cross-validation: splitters, baselines, GA-BP refit per fold, and the model file's sections."""

import json

import numpy as np
import pandas as pd
import pytest

from core.science.cv import (
    LOO_BELOW,
    KFold,
    LeaveOneOut,
    SpatialKFold,
    baseline_oof,
    bootstrap_rmse_difference,
    check_fold_sizes,
    cv_metrics,
    make_splitter,
    model_scale_residual,
)
from core.science.cv_gabp import cross_validate_gabp, fold_labels, fold_model_generator
from core.errors import SoilMetalError
from core.science.gabp import GABPSettings, train_gabp
from core.model_file import load_model, require_cv, require_samples, save_model
from core.reports.training import build_training_report
from core.workflows.training import run_training
from core.sampling import PreparedSamples, SampleTable, SamplesContext

NAMES = ["F1", "F2"]


def clustered(count_per_cluster=10, centres=((0, 0), (1000, 0), (0, 1000), (1000, 1000),
                                             (500, 2000)), spread=20.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([np.asarray(c, float) + rng.normal(0, spread, (count_per_cluster, 2))
                           for c in centres])


def test_random_kfold_partitions_rows_evenly_and_is_seeded():
    x = np.zeros((23, 1))
    labels = KFold(5, np.random.default_rng(3)).fold_labels(x)
    assert sorted(np.bincount(labels)) == [4, 4, 5, 5, 5]
    again = KFold(5, np.random.default_rng(3)).fold_labels(x)
    np.testing.assert_array_equal(labels, again)
    tests = np.concatenate([test for _, test in KFold(5, np.random.default_rng(3)).split(x)])
    assert sorted(tests) == list(range(23))          # every row tested exactly once
    for train, test in KFold(5, np.random.default_rng(3)).split(x):
        assert not set(train) & set(test) and len(train) + len(test) == 23


def test_spatial_folds_are_the_clusters_and_hold_out_neighbours():
    coords = clustered()
    labels = SpatialKFold(5, np.random.default_rng(0)).fold_labels(None, None, coords)
    truth = np.repeat(np.arange(5), 10)
    # Each fold is exactly one of the five generated clusters.
    assert len({(a, b) for a, b in zip(labels, truth)}) == 5
    random_labels = KFold(5, np.random.default_rng(0)).fold_labels(coords)

    def nearest_training_distance(lab):
        out = []
        for fold in np.unique(lab):
            test, train = coords[lab == fold], coords[lab != fold]
            out.append(np.min(np.linalg.norm(test[:, None] - train[None], axis=2), axis=1))
        return np.median(np.concatenate(out))
    assert nearest_training_distance(labels) > 10 * nearest_training_distance(random_labels)


def test_leave_one_out_below_the_documented_count_and_bad_folds():
    rng = np.random.default_rng(0)
    assert isinstance(make_splitter("spatial", 5, LOO_BELOW - 1, rng), LeaveOneOut)
    assert isinstance(make_splitter("spatial", 5, LOO_BELOW, rng), SpatialKFold)
    assert isinstance(make_splitter("random", 5, 40, rng), KFold)
    with pytest.raises(SoilMetalError, match="Set FOLDS to at most 12"):
        make_splitter("random", 20, 12, rng)
    with pytest.raises(SoilMetalError, match="at least 2 folds"):
        make_splitter("random", 1, 30, rng)
    # A fold holding nearly every sample leaves too few to train on.
    with pytest.raises(SoilMetalError, match="more FOLDS"):
        check_fold_sizes(np.array([0] * 28 + [1, 2]), 3)


def test_baselines_refit_per_fold_match_direct_fits():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (30, 2))
    y = 5 + 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.1, 30)
    labels = np.arange(30) % 3
    oof = baseline_oof(x, y, labels)
    for fold in range(3):
        test, train = labels == fold, labels != fold
        np.testing.assert_allclose(oof["mean"][test], y[train].mean())
        design = np.column_stack([np.ones(train.sum()), x[train]])
        coef = np.linalg.solve(design.T @ design, design.T @ y[train])
        np.testing.assert_allclose(oof["mlr"][test],
                                   np.column_stack([np.ones(test.sum()), x[test]]) @ coef)
    log_oof = baseline_oof(x, np.exp(y / 5), labels, log_target=True)
    np.testing.assert_allclose(log_oof["mean"][labels == 0],
                               np.exp(np.mean(y[labels != 0] / 5)))   # geometric mean


def test_cv_metrics_fold_spread_and_log_residual():
    obs = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    pred = np.array([1.5, 2.0, 2.0, 4.0, 7.0, 6.0])
    labels = np.array([0, 0, 1, 1, 2, 2])
    per_fold = [np.sqrt(np.mean((pred[labels == f] - obs[labels == f]) ** 2)) for f in range(3)]
    metrics = cv_metrics(obs, pred, labels)
    assert metrics["RMSE_fold_sd"] == pytest.approx(np.std(per_fold, ddof=1))
    assert metrics["RMSE"] == pytest.approx(np.sqrt(np.mean((pred - obs) ** 2)))
    np.testing.assert_allclose(model_scale_residual(obs, pred, True), np.log(obs / pred))


def test_bootstrap_interval_of_the_rmse_difference():
    rng = np.random.default_rng(0)
    obs = rng.normal(50, 10, 40)
    good, bad = obs + rng.normal(0, 1, 40), obs + rng.normal(0, 8, 40)
    diff, low, high = bootstrap_rmse_difference(obs, good, bad, np.random.default_rng(1))
    assert low < diff < high < 0
    same = bootstrap_rmse_difference(obs, good, good, np.random.default_rng(1))
    assert same == (0.0, 0.0, 0.0)


def test_every_fold_model_is_the_final_settings_refit_on_the_other_folds():
    coords = clustered(6)
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (30, 2))
    y = 40 + 20 * x[:, 0] + rng.normal(0, 1, 30)
    settings = GABPSettings(population=8, generations=3, epochs=5, ensemble=2, seed=4)
    cv = cross_validate_gabp(x, y, coords, NAMES, settings, "spatial", 5)
    _, labels = fold_labels("spatial", 5, x, coords, 4)
    np.testing.assert_array_equal(cv["fold"], labels)
    for fold in np.unique(labels):
        train, test = labels != fold, labels == fold
        model = train_gabp(x[train], y[train], NAMES, settings,
                           rng=fold_model_generator(4, fold))
        np.testing.assert_allclose(np.asarray(cv["prediction"])[test], model.predict(x[test])[0])
    assert cv["scheme"] == "spatial" and cv["folds"] == 5
    np.testing.assert_allclose(cv["residual"], y - np.asarray(cv["prediction"]))


def prepared(x, y, coords):
    ids = [f"S{k:02d}" for k in range(len(y))]
    table = SampleTable(pd.DataFrame(x, columns=NAMES, index=pd.Index(ids, name="sample_id")),
                        np.asarray(y, float), ids, coords[:, 0], coords[:, 1], [])
    return PreparedSamples(table, [], "none")


def test_training_run_stores_samples_and_cv_and_the_file_round_trips(tmp_path):
    coords = clustered(8)
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (40, 2))
    y = np.exp(3 + x[:, 0] + rng.normal(0, 0.05, 40))
    settings = GABPSettings(population=8, generations=3, epochs=5, seed=1, log_target=True)
    run = run_training(prepared(x, y, coords), settings, 0.2, cv="random", folds=4,
                       samples_context=SamplesContext(field="cu", crs_wkt="EPSG:32650"))
    model = run.model
    roles = np.array(model.samples["role"])
    assert (roles == "validation").sum() == run.split.validation.size == 8
    np.testing.assert_array_equal(np.flatnonzero(roles == "validation"), run.split.validation)
    np.testing.assert_allclose(model.samples["factors"], x)
    assert model.cv["scheme"] == "random" and model.cv["folds"] == 4
    np.testing.assert_allclose(model.cv["residual"],
                               np.log(y) - np.log(model.cv["prediction"]))
    assert run.summary["CV_RMSE"] == pytest.approx(
        np.sqrt(np.mean((np.asarray(model.cv["prediction"]) - y) ** 2)))
    assert run.summary["MEAN_CV_RMSE"] == model.cv["mean_metrics"]["RMSE"]
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.samples["id"] == model.samples["id"]
    assert loaded.cv["fold"] == model.cv["fold"]
    html = build_training_report(run).to_html()
    assert "Cross-validation (out-of-fold" in html and "linear regression (MLR)" in html


def test_report_says_first_when_the_model_does_not_beat_the_mean():
    coords = clustered(8)
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, (40, 2))
    y = rng.normal(50, 10, 40)            # unrelated to the factors
    run = run_training(prepared(x, y, coords), GABPSettings(population=8, generations=3,
                                                            epochs=20, goal=0.0),
                       0.2, cv="spatial")
    assert run.summary["CV_RMSE"] >= run.summary["MEAN_CV_RMSE"]
    html = build_training_report(run).to_html()
    assert html.index("does not beat predicting the mean") < html.index("Settings")


def test_version_1_file_loads_without_samples_and_says_what_to_do(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (15, 2))
    model = train_gabp(x, 10 + x[:, 0], NAMES, GABPSettings(population=4, generations=1))
    save_model(model, tmp_path / "m.json")
    content = json.loads((tmp_path / "m.json").read_text())
    content["format_version"] = 1
    del content["samples"], content["cv"]
    (tmp_path / "old.json").write_text(json.dumps(content))
    old = load_model(tmp_path / "old.json")
    assert old.samples is None and old.cv is None
    with pytest.raises(SoilMetalError, match="written before soilmetal 0.2.0: retrain it with "
                                             "'Train GA-BP model' to get prediction intervals"):
        require_cv(old, "prediction intervals")
    with pytest.raises(SoilMetalError, match="to get independent evaluation"):
        require_samples(old, "independent evaluation")
    content["samples"] = {"crs": "", "x": [1.0], "y": [2.0], "id": ["a"], "factors": [[1.0]],
                          "observed": [3.0], "role": ["train"]}
    (tmp_path / "bad.json").write_text(json.dumps(content))
    with pytest.raises(SoilMetalError, match=r"samples.factors\[0\]"):
        load_model(tmp_path / "bad.json")
