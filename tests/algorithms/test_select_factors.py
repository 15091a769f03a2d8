"""selectfactors through processing.run on the real Meuse samples and a real DEM: r and VIF
against a direct NumPy/pandas computation, the written table and report, bad inputs."""

import os

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal
from qgis.core import (QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                       QgsProcessingModelChildParameterSource, QgsProcessingModelOutput)
from scipy import stats

from rasters import write_points as write_point_layer, write_raster
from support import REAL_DATA

MEUSE_CSV = REAL_DATA / "meuse" / "ucdavis_meuse.csv"
MEUSE_DEM = REAL_DATA / "meuse" / "Meuse_SRTMGL1.2.tif"
TERRAIN = ["ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS"]


def write_points(path, frame, epsg):
    """The Meuse samples as a GeoPackage point layer (x/y taken as coordinates in epsg)."""
    landuse = [value if isinstance(value, str) else None for value in frame["landuse"]]
    return write_point_layer(path, list(zip(frame["x"], frame["y"])), {
        "sample_id": list(range(1, len(frame) + 1)), "copper": [float(v) for v in frame["copper"]],
        "lead": [float(v) for v in frame["lead"]], "landuse": landuse}, epsg=epsg)


def terrain_stack():
    """ELEVATION, SLOPE, ASPECT, NORTHNESS, EASTNESS of the Meuse SRTM DEM with NumPy."""
    dataset = gdal.Open(str(MEUSE_DEM))
    geotransform = dataset.GetGeoTransform()
    dem = dataset.GetRasterBand(1).ReadAsArray().astype(float)
    size = geotransform[1]
    # Rows run southwards, so the northward gradient is minus the row gradient.
    d_row, d_col = np.gradient(dem, size)
    east, north = d_col, -d_row
    slope = np.degrees(np.arctan(np.hypot(east, north)))
    aspect = np.degrees(np.arctan2(-east, -north)) % 360.0  # downslope direction from north
    bands = [dem, slope, aspect, np.cos(np.radians(aspect)), np.sin(np.radians(aspect))]
    return bands, geotransform


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    """Meuse points (GeoPackage), terrain factor raster, and the independently sampled values."""
    folder = tmp_path_factory.mktemp("meuse")
    frame = pd.read_csv(MEUSE_CSV, na_values=["NA"])
    points = write_points(folder / "meuse.gpkg", frame, 28992)
    bands, gt = terrain_stack()
    factors = write_raster(folder / "terrain.tif", bands, TERRAIN, origin=(gt[0], gt[3]),
                           size=gt[1], epsg=28992)
    # The pixel under each point, read back from the written (Float32) raster with GDAL.
    cols = np.floor((frame["x"].to_numpy() - gt[0]) / gt[1]).astype(int)
    rows = np.floor((frame["y"].to_numpy() - gt[3]) / gt[5]).astype(int)
    written = gdal.Open(factors).ReadAsArray().astype(float)
    sampled = pd.DataFrame({name: written[i][rows, cols] for i, name in enumerate(TERRAIN)})
    return {"folder": folder, "frame": frame, "points": points, "factors": factors,
            "sampled": sampled, "bands": bands, "gt": gt, "rows": rows, "cols": cols}


def independent_screening(sampled, metal, min_abs_r, max_vif):
    """r of every factor, then the VIF loop, with pandas and the inverse correlation matrix."""
    r = sampled.corrwith(metal)
    candidates = [name for name in sampled.columns if abs(r[name]) >= min_abs_r]
    vif = pd.Series(np.nan, index=sampled.columns)
    while candidates:
        if len(candidates) == 1:
            current = pd.Series([1.0], index=candidates)
        else:
            inverse = np.linalg.inv(sampled[candidates].corr().to_numpy())
            current = pd.Series(np.diag(inverse), index=candidates)
        vif[candidates] = current
        if current.max() <= max_vif:
            break
        candidates.remove(current.idxmax())
    return r, vif, candidates


def outputs(folder, stem):
    """Paths of the table and report of one run."""
    return str(folder / f"{stem}.csv"), str(folder / f"{stem}.html")


# On the coarse SRTM DEM lead correlates weakly (|r| < 0.15): at 0.3 nothing passes.
# MAX_VIF 2.5 makes the VIF loop drop ASPECT (collinear with NORTHNESS and EASTNESS).
@pytest.mark.parametrize("metal, min_abs_r, max_vif", [
    ("copper", 0.3, 10.0), ("lead", 0.1, 10.0), ("copper", 0.0, 10.0), ("lead", 0.3, 10.0),
    ("copper", 0.0, 2.5)])
