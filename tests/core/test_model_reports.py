"""The modelling workflows and their reports, without QGIS: splits, runs, metrics, reports."""

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from core.errors import Cancelled, SoilMetalError
from core.science.gabp import GABPSettings, train_gabp
from core.model_file import load_model, model_to_bytes, save_model
from core.reports.common import figures_json_path
from core.reports.evaluation import build_evaluation_report, write_evaluation_outputs
from core.reports.training import build_training_report, write_training_outputs
from core.reports.transfer import build_transfer_report, write_transfer_outputs
from core.science.splits import split_samples, split_transfer_samples
from core.science.transfer import source_gabp_settings
from core.workflows.common import ELEMENT_SYMBOLS, check_model_factors, metal_from_field_name
from core.workflows.evaluation import run_evaluation
from core.workflows.training import run_training
from core.workflows.transfer import run_transfer
from core.monitor import Monitor
from core.sampling import FactorSource, PreparedSamples, SampleTable, SamplesContext
from core.science.transfer import TransferSettings

from rasters import write_raster

NAMES = ["NDVI", "SLOPE", "ELEVATION"]


def truth(x):
    """A non-linear content (mg/kg) of factor values x (n, 3)."""
    return (40 + 12 * np.sin(6 * x[:, 0]) + 8 * np.cos(x[:, 1] / 6)
            + 0.05 * (x[:, 2] - 1000) * x[:, 0])


def draw(count, seed, fn=truth, noise=1.0):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0, 1, count), rng.uniform(0, 40, count),
                         rng.uniform(900, 1100, count)])
    return x, fn(x) + rng.normal(0, noise, count)


def prepared_from(x, y, prefix="S", dropped=(), removed=()):
    """PreparedSamples built directly (what core.sampling.prepare_samples returns)."""
    ids = [f"{prefix}{k:03d}" for k in range(len(y))]
    factors = pd.DataFrame(x, columns=NAMES, index=pd.Index(ids, name="sample_id"))
    table = SampleTable(factors=factors,
                        values=np.asarray(y, dtype=float), ids=ids, x=np.arange(len(y)) * 30.0,
                        y=np.zeros(len(y)), dropped=list(dropped))
    return PreparedSamples(table, list(removed), "none" if not removed else "iqr")


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ---------------------------------------------------------------- helpers

@pytest.mark.parametrize("field,label", [
    ("cu_mg_kg", "Cu"), ("PB_ppm", "Pb"), ("Cu", "Cu"), ("copper", "Cu"), ("lead", "Pb"),
    ("zn (ppm)", "Zn"), ("content", "content"), ("no_3", "no_3"), ("id_x", "id_x"),
    ("om_pct", "om_pct")])
def test_metal_from_field_name(field, label):
    assert metal_from_field_name(field) == label


def test_split_samples_sizes_determinism_and_limits():
    split = split_samples(58, 0.2, np.random.default_rng(1))
    assert split.validation.size == 12 and split.train.size == 46
    assert np.array_equal(np.sort(np.concatenate([split.train, split.validation])), np.arange(58))
    again = split_samples(58, 0.2, np.random.default_rng(1))
    other = split_samples(58, 0.2, np.random.default_rng(2))
    assert np.array_equal(split.validation, again.validation)
    assert not np.array_equal(split.validation, other.validation)
    assert split_samples(10, 0.01, np.random.default_rng(0)).validation.size == 1
    assert split_samples(10, 0.0, np.random.default_rng(0)).validation.size == 0
    with pytest.raises(SoilMetalError, match="Only 4 valid samples.*leaves 2.*VALIDATION_FRACTION"):
        split_samples(4, 0.5, np.random.default_rng(0))
    with pytest.raises(SoilMetalError, match="below 1"):
        split_samples(40, 1.0, np.random.default_rng(0))


def test_split_transfer_samples_sizes_and_messages():
    split = split_transfer_samples(40, 16, 0.2, np.random.default_rng(3))
    assert (split.train.size, split.validation.size, split.unused.size) == (16, 5, 19)
    together = np.concatenate([split.train, split.validation, split.unused])
    assert np.array_equal(np.sort(together), np.arange(40))
    assert split_transfer_samples(40, 16, 1.0, np.random.default_rng(3)).validation.size == 24
    assert split_transfer_samples(40, 16, 0.01, np.random.default_rng(3)).validation.size == 2
    assert split_transfer_samples(16, 16, 0.0, np.random.default_rng(3)).validation.size == 0
    with pytest.raises(SoilMetalError,
                       match=r"Only 17 valid target samples \(3 .*TRAIN_SAMPLES = 16 needs at least "
                             r"18.*at most 15"):
        split_transfer_samples(17, 16, 0.2, np.random.default_rng(0), " (3 dropped)")


