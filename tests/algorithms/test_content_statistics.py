"""contentstatistics through processing.run: numbers, class shares and the index raster
against NumPy on the whole array; area weighting in a geographic CRS; errors and cancel."""

import math
import os

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from rasters import write_raster

BREAKS = [0, 30, 50, 70, 90, 110]
CU_MEAN, CU_MAX = 21.4, 43.6  # the paper's Shaanxi background for Cu


def cu_map(shape=(260, 310), seed=11):
    """A lognormal Cu-like map with nodata holes, values beyond 110 and one at 0."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(55.0), 0.35, size=shape)
    values[rng.random(shape) < 0.05] = np.nan
    values[:20, :30] = np.nan
    rows, cols = shape
    values[rows // 2, cols // 2] = 0.0        # Igeo undefined there, CF = 0
    values[rows // 2 + 1, cols // 2] = 30.0   # exactly on a break: counts in 30-50
    return values


def as_raster(path, values, name="Cu (mg/kg)", **kwargs):
    """Write values (NaN = nodata) as a one-band Float32 raster and read back what was stored."""
    write_raster(path, [np.where(np.isfinite(values), values, -9999.0)], [name], **kwargs)
    stored = gdal.Open(str(path)).ReadAsArray().astype(float)
    return np.where(stored == -9999.0, np.nan, stored)


def class_percent(valid, breaks, weights=None):
    """Independent class shares with explicit comparisons; the last class is closed."""
    weights = np.ones_like(valid) if weights is None else weights
    shares = {}
    for i, (low, high) in enumerate(zip(breaks, breaks[1:])):
        upper = valid <= high if i == len(breaks) - 2 else valid < high
        shares[f"{low:g}-{high:g}"] = 100 * weights[(valid >= low) & upper].sum() / weights.sum()
    if (valid > breaks[-1]).any():
        shares[f"> {breaks[-1]:g}"] = 100 * weights[valid > breaks[-1]].sum() / weights.sum()
    return shares


def test_statistics_classes_and_igeo_equal_numpy(run_alg, tmp_path):
    values = as_raster(tmp_path / "cu.tif", cu_map())
    valid = values[np.isfinite(values)]
    paths = {key: str(tmp_path / name) for key, name in
             (("OUTPUT_TABLE", "cu.csv"), ("OUTPUT_REPORT", "cu.html"), ("OUTPUT_INDEX", "igeo.tif"))}
    result = run_alg("contentstatistics", dict(
        INPUT=str(tmp_path / "cu.tif"), REFERENCE_MEAN=CU_MEAN, REFERENCE_MAX=CU_MAX,
        CLASS_BREAKS=",".join(map(str, BREAKS)), **paths))
    # Plain Python numbers (NumPy scalars are lost on the way through QVariant in qgis_process).
    assert {type(result[key]) for key in ("MIN", "MAX", "MEAN", "STD",
                                          "PERCENT_ABOVE_REFERENCE_MAX")} == {float}
    assert type(result["COUNT"]) is int
    assert result["COUNT"] == valid.size
    assert result["MIN"] == valid.min() and result["MAX"] == valid.max()
    assert result["MEAN"] == pytest.approx(valid.mean(), rel=1e-12)
    assert result["STD"] == pytest.approx(valid.std(), rel=1e-10)
    assert result["PERCENT_ABOVE_REFERENCE_MAX"] == pytest.approx(
        100 * (valid > CU_MAX).mean(), rel=1e-12)

    table = pd.read_csv(paths["OUTPUT_TABLE"])
    content_classes = table[table["section"] == "content classes"].set_index("item")
    expected = class_percent(valid, BREAKS)
    assert list(content_classes.index) == list(expected)
    np.testing.assert_allclose(content_classes["percent"], list(expected.values()), rtol=1e-10)
    statistics = table[table["section"] == "statistics"].set_index("item")
    assert statistics.loc["mean", "reference"] == CU_MEAN
    assert statistics.loc["max", "reference"] == CU_MAX

    dataset = gdal.Open(paths["OUTPUT_INDEX"])
    index = dataset.GetRasterBand(1)
    assert index.GetDescription().startswith("Igeo Cu")
    assert index.GetNoDataValue() == -9999.0
    igeo = index.ReadAsArray().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_igeo = np.log2(values / (1.5 * CU_MEAN))
    defined = np.isfinite(expected_igeo)
    assert np.all(igeo[~defined] == -9999.0)  # nodata and the content of 0
    np.testing.assert_allclose(igeo[defined], expected_igeo[defined], rtol=1e-6, atol=1e-6)

    index_classes = table[table["section"] == "index classes"].set_index("item")
    igeo_valid = expected_igeo[defined]
    assert index_classes.loc["< 0", "percent"] == pytest.approx(
        100 * (igeo_valid < 0).mean(), rel=1e-10)
    assert index_classes.loc["0-1", "class_name"] == "unpolluted to moderately polluted"

    html = open(paths["OUTPUT_REPORT"], encoding="utf-8").read()
    for text in ("Table 6", "Table 7", "M\u00fcller", "unpolluted", "data:image/png;base64,",
                 f"{100 * (valid > CU_MAX).mean():.3g} % of the area exceed the reference maximum"):
        assert text in html


def test_contamination_factor_band_and_no_reference(run_alg, tmp_path):
    values = cu_map((90, 120), seed=2)
    second = as_raster(tmp_path / "two.tif", values)
    first = np.full(values.shape, 1.0)
    write_raster(tmp_path / "two.tif", [first, np.where(np.isfinite(second), second, -9999.0)],
                 ["other", "Pb (mg/kg)"])
    result = run_alg("contentstatistics", {
        "INPUT": str(tmp_path / "two.tif"), "BAND": 2, "REFERENCE_MEAN": 21.4, "INDEX": 1,
        "CLASS_BREAKS": "0,30,35,40,45,50", "OUTPUT_INDEX": str(tmp_path / "cf.tif")})
    valid = second[np.isfinite(second)]
    assert result["MEAN"] == pytest.approx(valid.mean(), rel=1e-12)
    assert "PERCENT_ABOVE_REFERENCE_MAX" not in result
    cf = gdal.Open(str(tmp_path / "cf.tif")).ReadAsArray().astype(float)
    np.testing.assert_allclose(cf[np.isfinite(second)], valid / 21.4, rtol=1e-6)
    assert np.all(cf[~np.isfinite(second)] == -9999.0)
    # Without any reference: statistics only, no index section.
    plain = run_alg("contentstatistics", {"INPUT": str(tmp_path / "two.tif"), "BAND": 2,
                                          "OUTPUT_REPORT": str(tmp_path / "plain.html")})
    assert plain["COUNT"] == valid.size
    html = open(tmp_path / "plain.html", encoding="utf-8").read()
    assert "Give REFERENCE_MEAN and REFERENCE_MAX" in html and "M\u00fcller" not in html


def test_geographic_raster_shares_are_by_area(run_alg, tmp_path):
    # Rows from 80 N to the equator: a pixel near the top covers a fraction of one near the bottom.
    rows, cols = 160, 40
    values = np.repeat(np.linspace(100.0, 0.0, rows)[:, None], cols, axis=1)
    stored = as_raster(tmp_path / "geo.tif", values, origin=(10.0, 80.0), size=0.5, epsg=4326)
    result = run_alg("contentstatistics", {"INPUT": str(tmp_path / "geo.tif"), "REFERENCE_MAX": 50,
                                           "CLASS_BREAKS": ",".join(map(str, BREAKS)),
                                           "OUTPUT_TABLE": str(tmp_path / "geo.csv")})
    latitude = 80.0 - 0.5 * (np.arange(rows) + 0.5)
    weights = np.repeat(np.cos(np.radians(latitude))[:, None], cols, axis=1)
    by_area = 100 * weights[stored > 50].sum() / weights.sum()
    by_pixels = 100 * (stored > 50).mean()
    assert abs(by_area - by_pixels) > 10  # the test can tell the two apart
    # Spherical cos(latitude) weights are within 1 % of the ellipsoid's.
    assert result["PERCENT_ABOVE_REFERENCE_MAX"] == pytest.approx(by_area, rel=1e-2)
    table = pd.read_csv(tmp_path / "geo.csv")
    classes = table[table["section"] == "content classes"].set_index("item")
    expected = class_percent(stored.ravel(), BREAKS, weights.ravel())
    np.testing.assert_allclose(classes["percent"], [expected[k] for k in classes.index], rtol=1e-2)
    # The mean stays per pixel, as in the paper.
    assert result["MEAN"] == pytest.approx(stored.mean(), rel=1e-12)


def run_expecting_error(run_alg, tmp_path, params, message):
    """The run fails with message and leaves none of the three outputs behind."""
    paths = {key: str(tmp_path / name) for key, name in
             (("OUTPUT_TABLE", "x.csv"), ("OUTPUT_REPORT", "x.html"), ("OUTPUT_INDEX", "x.tif"))}
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("contentstatistics", dict(params, **{k: v for k, v in paths.items()
                                                    if k not in params}))
    for path in paths.values():
        assert not os.path.exists(path)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]


def test_index_without_reference_mean_says_to_set_it(run_alg, tmp_path):
    as_raster(tmp_path / "cu.tif", cu_map((30, 30)))
    run_expecting_error(run_alg, tmp_path, {"INPUT": str(tmp_path / "cu.tif")},
                        "OUTPUT_INDEX needs REFERENCE_MEAN.*Set REFERENCE_MEAN")


def test_bad_class_breaks_are_refused(run_alg, tmp_path):
    as_raster(tmp_path / "cu.tif", cu_map((30, 30)))
    run_expecting_error(run_alg, tmp_path, {"INPUT": str(tmp_path / "cu.tif"),
                                            "REFERENCE_MEAN": 21.4,
                                            "CLASS_BREAKS": "0,50,30"},
                        "CLASS_BREAKS.*must increase")


def test_all_nodata_map_is_refused(run_alg, tmp_path):
    as_raster(tmp_path / "empty.tif", np.full((40, 40), np.nan))
    run_expecting_error(run_alg, tmp_path, {"INPUT": str(tmp_path / "empty.tif"),
                                            "REFERENCE_MEAN": 21.4},
                        "no valid pixel")


def test_cancel_leaves_no_output(run_alg, tmp_path):
    # 2100 pixels wide: several 1024-pixel blocks, so the cancel lands mid-pass.
    rng = np.random.default_rng(0)
    write_raster(tmp_path / "big.tif", [rng.uniform(10, 100, (1100, 2100))], ["Cu (mg/kg)"])
    feedback = QgsProcessingFeedback()
    seen = []

    def cancel_after_first_block(percent):
        seen.append(percent)
        if percent > 0:
            feedback.cancel()
    feedback.progressChanged.connect(cancel_after_first_block)
    paths = {key: str(tmp_path / name) for key, name in
             (("OUTPUT_TABLE", "x.csv"), ("OUTPUT_REPORT", "x.html"), ("OUTPUT_INDEX", "x.tif"))}
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("contentstatistics", dict(INPUT=str(tmp_path / "big.tif"), REFERENCE_MEAN=21.4,
                                          **paths), feedback=feedback)
    assert seen and max(seen) < 100 and not math.isnan(max(seen))
    assert sorted(os.listdir(tmp_path)) == ["big.tif"]
