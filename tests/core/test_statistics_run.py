"""The block-wise contentstatistics run: statistics, classes, histogram, index raster, area
weighting, CSV and report, against NumPy on the whole array; errors and cancellation."""

import math
import os

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal

from core import raster_io
from core.errors import Cancelled, SoilMetalError
from core.monitor import Monitor
from core.reports.statistics import build_statistics_report, statistics_table, write_statistics_outputs
from core.science.pollution_index import INDEX_SPECS, index_spec
from core.workflows.statistics import OUT_OF_RANGE_SHARE, content_name, index_raster, run_content_statistics
from rasters import write_raster

BREAKS = [0.0, 30.0, 50.0, 70.0, 90.0, 110.0]


def content(shape=(150, 170), seed=7, spread=0.3):
    """Lognormal content with nodata holes, a 0 and a value on a break."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(55.0), spread, size=shape)
    values[rng.random(shape) < 0.07] = np.nan
    values[:9, :40] = np.nan
    values[shape[0] // 2, 3] = 0.0
    values[shape[0] // 2, 4] = 50.0
    return values


def stored_raster(path, values, name="Cu (mg/kg)", **kwargs):
    """Write values as Float32 (NaN = nodata) and return what GDAL reads back, NaN = nodata."""
    write_raster(path, [np.where(np.isfinite(values), values, -9999.0)], [name], **kwargs)
    array = gdal.Open(str(path)).ReadAsArray().astype(float)
    return np.where(array == -9999.0, np.nan, array)


def run_and_write(path, index_path=None, table_path=None, report_path=None, **settings):
    """What contentstatistics does: the workflow, writing the index raster through the writer it
    is handed, then the CSV table and the HTML report of its run."""
    run = run_content_statistics(path, index_writer=index_raster(index_path), **settings)
    write_statistics_outputs(run, table_path, report_path, index_path)
    return run


def recording_monitor():
    """A Monitor that records progress values."""
    progress = []
    return Monitor(progress=progress.append), progress


def test_blockwise_run_equals_numpy_on_the_whole_array(tmp_path, monkeypatch):
    values = stored_raster(tmp_path / "cu.tif", content())
    valid = values[np.isfinite(values)]
    windows = []
    original_read = raster_io.RasterReader.read

    def spy(self, bands, window=None):
        windows.append(window)
        return original_read(self, bands, window)
    monkeypatch.setattr(raster_io.RasterReader, "read", spy)
    monitor, progress = recording_monitor()
    run = run_and_write(
        tmp_path / "cu.tif", class_breaks="0,30,50,70,90,110", reference_mean=21.4,
        reference_max=43.6, reference_min=6.8, reference_std=7.74,
        index_path=tmp_path / "igeo.tif", table_path=tmp_path / "t.csv",
        report_path=tmp_path / "r.html", monitor=monitor, block_size=32)
    # Memory bound: every read is one block, never the whole raster.
    assert len(windows) > 10 and all(w is not None and w.xsize * w.ysize <= 32 * 32
                                     for w in windows)
    assert progress == sorted(progress) and progress[-1] == 100
    stats = run.stats
    assert stats["count"] == valid.size
    assert (stats["min"], stats["max"]) == (valid.min(), valid.max())
    assert stats["mean"] == pytest.approx(valid.mean(), rel=1e-12)
    assert stats["std"] == pytest.approx(valid.std(), rel=1e-10)
    assert run.percent_above_reference_max == pytest.approx(100 * (valid > 43.6).mean(), rel=1e-12)
    assert run.comparison["ratio_of_means"] == pytest.approx(valid.mean() / 21.4)
    assert run.comparison["min_reference"] == 6.8 and run.comparison["std_reference"] == 7.74
    classes = run.classes.set_index("interval")
    for low, high in zip(BREAKS, BREAKS[1:]):
        upper = valid <= high if high == BREAKS[-1] else valid < high
        share = 100 * ((valid >= low) & upper).mean()
        assert classes.loc[f"{low:g}-{high:g}", "percent"] == pytest.approx(share, rel=1e-10)
    # 30 m UTM pixels: area = pixels x 900 m^2.
    assert stats["area"] == pytest.approx(valid.size * 900.0)

    igeo = gdal.Open(str(tmp_path / "igeo.tif")).ReadAsArray().astype(float)
    with np.errstate(divide="ignore"):
        expected = np.log2(values / (1.5 * 21.4))
    defined = np.isfinite(expected)
    np.testing.assert_allclose(igeo[defined], expected[defined], rtol=1e-6, atol=1e-6)
    assert np.all(igeo[~defined] == raster_io.NODATA)
    assert run.index_undefined == 1  # the pixel with content 0
    index_classes = run.index_classes.set_index("interval")
    igeo_valid = expected[defined]
    assert index_classes.loc["0-1", "percent"] == pytest.approx(
        100 * ((igeo_valid >= 0) & (igeo_valid < 1)).mean(), rel=1e-10)
    assert index_classes.loc["0-1", "class_name"] == "unpolluted to moderately polluted"
    assert index_classes.loc["< 0", "class_number"] == 0

    table = pd.read_csv(tmp_path / "t.csv")
    rows = table.set_index(["section", "item"])
    assert rows.loc[("statistics", "mean"), "estimated"] == pytest.approx(valid.mean(), rel=1e-12)
    assert rows.loc[("statistics", "max"), "reference"] == 43.6
    assert rows.loc[("content classes", "30-50"), "pixels"] == ((valid >= 30) & (valid < 50)).sum()
    assert rows.loc[("index statistics", "Igeo mean"), "estimated"] == pytest.approx(
        igeo_valid.mean(), rel=1e-9)
    assert set(run.figures) == {"map", "histogram", "classes", "index_classes"}
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4  # the map thumbnail, histogram, content and index classes
    assert "Table 6" in html and "Table 7" in html and "M\u00fcller (1969)" in html


def test_histogram_on_the_breaks_when_the_map_fits_them(tmp_path):
    values = stored_raster(tmp_path / "cu.tif", np.clip(content(spread=0.2), 1, 109))
    run = run_and_write(tmp_path / "cu.tif", class_breaks="0,30,50,70,90,110", block_size=64)
    valid = values[np.isfinite(values)]
    histogram = run.histogram
    assert histogram["bin_edges"][0] == 0 and histogram["bin_edges"][-1] == 110
    for break_value in BREAKS:
        assert np.isclose(histogram["bin_edges"], break_value).any()
    expected, _ = np.histogram(valid, bins=histogram["bin_edges"])
    np.testing.assert_array_equal(histogram["counts"], expected)


def test_histogram_covers_the_data_when_much_falls_outside_the_breaks(tmp_path):
    values = stored_raster(tmp_path / "pb.tif", content(seed=3) * 3.0)  # many above 50
    valid = values[np.isfinite(values)]
    assert (valid > 50).mean() > OUT_OF_RANGE_SHARE
    monitor, progress = recording_monitor()
    run = run_and_write(tmp_path / "pb.tif", class_breaks="0,30,35,40,45,50",
                                 monitor=monitor, block_size=64)
    histogram = run.histogram
    assert histogram["bin_edges"][0] == 0.0 and histogram["bin_edges"][-1] == valid.max()
    assert histogram["counts"].sum() == valid.size
    assert histogram["below"] == histogram["above"] == 0
    assert progress == sorted(progress) and progress[-1] == 100
    assert run.classes.iloc[-1]["interval"] == "> 50"


def test_contamination_factor_and_its_classes(tmp_path):
    values = stored_raster(tmp_path / "cu.tif", content())
    run = run_and_write(tmp_path / "cu.tif", reference_mean=20.0, index="cf",
                                 index_path=tmp_path / "cf.tif", block_size=50)
    cf = gdal.Open(str(tmp_path / "cf.tif")).ReadAsArray().astype(float)
    finite = np.isfinite(values)
    np.testing.assert_allclose(cf[finite], values[finite] / 20.0, rtol=1e-6)
    shares = run.index_classes.set_index("class_name")["percent"]
    valid_cf = values[finite] / 20.0
    assert shares["moderate"] == pytest.approx(100 * ((valid_cf >= 1) & (valid_cf < 3)).mean(),
                                               rel=1e-10)
    assert run.index_undefined == 0


def test_geographic_shares_are_by_true_area(tmp_path):
    import pyproj  # shipped with QGIS (python3-qgis depends on python3-pyproj)
    rows, cols, size = 120, 20, 0.5
    values = np.repeat(np.linspace(0.0, 100.0, rows)[:, None], cols, axis=1)
    stored = stored_raster(tmp_path / "geo.tif", values, origin=(5.0, 70.0), size=size,
                           epsg=4326)
    run = run_and_write(tmp_path / "geo.tif", reference_max=50.0)
    geod = pyproj.Geod(ellps="WGS84")
    top = 70.0 - size * np.arange(rows)
    cell_area = np.array([abs(geod.polygon_area_perimeter(
        [5.0, 5.5, 5.5, 5.0], [t, t, t - size, t - size])[0]) for t in top])
    weights = np.repeat(cell_area[:, None], cols, axis=1)
    expected = 100 * weights[stored > 50].sum() / weights.sum()
    assert abs(expected - 100 * (stored > 50).mean()) > 5
    assert run.percent_above_reference_max == pytest.approx(expected, rel=1e-3)
    assert run.stats["area"] == pytest.approx(weights.sum(), rel=1e-3)
    assert run.by_area
    assert "geographic CRS" in build_statistics_report(run).to_html()


def test_raster_without_crs_counts_pixels(tmp_path):
    path = str(tmp_path / "nocrs.tif")
    dataset = gdal.GetDriverByName("GTiff").Create(path, 10, 8, 1, gdal.GDT_Float32)
    dataset.SetGeoTransform((0, 1, 0, 8, 0, -1))
    data = np.arange(80, dtype=float).reshape(8, 10)
    dataset.GetRasterBand(1).WriteArray(data)
    dataset = None
    run = run_and_write(path, reference_max=60.0, class_breaks="0,40,80")
    assert not run.by_area and run.stats["area"] is None
    assert run.percent_above_reference_max == pytest.approx(100 * (data > 60).mean())
    assert "area_km2" not in statistics_table(run)["item"].tolist()
    assert "shares of pixels" in build_statistics_report(run).to_html()


@pytest.mark.parametrize("kwargs, message", [
    ({"index_path": "x.tif"}, "OUTPUT_INDEX.*REFERENCE_MEAN is empty.*Set REFERENCE_MEAN"),
    ({"reference_mean": 0.0}, "REFERENCE_MEAN must be a positive number"),
    ({"reference_max": "abc"}, "REFERENCE_MAX must be a number"),
    ({"band": 3}, "has 1 band.*BAND 3 does not exist"),
    ({"class_breaks": "0,30,x"}, "not a number"),
    ({"index": 5, "reference_mean": 20.0}, "Unknown index"),
])
def test_bad_settings_are_explained_and_write_nothing(tmp_path, kwargs, message):
    stored_raster(tmp_path / "cu.tif", content((20, 20)))
    kwargs = dict(kwargs)
    if "index_path" in kwargs:
        kwargs["index_path"] = tmp_path / kwargs["index_path"]
    with pytest.raises(SoilMetalError, match=message):
        run_and_write(tmp_path / "cu.tif", table_path=tmp_path / "t.csv",
                               report_path=tmp_path / "r.html", **kwargs)
    assert sorted(os.listdir(tmp_path)) == ["cu.tif"]


def test_all_nodata_map_leaves_no_index_file(tmp_path):
    stored_raster(tmp_path / "empty.tif", np.full((30, 30), np.nan))
    with pytest.raises(SoilMetalError, match="no valid pixel"):
        run_and_write(tmp_path / "empty.tif", reference_mean=21.4,
                               index_path=tmp_path / "i.tif", table_path=tmp_path / "t.csv")
    assert sorted(os.listdir(tmp_path)) == ["empty.tif"]


def test_cancel_mid_pass_leaves_nothing(tmp_path):
    stored_raster(tmp_path / "cu.tif", content())
    checks = []

    def cancelled():
        checks.append(1)
        return len(checks) > 3
    with pytest.raises(Cancelled):
        run_and_write(tmp_path / "cu.tif", reference_mean=21.4,
                               index_path=tmp_path / "i.tif", table_path=tmp_path / "t.csv",
                               report_path=tmp_path / "r.html",
                               monitor=Monitor(is_cancelled=cancelled), block_size=32)
    assert sorted(os.listdir(tmp_path)) == ["cu.tif"]


def test_names_and_index_lookup():
    assert content_name("Cu (mg/kg)") == "Cu"
    assert content_name("lead") == "lead"
    assert [index_spec(i).kind for i in range(len(INDEX_SPECS))] == ["igeo", "cf"]
    assert index_spec("CF").symbol == "CF"
    assert math.isclose(index_spec("igeo").compute(np.array([1.5 * 20.0]), 20.0)[0], 0.0)
