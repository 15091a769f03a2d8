"""selectfactors without QGIS: sampling + screening + the CSV and HTML report, and the
sentence that reads the MLR table."""

import os

import numpy as np
import pandas as pd
import pytest

from core.errors import SoilMetalError
from core.reports.selection import build_selection_report, interpret_mlr, write_selection_outputs
from core.sampling import FactorSource, PointSet, SampleInputs
from core.science.selection import TABLE_COLUMNS
from core.workflows.selection import SelectionSettings, check_always_include, run_selection
from rasters import wkt, write_raster

ORIGIN, SIZE, ROWS, COLS = (300000.0, 3730000.0), 30.0, 40, 50


@pytest.fixture
def scene(tmp_path):
    """Factor rasters with a driver, a near copy, noise, a constant; 60 points, two bad ones."""
    rng = np.random.default_rng(8)
    driver = rng.normal(size=(ROWS, COLS))
    copy = driver + rng.normal(scale=0.02, size=(ROWS, COLS))
    noise = rng.normal(size=(ROWS, COLS))
    driver[0, 0] = -9999.0  # a point on nodata
    spectral = write_raster(tmp_path / "spectral.tif", [driver, copy], ["NDVI", "NDVI_COPY"])
    terrain = write_raster(tmp_path / "terrain.tif", [noise, np.full((ROWS, COLS), 3.0)],
                           ["<b>SLOPE</b>", "FLAT"])
    cells = rng.choice(ROWS * COLS, 60, replace=False)
    cells[0] = 0
    rows, cols = np.divmod(cells, COLS)
    x = ORIGIN[0] + (cols + 0.5) * SIZE
    y = ORIGIN[1] - (rows + 0.5) * SIZE
    x[1] += 1e5  # outside every raster
    # What the Float32 rasters hold at the points.
    stack = np.stack([driver, copy, noise]).astype(np.float32).astype(float)[:, rows, cols]
    metal = 40 + 8 * stack[0] + rng.normal(scale=2.0, size=60)
    points = PointSet([f"S{i}" for i in range(60)], x, y, metal, wkt(32649), field="Cu")
    sources = [FactorSource(spectral), FactorSource(terrain)]
    return points, sources, stack, metal


def test_run_screens_sampled_factors_and_reports_everything(scene, tmp_path):
    points, sources, stack, metal = scene
    settings = SelectionSettings(min_abs_r=0.3, max_vif=10, always_include=["FLAT"])
    run = run_selection(SampleInputs(points, sources), settings)
    used = np.ones(60, bool)
    used[:2] = False
    assert run.result.n_samples == 58 and run.samples_context.n_points == 60
    assert dict(run.prepared.table.dropped).keys() == {"S0", "S1"}
    table = run.result.table.set_index("factor")
    expected_r = np.corrcoef(np.vstack([stack[:, used], metal[used]]))[-1, :3]
    np.testing.assert_allclose(table.loc[["NDVI", "NDVI_COPY", "<b>SLOPE</b>"], "r"],
                               expected_r, rtol=1e-9)
    assert table.loc["FLAT", "reason"] == "constant at the samples (cannot be always included)"
    # The copy is collinear with NDVI: one of the two goes at the VIF step.
    assert sorted(table.loc[["NDVI", "NDVI_COPY"], "selected"]) == [False, True]
    write_selection_outputs(run, tmp_path / "t.csv", tmp_path / "r.html")
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns) == TABLE_COLUMNS and len(csv) == 4
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;SLOPE&lt;/b&gt;" in html and "<b>SLOPE" not in html
    assert "S0" in html and "nodata in factor(s) NDVI" in html and "outside raster" in html
    assert "VIF of the remaining candidates" in html
    assert "data:image/png;base64," in html


def test_unknown_always_include_fails_before_sampling(scene):
    points, sources, _, _ = scene
    with pytest.raises(SoilMetalError, match="ALWAYS_INCLUDE: factor.s. ndvi not found.*"
                                             "Available factors: NDVI, NDVI_COPY"):
        run_selection(SampleInputs(points, sources), SelectionSettings(always_include=["ndvi"]))
    check_always_include(["NDVI"], ["NDVI", "B2"])


def test_nothing_written_without_paths(scene, tmp_path):
    points, sources, _, _ = scene
    run = run_selection(SampleInputs(points, sources), SelectionSettings())
    before = sorted(os.listdir(tmp_path))
    write_selection_outputs(run)
    assert sorted(os.listdir(tmp_path)) == before


def mlr(rows):
    """An MLR table as select_factors gives it, from (model, factors, k, r2, adj, loo) rows."""
    return pd.DataFrame([{"model": m, "factors": f, "n_samples": 50, "n_factors": k, "r2": r2,
                          "adj_r2": adj, "rmse": 5.0, "rmse_loo": loo}
                         for m, f, k, r2, adj, loo in rows])


def test_mlr_sentence_reads_gain_loss_mixed_and_same():
    gain = interpret_mlr(mlr([("selected", "A,B", 2, 0.5, 0.48, 4.0),
                              ("without always-included", "A", 1, 0.4, 0.39, 4.5)]), ["B"])
    assert "R\u00b2 = 0.5 of its variance" in gain
    assert "rises from 0.4 to 0.5" in gain and "add information" in gain
    loss = interpret_mlr(mlr([("selected", "A,B", 2, 0.41, 0.38, 4.6),
                              ("without always-included", "A", 1, 0.4, 0.39, 4.5)]), ["B"])
    assert "add no linear information" in loss
    mixed = interpret_mlr(mlr([("selected", "A,B", 2, 0.41, 0.395, 4.6),
                               ("without always-included", "A", 1, 0.4, 0.39, 4.5)]), ["B"])
    assert "marginal" in mixed
    same = interpret_mlr(mlr([("selected", "A,B", 2, 0.5, 0.48, 4.0),
                              ("without always-included", "B,A", 2, 0.5, 0.48, 4.0)]), ["B"])
    assert "would have been selected anyway" in same
    empty = interpret_mlr(mlr([("selected", "", 0, 0.0, 0.0, 5.1)]), [])
    assert "mean of the samples" in empty


def test_report_of_an_empty_selection_warns(scene):
    points, sources, _, _ = scene
    run = run_selection(SampleInputs(points, sources), SelectionSettings(min_abs_r=0.99))
    assert run.result.selected == []
    html = build_selection_report(run).to_html()
    assert "Selected (0): none" in html and "No factor passed the screening" in html