def test_figures_json_path_never_takes_the_model_path(tmp_path):
    report = tmp_path / "cu.html"
    assert figures_json_path(report) == str(tmp_path / "cu.json")
    assert figures_json_path(report, [tmp_path / "cu.json"]) == str(tmp_path / "cu.figures.json")


def test_check_model_factors_names_missing_and_available(tmp_path):
    raster = write_raster(tmp_path / "f.tif", [np.ones((3, 3)), np.ones((3, 3))], ["NDVI", "B2"])
    x, y = draw(20, 0)
    model = train_gabp(x, y, NAMES, GABPSettings(generations=2, epochs=2))
    with pytest.raises(SoilMetalError, match="needs factor.*SLOPE, ELEVATION.*Available factors: NDVI, B2"):
        check_model_factors(model, [FactorSource(raster)])


# ---------------------------------------------------------------- training

def test_run_training_metrics_split_and_reproducible_model(tmp_path):
    x, y = draw(60, 1)
    prepared = prepared_from(x, y, dropped=[("GONE", "outside raster 'f'")])
    settings = GABPSettings(seed=4, goal=0.05)
    run = run_training(prepared, settings, 0.2, samples_context=SamplesContext(field="cu_mg_kg", n_points=61))
    train, validation = run.split.train, run.split.validation
    assert (train.size, validation.size) == (48, 12)
    model = run.model
    assert model.metal == "Cu" and model.provenance["field"] == "cu_mg_kg"
    assert model.provenance["samples"]["validation"] == [f"S{k:03d}" for k in validation]
    predicted = model.predict(x)[0]
    assert run.summary["RMSE"] == pytest.approx(rmse(predicted[validation], y[validation]), rel=1e-12)
    assert run.metrics["train"]["RMSE"] == pytest.approx(rmse(predicted[train], y[train]), rel=1e-12)
    assert run.mean_predictor["RMSE"] == pytest.approx(rmse(np.mean(y[train]), y[validation]))
    # Smooth content: far better than predicting the training mean.
    assert run.summary["RMSE"] < 0.5 * run.mean_predictor["RMSE"]
    # The training stream is default_rng(seed): the recorded samples and settings rebuild the model.
    rebuilt = train_gabp(x[train], y[train], NAMES, GABPSettings(seed=4, goal=0.05), metal="Cu")
    for a, b in zip(rebuilt.members, model.members):
        np.testing.assert_array_equal(a, b)
    table = run.predictions
    assert list(table["split"]).count("validation") == 12
    np.testing.assert_allclose(table["error"], predicted - y)


def test_training_report_and_outputs(tmp_path):
    x, y = draw(50, 2)
    prepared = prepared_from(x, y, dropped=[("GONE", "outside raster 'f'")],
                             removed=[("S999", 900.0, "above the upper fence")])
    run = run_training(prepared, GABPSettings(seed=1, ensemble=3), 0.2,
                       samples_context=SamplesContext(field="pb_ppm", n_points=52))
    members = run.model.predict_members(x[run.split.validation])
    expected = [rmse(m, y[run.split.validation]) for m in members]
    np.testing.assert_allclose(run.member_rmse["validation RMSE"], expected, rtol=1e-12)
    html = build_training_report(run).to_html()
    assert html.count("<img") == 6   # + the out-of-fold figure (CV) and the residual variogram
    # S999 (900) is above every kept value: the warning box says it may be a hot spot.
    assert "removed the 1 highest measured value(s): S999 (900 mg/kg)" in html
    for text in ("GONE", "S999", "above the upper fence", "Validation, predicting the training mean",
                 "GA-BP model for Pb", "relative"):
        assert text in html, text
    json_path = write_training_outputs(run, tmp_path / "pb.json", tmp_path / "pb.html",
                                       tmp_path / "pb.csv")
    assert json_path == str(tmp_path / "pb.figures.json")
    data = json.loads(open(json_path, encoding="utf-8").read())
    assert [m["validation RMSE"] for m in data["members"]] == pytest.approx(expected)
    assert load_model(tmp_path / "pb.json").ensemble_size == 3
    frame = pd.read_csv(tmp_path / "pb.csv")
    assert len(frame) == 50 and set(frame["split"]) == {"train", "validation"}


