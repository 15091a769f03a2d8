"""Sampling factor rasters at points: CRS handling, methods, dropped samples and errors."""

import numpy as np
import pytest

from core import raster_io
from core.errors import SoilMetalError
from core.sampling import FactorSource, PointSet, parse_factor_names, sample_factors
from rasters import wkt, write_raster

UTM = 32649


@pytest.fixture
def rasters(tmp_path):
    rows, cols = 20, 30
    yy, xx = np.mgrid[0:rows, 0:cols].astype(float)
    a = write_raster(tmp_path / "spectral.tif", [xx, yy * 10.0], ["NDVI", "B2"])
    b = np.full((rows, cols), 5.0)
    b[5, 5] = -9999.0
    c = write_raster(tmp_path / "terrain.tif", [b], [None])
    return [FactorSource(a), FactorSource(c, "terrain")]


def centre(col, row, origin=(300000.0, 3730000.0), size=30.0):
    return origin[0] + (col + 0.5) * size, origin[1] - (row + 0.5) * size


def test_nearest_reads_the_pixel_holding_each_point(rasters):
    xy = [centre(3, 4), centre(10, 2), centre(29, 19)]
    points = PointSet(["a", "b", "c"], [p[0] for p in xy], [p[1] for p in xy], [1, 2, 3], wkt(UTM))
    table = sample_factors(points, rasters)
    assert list(table.factors.columns) == ["NDVI", "B2", "terrain_b1"]
    np.testing.assert_allclose(table.factors["NDVI"], [3, 10, 29])
    np.testing.assert_allclose(table.factors["B2"], [40, 20, 190])
    assert table.dropped == []


def test_points_are_reprojected_to_the_raster_crs(rasters):
    x, y = centre(7, 11)
    lon, lat = raster_io.transform_xy([x], [y], wkt(UTM), wkt(4326))
    points = PointSet(["p"], lon, lat, [1.0], wkt(4326))
    table = sample_factors(points, rasters, ["B2", "NDVI"], min_samples=1)
    np.testing.assert_allclose(table.factors.loc["p"].to_numpy(), [110.0, 7.0])


def test_outside_and_nodata_points_are_dropped_with_reasons(rasters):
    xy = [centre(1, 1), centre(5, 5), centre(40, 2), centre(2, 2), centre(3, 3)]
    points = PointSet(list("abcde"), [p[0] for p in xy], [p[1] for p in xy], [1, 2, 3, np.nan, 5], wkt(UTM))
    table = sample_factors(points, rasters, min_samples=2)
    assert table.ids == ["a", "e"]
    reasons = dict(table.dropped)
    assert "nodata" in reasons["b"] and "terrain_b1" in reasons["b"]
    assert "outside" in reasons["c"]
    assert "no value" in reasons["d"]


def test_bilinear_and_mean3x3(rasters):
    # A point on the corner shared by pixels (3,4),(4,4),(3,5),(4,5): bilinear gives their mean.
    x, y = 300000.0 + 4 * 30.0, 3730000.0 - 5 * 30.0
    points = PointSet(["p"], [x], [y], [1.0], wkt(UTM))
    table = sample_factors(points, rasters, ["NDVI", "B2"], method="bilinear", min_samples=1)
    np.testing.assert_allclose(table.factors.loc["p"].to_numpy(), [3.5, 45.0])
    cx, cy = centre(8, 8)
    points = PointSet(["q"], [cx], [cy], [1.0], wkt(UTM))
    table = sample_factors(points, rasters, ["NDVI", "B2"], method="mean3x3", min_samples=1)
    np.testing.assert_allclose(table.factors.loc["q"].to_numpy(), [8.0, 80.0])


def test_mean3x3_ignores_nodata_neighbours_but_not_a_nodata_centre(rasters):
    points = PointSet(["n", "c"], [centre(6, 6)[0], centre(5, 5)[0]], [centre(6, 6)[1], centre(5, 5)[1]],
                      [1.0, 2.0], wkt(UTM))
    table = sample_factors(points, rasters, ["terrain_b1"], method="mean3x3", min_samples=1)
    assert table.ids == ["n"]
    assert table.factors.loc["n", "terrain_b1"] == pytest.approx(5.0)


def test_duplicate_factor_name_is_an_error(tmp_path):
    a = write_raster(tmp_path / "a.tif", [np.ones((3, 3))], ["NDVI"])
    b = write_raster(tmp_path / "b.tif", [np.ones((3, 3))], ["NDVI"])
    points = PointSet(["p"], [300030.0], [3729970.0], [1.0], wkt(UTM))
    with pytest.raises(SoilMetalError, match="NDVI.*twice"):
        sample_factors(points, [FactorSource(a), FactorSource(b)])