def test_r_and_vif_match_direct_computation_on_meuse(run_alg, meuse, metal, min_abs_r, max_vif):
    table_path, report_path = outputs(meuse["folder"], f"{metal}_{min_abs_r}_{max_vif}")
    result = run_alg("selectfactors", {
        "POINTS": meuse["points"], "FIELD": metal, "FACTORS": [meuse["factors"]],
        "MIN_ABS_R": min_abs_r, "MAX_VIF": max_vif, "OUTPUT_TABLE": table_path,
        "OUTPUT_REPORT": report_path, "ALLOW_EMPTY": True})
    values = meuse["frame"][metal].astype(float)
    r, vif, selected = independent_screening(meuse["sampled"], values, min_abs_r, max_vif)
    assert type(result["N_SAMPLES"]) is int and result["N_SAMPLES"] == len(values) == 155
    table = pd.read_csv(table_path).set_index("factor")
    assert list(table.index) == TERRAIN
    assert list(pd.read_csv(table_path).columns) == ["factor", "r", "p_value", "vif", "selected",
                                                     "reason"]
    np.testing.assert_allclose(table["r"], r[TERRAIN], rtol=1e-9, atol=1e-12)
    expected_p = [stats.pearsonr(meuse["sampled"][name], values)[1] for name in TERRAIN]
    np.testing.assert_allclose(table["p_value"], expected_p, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(table["vif"], vif[TERRAIN], rtol=1e-8)
    assert result["SELECTED"] == ",".join(selected)
    assert list(table.index[table["selected"]]) == selected
    for name in TERRAIN:
        if abs(r[name]) < min_abs_r:
            assert table.loc[name, "reason"].startswith("|r|")
        elif name not in selected:
            assert table.loc[name, "reason"].startswith(f"VIF {vif[name]:.1f} > {max_vif:g}")
    html = open(report_path, encoding="utf-8").read()
    assert "Samples used" in html and "data:image/png;base64," in html
    assert f"Selected ({len(selected)}): {', '.join(selected) or 'none'}" in html
    assert ("No factor passed the screening" in html) == (not selected)
    assert "Leave-one-out RMSE" in html


def test_always_include_keeps_aspect_and_elevation_and_explains_the_mlr(run_alg, meuse):
    table_path, report_path = outputs(meuse["folder"], "always")
    result = run_alg("selectfactors", {
        "POINTS": meuse["points"], "FIELD": "copper", "FACTORS": [meuse["factors"]],
        "ALWAYS_INCLUDE": "ASPECT, ELEVATION", "OUTPUT_TABLE": table_path,
        "OUTPUT_REPORT": report_path})
    selected = result["SELECTED"].split(",")
    assert "ASPECT" in selected and "ELEVATION" in selected
    table = pd.read_csv(table_path).set_index("factor")
    assert table.loc["ASPECT", "reason"].startswith("always included")
    html = open(report_path, encoding="utf-8").read()
    assert "without always-included" in html
    # Either the sets coincide or the report reads the comparison in words.
    assert ("Adding the always-included factor(s) ASPECT, ELEVATION" in html
            or "would have been selected anyway" in html)
    # The selected set's in-sample R^2 in the report equals an independent OLS fit.
    design = np.column_stack([np.ones(155), meuse["sampled"][selected].to_numpy()])
    y = meuse["frame"]["copper"].to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    r2 = 1 - ((y - design @ coef) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert f"{r2:.3f}" in html


def test_an_empty_selection_stops_unless_allowed(run_alg, meuse, tmp_path):
    # Lead at MIN_ABS_R 0.3 selects nothing (see above): an empty SELECTED fed to FACTOR_NAMES
    # would mean every factor, so the run stops, names the strongest factors and writes nothing.
    with pytest.raises(QgsProcessingException, match="No factor passed the screening") as error:
        run_alg("selectfactors", {
            "POINTS": meuse["points"], "FIELD": "lead", "FACTORS": [meuse["factors"]],
            "OUTPUT_TABLE": str(tmp_path / "t.csv"), "OUTPUT_REPORT": str(tmp_path / "r.html")})
    strongest = max(TERRAIN, key=lambda name: abs(stats.pearsonr(
        meuse["sampled"][name], meuse["frame"]["lead"].astype(float))[0]))
    assert f"the strongest were {strongest}: r = " in str(error.value)
    assert os.listdir(tmp_path) == []


def test_iqr_outliers_are_removed_and_listed(run_alg, meuse):
    _, report_path = outputs(meuse["folder"], "iqr")
    result = run_alg("selectfactors", {
        "POINTS": meuse["points"], "FIELD": "lead", "FACTORS": [meuse["factors"]],
        "OUTLIERS": 1, "OUTLIERS_THRESHOLD": 1.5, "OUTPUT_REPORT": report_path, "ALLOW_EMPTY": True})
    lead = meuse["frame"]["lead"].to_numpy(float)
    q1, q3 = np.percentile(lead, [25, 75])
    outside = (lead < q1 - 1.5 * (q3 - q1)) | (lead > q3 + 1.5 * (q3 - q1))
    assert outside.sum() > 0
    assert result["N_SAMPLES"] == 155 - outside.sum()
    html = open(report_path, encoding="utf-8").read()
    assert html.count("outlier removed") == outside.sum()


def test_constant_factor_is_excluded_with_its_reason(run_alg, meuse, tmp_path):
    gt = meuse["gt"]
    constant = write_raster(tmp_path / "flat.tif", [np.full(meuse["bands"][0].shape, 7.0)],
                            ["CONSTANT"], origin=(gt[0], gt[3]), size=gt[1], epsg=28992)
    table_path = str(tmp_path / "t.csv")
    result = run_alg("selectfactors", {
        "POINTS": meuse["points"], "FIELD": "copper",
        "FACTORS": [meuse["factors"], constant], "OUTPUT_TABLE": table_path})
    table = pd.read_csv(table_path).set_index("factor")
    assert table.loc["CONSTANT", "reason"] == "constant at the samples"
    assert not table.loc["CONSTANT", "selected"]
    assert np.isnan(table.loc["CONSTANT", "r"])
    assert "CONSTANT" not in result["SELECTED"].split(",")
    assert result["SELECTED"]


def test_selected_chains_into_a_string_parameter_in_a_model(meuse):
    import processing
    model = QgsProcessingModelAlgorithm("chain", "tests")
    select = QgsProcessingModelChildAlgorithm("soilmetal:selectfactors")
    select.setChildId("select")
    static = QgsProcessingModelChildParameterSource.fromStaticValue
    for name, value in (("POINTS", meuse["points"]), ("FIELD", "copper"),
                        ("FACTORS", [meuse["factors"]]), ("MIN_ABS_R", 0.3), ("MAX_VIF", 10.0)):
        select.addParameterSources(name, [static(value)])
    join = QgsProcessingModelChildAlgorithm("native:stringconcatenation")
    join.setChildId("join")
    join.addParameterSources("INPUT_1", [QgsProcessingModelChildParameterSource.fromChildOutput(
        "select", "SELECTED")])
    join.addParameterSources("INPUT_2", [static("")])
    output = QgsProcessingModelOutput("names")
    output.setChildId("join")
    output.setChildOutputName("CONCATENATION")
    join.setModelOutputs({"names": output})
    model.addChildAlgorithm(select)
    model.addChildAlgorithm(join)
    results = processing.run(model, {}, context=QgsProcessingContext(),
                             feedback=QgsProcessingFeedback())
    direct = processing.run("soilmetal:selectfactors", {
        "POINTS": meuse["points"], "FIELD": "copper", "FACTORS": [meuse["factors"]]})
    # The child's own result: QGIS 3.22 also copies it to "join:names", but 3.40's models (internal
    # version 2) publish only outputs backed by a model destination parameter, which a string is not.
    assert results["CHILD_RESULTS"]["join"]["CONCATENATION"] == direct["SELECTED"] != ""


def run_expecting_error(run_alg, folder, params, message):
    """Run with both destinations set; the error must match and leave no file behind."""
    table_path, report_path = outputs(folder, "bad")
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("selectfactors", dict(params, OUTPUT_TABLE=table_path, OUTPUT_REPORT=report_path))
    assert not os.path.exists(table_path) and not os.path.exists(report_path)
    assert not [name for name in os.listdir(folder) if name.startswith(".")]


def test_text_field_is_refused(run_alg, meuse, tmp_path):
    run_expecting_error(run_alg, tmp_path, {
        "POINTS": meuse["points"], "FIELD": "landuse", "FACTORS": [meuse["factors"]]},
        "landuse.*not numeric")


def test_points_in_a_crs_without_overlap_are_refused(run_alg, meuse, tmp_path):
    elsewhere = write_points(tmp_path / "utm.gpkg", meuse["frame"], 32649)
    run_expecting_error(run_alg, tmp_path, {
        "POINTS": elsewhere, "FIELD": "copper", "FACTORS": [meuse["factors"]]},
        "None of the 155 points lies inside.*CRS")


def test_all_points_on_nodata_are_refused(run_alg, meuse, tmp_path):
    holes = [band.copy() for band in meuse["bands"][:2]]
    for band in holes:
        band[meuse["rows"], meuse["cols"]] = -9999.0
    gt = meuse["gt"]
    raster = write_raster(tmp_path / "holes.tif", holes, ["ELEVATION", "SLOPE"],
                          origin=(gt[0], gt[3]), size=gt[1], epsg=28992)
    run_expecting_error(run_alg, tmp_path, {
        "POINTS": meuse["points"], "FIELD": "copper", "FACTORS": [raster]},
        r"Only 0 .*nodata in factor\(s\) ELEVATION, SLOPE")


def test_unknown_always_include_is_refused(run_alg, meuse, tmp_path):
    run_expecting_error(run_alg, tmp_path, {
        "POINTS": meuse["points"], "FIELD": "copper", "FACTORS": [meuse["factors"]],
        "ALWAYS_INCLUDE": "ASPECT,ALTITUDE"},
        "ALTITUDE not found.*Available factors: ELEVATION, SLOPE, ASPECT")