def test_no_hold_out_gives_nan_metrics_and_says_so():
    x, y = draw(30, 3)
    run = run_training(prepared_from(x, y), GABPSettings(generations=3), 0.0,
                       samples_context=SamplesContext(field="cu"))
    assert run.split.validation.size == 0 and np.isnan(run.summary["RMSE"])
    assert "no samples were held out" in build_training_report(run).to_html()


def test_training_honours_cancellation():
    x, y = draw(30, 3)
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 5
    with pytest.raises(Cancelled):
        run_training(prepared_from(x, y), GABPSettings(generations=1000), 0.2,
                     monitor=Monitor(is_cancelled=cancelled))
    assert calls["n"] == 6


def test_nothing_is_written_when_the_model_is_invalid(tmp_path):
    x, y = draw(30, 3)
    run = run_training(prepared_from(x, y), GABPSettings(generations=2, epochs=2), 0.2)
    run.model.members[0][0] = np.nan
    with pytest.raises(Exception):
        write_training_outputs(run, tmp_path / "m.json", tmp_path / "r.html", tmp_path / "t.csv")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- transfer

@pytest.fixture(scope="module")
def source_model(tmp_path_factory):
    x, y = draw(80, 10)
    model = train_gabp(x, y, NAMES, GABPSettings(seed=3, goal=0.05), metal="Cu")
    path = tmp_path_factory.mktemp("src") / "source.json"
    save_model(model, str(path))
    return model, str(path)


def test_run_transfer_numbers_provenance_and_files(tmp_path, source_model):
    source, path = source_model
    x, y = draw(40, 20, lambda v: 1.15 * truth(v) + 6)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    run = run_transfer(source, path, prepared_from(x, y, "T"), TransferSettings(seed=2),
                       train_samples=16, validation_fraction=1.0,
                       samples_context=SamplesContext(field="cu"), source_sha256=sha)
    summary = run.summary
    held = run.split.validation
    assert (summary["N_TRAIN"], summary["N_VALIDATION"]) == (16, 24)
    assert summary["RMSE"] == pytest.approx(rmse(run.model.predict(x[held])[0], y[held]))
    assert summary["BASELINE_RMSE"] == pytest.approx(rmse(run.baseline.predict(x[held])[0], y[held]))
    assert summary["SOURCE_RMSE"] == pytest.approx(rmse(source.predict(x[held])[0], y[held]))
    assert summary["BETA"] == pytest.approx(run.model.provenance["beta"][0])
    assert run.model.provenance["beta0"][0] in TransferSettings().beta_grid
    # The verdict rests on the out-of-fold predictions of all 40 samples (issue 9).
    oof = run.cv["predictions"]
    assert summary["VERDICT"] == run.verdict["verdict"] == "helps" and not run.negative_transfer
    assert run.verdict["difference"] == pytest.approx(rmse(oof["Tr-GA-BP"], y) - rmse(oof["GA-BP"], y))
    assert run.verdict["high"] < 0 and summary["RMSE"] < summary["SOURCE_RMSE"]
    np.testing.assert_allclose(oof["Source"], source.predict(x)[0])
    # The baseline uses the source model's GA-BP settings on exactly the retraining samples.
    assert run.baseline_settings.goal == 0.05
    rebuilt = train_gabp(x[run.split.train], y[run.split.train], NAMES, run.baseline_settings)
    np.testing.assert_array_equal(rebuilt.members[0], run.baseline.members[0])

    write_transfer_outputs(run, tmp_path / "tr.json", tmp_path / "tr.html", tmp_path / "tr.csv",
                           tmp_path / "base.json")
    saved = load_model(tmp_path / "tr.json")
    assert saved.provenance["source_sha256"] == sha and saved.provenance["source_file"] == "source.json"
    assert saved.provenance["samples"]["train"] == [f"T{k:03d}" for k in run.split.train]
    np.testing.assert_allclose(saved.predict(x)[0], run.model.predict(x)[0])
    assert load_model(tmp_path / "base.json").method == "GA-BP"
    html = (tmp_path / "tr.html").read_text(encoding="utf-8")
    assert "Negative transfer" not in html and "Transfer helps (out-of-fold on all 40" in html
    figures = json.loads((tmp_path / "tr.figures.json").read_text(encoding="utf-8"))
    assert figures["source_sha256"] == sha


