"""Area above a threshold (with its range from bound maps or an exceedance map) and the share
inside the area of applicability, against direct NumPy counts on the whole array."""

import numpy as np
import pytest
from osgeo import gdal

from core.errors import SoilMetalError
from core.science.map_shares import aoa_rule
from core.reports.statistics import build_statistics_report, statistics_table
from core.workflows.statistics import run_content_statistics
from rasters import write_raster

SHAPE = (70, 90)


def maps(tmp_path, seed=2):
    """Content, lower, upper, exceedance and DI rasters on one grid -> (paths, arrays)."""
    rng = np.random.default_rng(seed)
    content = rng.lognormal(np.log(60.0), 0.3, SHAPE)
    content[:4, :10] = np.nan
    half = rng.uniform(5.0, 20.0, SHAPE)
    arrays = {"content": content, "lower": content - half, "upper": content + half,
              "exceedance": rng.uniform(0.0, 1.0, SHAPE), "di": rng.gamma(2.0, 0.3, SHAPE)}
    arrays["di"][10:12, :] = np.nan   # no DI where the content exists: counts as outside
    paths = {}
    for name, values in arrays.items():
        paths[name] = write_raster(tmp_path / f"{name}.tif",
                                   [np.where(np.isfinite(values), values, -9999.0)], [name])
        stored = gdal.Open(str(paths[name])).ReadAsArray().astype(float)
        arrays[name] = np.where(stored == -9999.0, np.nan, stored)
    return paths, arrays


def test_area_above_threshold_with_bounds_and_aoa_equals_numpy(tmp_path):
    paths, a = maps(tmp_path)
    dataset = gdal.Open(str(paths["di"]), gdal.GA_Update)
    dataset.GetRasterBand(1).SetMetadataItem("AOA_THRESHOLD", "0.8")
    dataset = None
    run = run_content_statistics(paths["content"], class_breaks="", threshold=70.0,
                                 lower_path=paths["lower"], upper_path=paths["upper"],
                                 exceedance_path=paths["exceedance"], aoa_path=paths["di"],
                                 block_size=32)
    valid = np.isfinite(a["content"])
    n = valid.sum()
    shares = run.shares
    assert shares["percent_above"] == pytest.approx(100 * (a["content"][valid] > 70).sum() / n)
    assert shares["percent_above_low"] == pytest.approx(100 * (a["lower"][valid] > 70).sum() / n)
    assert shares["percent_above_high"] == pytest.approx(100 * (a["upper"][valid] > 70).sum() / n)
    assert shares["percent_above_low"] <= shares["percent_above"] <= shares["percent_above_high"]
    assert shares["percent_above_expected"] == pytest.approx(100 * a["exceedance"][valid].mean())
    di = a["di"][valid]
    assert shares["percent_inside_aoa"] == pytest.approx(100 * (np.isfinite(di) & (di <= 0.8)).sum() / n)
    table = statistics_table(run).set_index("item")
    assert table.loc["percent_above_threshold", "percent"] == pytest.approx(shares["percent_above"])
    assert table.loc["percent_above_threshold", "reference"] == 70.0
    pixel_km2 = 30.0 * 30.0 / 1e6
    assert table.loc["percent_inside_aoa", "area_km2"] == pytest.approx(
        (np.isfinite(di) & (di <= 0.8)).sum() * pixel_km2)
    html = build_statistics_report(run).to_html()
    assert "not a joint confidence interval" in html and "area of applicability" in html


def test_content_alone_says_it_has_no_interval_and_exceedance_gives_one(tmp_path):
    paths, a = maps(tmp_path)
    alone = run_content_statistics(paths["content"], class_breaks="", threshold=55.0)
    assert alone.shares["percent_above_low"] is None and alone.shares["interval_from"] is None
    assert "has no interval" in build_statistics_report(alone).to_html()
    with_p = run_content_statistics(paths["content"], class_breaks="", threshold=55.0,
                                    exceedance_path=paths["exceedance"])
    valid = np.isfinite(a["content"])
    p = a["exceedance"][valid]
    assert with_p.shares["percent_above_low"] == pytest.approx(100 * (p >= 0.95).mean())
    assert with_p.shares["percent_above_high"] == pytest.approx(100 * (p > 0.05).mean())


def test_a_zero_one_mask_is_an_aoa(tmp_path):
    paths, a = maps(tmp_path)
    mask = (a["di"] < 0.5).astype(float)
    write_raster(tmp_path / "mask.tif", [mask], ["aoa"])
    run = run_content_statistics(paths["content"], class_breaks="", aoa_path=tmp_path / "mask.tif")
    valid = np.isfinite(a["content"])
    assert run.shares["percent_inside_aoa"] == pytest.approx(100 * mask[valid].mean())
    assert run.shares["percent_above"] is None


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": "abc"}, "THRESHOLD must be a number"),
    ({"lower_path": "lower"}, "LOWER and UPPER go together"),
    ({"lower_path": "lower", "upper_path": "upper"}, "set THRESHOLD"),
    ({"aoa_path": "content", "threshold": 50}, "no AOA_THRESHOLD.*not a 0/1 mask"),
    ({"aoa_path": "small", "threshold": 50}, "not on the grid of the content map"),
])
def test_bad_companions_are_explained(tmp_path, kwargs, message):
    paths, _ = maps(tmp_path)
    paths["small"] = write_raster(tmp_path / "small.tif", [np.ones((5, 5))], ["aoa"])
    kwargs = {k: paths[v] if k.endswith("_path") else v for k, v in kwargs.items()}
    with pytest.raises(SoilMetalError, match=message):
        run_content_statistics(paths["content"], class_breaks="", **kwargs)


def test_aoa_rule_reads_the_threshold_or_recognises_a_mask():
    assert aoa_rule("0.42", np.array([0.1, 2.0])) == ("di", 0.42)
    assert aoa_rule(None, np.array([0.0, 1.0, np.nan])) == ("mask", None)
