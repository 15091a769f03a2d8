"""evaluatemodel through processing.run: metrics vs an independent computation, dropped points."""

import csv
import json

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from soilmetal.core.model_file import Model, save_model
from soilmetal.core.science.network import n_params

from rasters import write_points as write_point_layer, write_raster

ORIGIN = (300000.0, 3730000.0)
SIZE = 30.0


def write_points(path, points):
    """GeoPackage points (EPSG:32649): (x, y, value or None, sample_id)."""
    return write_point_layer(path, [(x, y) for x, y, _, _ in points],
                             {"sample_id": [p[3] for p in points], "pb": [p[2] for p in points]})


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(11)
    ndvi = rng.uniform(0, 1, (30, 30))
    slope = rng.uniform(0, 30, (30, 30))
    ndvi[4, 4] = -9999.0                       # one sample falls on nodata
    raster = write_raster(tmp_path / "f.tif", [ndvi, slope], ["NDVI", "SLOPE"], origin=ORIGIN, size=SIZE)
    model = Model(factor_names=["SLOPE", "NDVI"], x_min=[0, 0], x_max=[20, 1], y_min=15, y_max=60,
                  members=[rng.normal(0, 0.5, n_params(2, 4)) for _ in range(2)], metal="Pb")
    model_path = tmp_path / "pb.json"
    save_model(model, str(model_path))
    cells = rng.choice(900, 25, replace=False)
    rows, cols = cells // 30, cells % 30
    keep = ~((rows == 4) & (cols == 4))
    rows, cols = rows[keep][:24], cols[keep][:24]
    measured = rng.uniform(20, 55, rows.size)
    points = [(ORIGIN[0] + (c + 0.5) * SIZE, ORIGIN[1] - (r + 0.5) * SIZE, v, f"P{k}")
              for k, (r, c, v) in enumerate(zip(rows, cols, measured))]
    points += [(ORIGIN[0] + 4.5 * SIZE, ORIGIN[1] - 4.5 * SIZE, 30.0, "ON_NODATA"),
               (ORIGIN[0] - 1000.0, ORIGIN[1], 30.0, "FAR_AWAY")]
    layer = write_points(tmp_path / "p.gpkg", points)
    ds = gdal.Open(raster)
    x = np.column_stack([ds.GetRasterBand(2).ReadAsArray()[rows, cols],
                         ds.GetRasterBand(1).ReadAsArray()[rows, cols]]).astype(float)
    return {"raster": raster, "model": model, "model_path": str(model_path), "points": layer,
            "x": x, "measured": measured, "ids": [p[3] for p in points[:rows.size]]}


def test_metrics_equal_an_independent_computation(run_alg, tmp_path, setup):
    result = run_alg("evaluatemodel", {
        "MODEL": setup["model_path"], "POINTS": setup["points"], "FIELD": "pb",
        "FACTORS": [setup["raster"]], "OUTPUT_REPORT": str(tmp_path / "e.html"),
        "OUTPUT_TABLE": str(tmp_path / "e.csv")})
    predicted = setup["model"].predict(setup["x"])[0]
    measured = setup["measured"]
    assert result["N"] == 24
    assert result["RMSE"] == pytest.approx(np.sqrt(np.mean((predicted - measured) ** 2)), rel=1e-6)
    assert result["MAE"] == pytest.approx(np.mean(np.abs(predicted - measured)), rel=1e-6)
    assert result["MRE"] == pytest.approx(np.mean(np.abs(predicted - measured) / measured), rel=1e-6)
    r2 = 1 - np.sum((predicted - measured) ** 2) / np.sum((measured - measured.mean()) ** 2)
    assert result["R2"] == pytest.approx(r2, rel=1e-6)

    with open(tmp_path / "e.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["sample_id"] for r in rows] == setup["ids"]
    np.testing.assert_allclose([float(r["predicted"]) for r in rows], predicted, rtol=1e-9)
    outside = setup["x"][:, 0] > 20        # SLOPE above the model's training range
    assert [r["outside_training_range"] == "True" for r in rows] == list(outside)

    html = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert "<img" in html and "<table" in html
    for text in ("ON_NODATA", "nodata in factor(s) NDVI", "FAR_AWAY", "outside raster", "extrapolat"):
        assert text in html, text
    data = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert data["metrics"]["N"] == 24 and len(data["dropped"]) == 2


def test_missing_factor_and_foreign_file_are_refused(run_alg, tmp_path, setup):
    other = write_raster(tmp_path / "g.tif", [np.ones((30, 30))], ["NDVI"], origin=ORIGIN, size=SIZE)
    with pytest.raises(QgsProcessingException, match="needs factor.*SLOPE.*Available factors: NDVI"):
        run_alg("evaluatemodel", {"MODEL": setup["model_path"], "POINTS": setup["points"], "FIELD": "pb",
                                  "FACTORS": [other], "OUTPUT_REPORT": str(tmp_path / "x.html")})
    assert not (tmp_path / "x.html").exists()
    bogus = tmp_path / "bogus.json"
    bogus.write_text("[1, 2, 3]")
    with pytest.raises(QgsProcessingException, match="not a soilmetal model"):
        run_alg("evaluatemodel", {"MODEL": str(bogus), "POINTS": setup["points"], "FIELD": "pb",
                                  "FACTORS": [setup["raster"]]})


def test_the_model_own_samples_are_left_out_by_location(run_alg, tmp_path, setup):
    model = setup["model"]
    # The model says it was trained on P0-P4 and validated on P5: their locations, in EPSG:32649.
    layer_points = [(ORIGIN[0] + 15.0, ORIGIN[1] - 15.0)]   # not an evaluation point
    from osgeo import ogr
    ds = ogr.Open(setup["points"])
    layer = ds.GetLayer(0)
    located = {f.GetField("sample_id"): (f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY())
               for f in layer}
    crs = layer.GetSpatialRef().ExportToWkt()
    ds = None
    own = [located[f"P{k}"] for k in range(6)] + layer_points
    model.samples = {"crs": crs, "x": [p[0] for p in own], "y": [p[1] for p in own],
                     "id": [f"T{k}" for k in range(7)], "factors": [[1.0, 0.5]] * 7,
                     "observed": [30.0] * 7, "role": ["train"] * 5 + ["validation"] * 2}
    save_model(model, str(tmp_path / "own.json"))
    base = {"MODEL": str(tmp_path / "own.json"), "POINTS": setup["points"], "FIELD": "pb",
            "FACTORS": [setup["raster"]], "OUTPUT_REPORT": str(tmp_path / "own.html")}
    result = run_alg("evaluatemodel", base)
    assert result["N_EXCLUDED"] == 6 and result["N"] == 18
    predicted = model.predict(setup["x"][6:])[0]
    measured = setup["measured"][6:]
    assert result["RMSE"] == pytest.approx(np.sqrt(np.mean((predicted - measured) ** 2)), rel=1e-6)
    assert "Independent samples" in (tmp_path / "own.html").read_text(encoding="utf-8")
    kept = run_alg("evaluatemodel", dict(base, INCLUDE_TRAINING=True))
    assert kept["N"] == 24 and kept["N_EXCLUDED"] == 0
    assert "include training samples" in (tmp_path / "own.html").read_text(encoding="utf-8")