def test_negative_transfer_is_reported(source_model):
    source, path = source_model
    x, y = draw(40, 30, lambda v: 80 - 30 * v[:, 0])
    warnings = []
    run = run_transfer(source, path, prepared_from(x, y, "U"), TransferSettings(),
                       validation_fraction=1.0, monitor=Monitor(warning=warnings.append))
    assert run.summary["RMSE"] > run.summary["BASELINE_RMSE"] and run.negative_transfer
    assert any("Negative transfer" in text for text in warnings)
    html = build_transfer_report(run).to_html()
    assert 'note-warning"><strong>Warning: </strong>Negative transfer' in html


def test_bootstrap_ensemble_and_mismatched_metal(source_model):
    source, path = source_model
    x, y = draw(30, 40, lambda v: truth(v) + 3)
    warnings = []
    run = run_transfer(source, path, prepared_from(x, y), TransferSettings(), ensemble=3,
                       samples_context=SamplesContext(field="pb_mg_kg"), monitor=Monitor(warning=warnings.append))
    assert run.model.ensemble_size == 3 and run.baseline.ensemble_size == 3
    assert len(run.model.provenance["beta"]) == 3 and "bootstrap" in run.ensemble_mode
    assert len({tuple(m[:3]) for m in run.model.members}) == 3    # different resamples
    assert any("looks like Pb" in text for text in warnings)
    again = run_transfer(source, path, prepared_from(x, y), TransferSettings(), ensemble=3,
                         samples_context=SamplesContext(field="pb_mg_kg"))
    assert model_to_bytes(again.model) == model_to_bytes(run.model)


def test_source_gabp_settings_from_nested_and_broken_settings(source_model):
    source, _ = source_model
    transferred = load_model(model_path_of(source))
    transferred.settings = {"transfer": {}, "source": {"source": dict(source.settings, hidden=6)}}
    assert source_gabp_settings(transferred, 2, 9).hidden == 6
    transferred.settings = {"hidden": "many"}
    warnings = []
    fallback = source_gabp_settings(transferred, 1, 0, Monitor(warning=warnings.append))
    assert fallback == GABPSettings(hidden=source.hidden) and warnings


def model_path_of(model):
    """A saved copy of model (so tests can change the loaded copy freely)."""
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "m.json")
    save_model(model, path)
    return path


def test_too_few_target_samples(source_model):
    source, path = source_model
    x, y = draw(12, 50)
    with pytest.raises(SoilMetalError, match="Only 12 valid target samples.*at most 10"):
        run_transfer(source, path, prepared_from(x, y), TransferSettings())


# ---------------------------------------------------------------- evaluation

def test_run_evaluation_and_report(tmp_path, source_model):
    source, path = source_model
    x, y = draw(25, 60)
    x[0, 1] = 80.0                              # far outside the SLOPE training range
    run = run_evaluation(source, prepared_from(x, y, dropped=[("X", "nodata in factor(s) NDVI")]),
                         path, samples_context=SamplesContext(field="cu"))
    predicted = source.predict(x)[0]
    assert run.summary["RMSE"] == pytest.approx(rmse(predicted, y))
    assert run.summary["N"] == 25
    assert run.predictions["outside_training_range"].iloc[0]
    html = build_evaluation_report(run).to_html()
    assert "<img" in html and "nodata in factor(s) NDVI" in html and "extrapolat" in html
    json_path = write_evaluation_outputs(run, tmp_path / "e.html", tmp_path / "e.csv")
    assert json.loads(open(json_path).read())["metrics"]["N"] == 25
    assert len(pd.read_csv(tmp_path / "e.csv")) == 25


def test_element_symbols_are_capitalised():
    assert all(symbol == symbol.capitalize() for symbol in ELEMENT_SYMBOLS)


def test_ensemble_verdict_follows_the_numbers():
    from core.reports.training import ensemble_verdict
    members = np.array([15.9, 17.6, 17.9, 19.8, 21.6])
    assert "beats every single network" in ensemble_verdict(members, 15.0)
    assert "beats the median network" in ensemble_verdict(members, 17.0)
    assert "did not lower" in ensemble_verdict(members, 18.2)