def test_missing_factor_names_list_the_available_ones(rasters):
    points = PointSet(["p"], [centre(1, 1)[0]], [centre(1, 1)[1]], [1.0], wkt(UTM))
    with pytest.raises(SoilMetalError, match="SLOPE.*Available factors: NDVI, B2, terrain_b1"):
        sample_factors(points, rasters, ["NDVI", "SLOPE"])


def test_points_without_overlap_explain_the_crs(rasters):
    points = PointSet(["p", "q"], [5.0, 6.0], [50.0, 51.0], [1.0, 2.0], wkt(4326))
    with pytest.raises(SoilMetalError, match="None of the 2 points lies inside"):
        sample_factors(points, rasters)


def test_too_few_valid_samples_says_how_many(rasters):
    points = PointSet(["a", "b"], [centre(1, 1)[0], centre(5, 5)[0]], [centre(1, 1)[1], centre(5, 5)[1]],
                      [1.0, 2.0], wkt(UTM))
    with pytest.raises(SoilMetalError, match="Only 1 of 2 samples.*at least 5"):
        sample_factors(points, rasters, min_samples=5)


def test_parse_factor_names():
    assert parse_factor_names(" B2, NDVI ;SLOPE,,") == ["B2", "NDVI", "SLOPE"]
    assert parse_factor_names("") == []
    assert parse_factor_names(None) == []


def test_prepare_samples_removes_planted_maximum_and_reports_it(rasters):
    from core.sampling import prepare_samples
    cells = [(c, r) for c in range(2, 12) for r in range(2, 4)]
    values = [20.0 + (i % 5) for i in range(len(cells))]
    values[7] = 400.0
    xy = [centre(c, r) for c, r in cells]
    points = PointSet([f"s{i}" for i in range(len(cells))], [p[0] for p in xy], [p[1] for p in xy],
                      values, wkt(UTM))
    prepared = prepare_samples(points, rasters, ["NDVI"], outliers="iqr")
    assert "s7" not in prepared.table.ids and len(prepared.table) == len(cells) - 1
    assert prepared.removed_outliers[0][0] == "s7" and prepared.removed_outliers[0][1] == 400.0
    assert {row["status"] for row in prepared.summary_rows()} == {"outlier removed"}
    kept_all = prepare_samples(points, rasters, ["NDVI"], outliers="none")
    assert len(kept_all.table) == len(cells)
    with pytest.raises(SoilMetalError, match="at least 50 are"):
        prepare_samples(points, rasters, ["NDVI"], outliers="iqr", min_samples=50)


def test_sample_inputs_prepare_as_prepare_samples_and_describe_the_run(rasters):
    from dataclasses import asdict

    from core.sampling import SampleInputs, prepare_samples
    xy = [centre(c, 3) for c in range(2, 12)]
    values = [20.0 + c for c in range(10)]
    values[4] = 400.0
    points = PointSet([f"s{i}" for i in range(10)], [p[0] for p in xy], [p[1] for p in xy],
                      values, wkt(UTM), field="Cu")
    samples = SampleInputs(points, rasters, "bilinear", "iqr", 2.0)
    prepared = samples.prepare(["NDVI"], 3)
    expected = prepare_samples(points, rasters, ["NDVI"], "bilinear", "iqr", 2.0, 3)
    assert prepared.table.ids == expected.table.ids and "s4" not in prepared.table.ids
    assert asdict(samples.context()) == {"field": "Cu", "n_points": 10, "sampling": "bilinear",
                                             "outlier_threshold": 2.0, "crs_wkt": wkt(UTM)}
    assert samples.raster_paths == [source.path for source in rasters]


def test_unknown_or_repeated_factor_names_are_refused_with_what_is_available():
    from core.sampling import check_factors_found
    check_factors_found(["B2"], ["NDVI", "B2"])
    with pytest.raises(SoilMetalError, match=r"^Factor\(s\) EVI not found.*Available factors: NDVI, B2"):
        check_factors_found(["EVI", "B2"], ["NDVI", "B2"])
    with pytest.raises(SoilMetalError, match=r"^ALWAYS_INCLUDE: factor\(s\) ndvi not found"):
        check_factors_found(["ndvi"], ["NDVI"], "ALWAYS_INCLUDE")
    with pytest.raises(SoilMetalError, match="ALWAYS_INCLUDE: B2 given more than once"):
        check_factors_found(["B2", "B2"], ["B2"], "ALWAYS_INCLUDE")
