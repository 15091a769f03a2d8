"""Topographic correction on the demo data, whose mountain valley carries a C-form illumination
effect (demo/generate_demo_data.py): after the C-correction no band correlates with cos(i)."""

import json

import numpy as np
import pytest
from osgeo import gdal

from core.workflows.topographic_correction import run_topographic_correction
from scenes_support import write_like
from support import demo_data_dir

gdal.UseExceptions()


@pytest.mark.parametrize("year", ["2017", "2019"])
def test_corrected_demo_bands_no_longer_follow_the_illumination(tmp_path, year):
    folder = demo_data_dir()
    sun = json.loads((folder / "demo_metadata.json").read_text())["landsat"][year]
    source = gdal.Open(str(folder / sun["file"]))
    dn = source.ReadAsArray().astype(np.float64)
    reflectance = dn * 0.0000275 - 0.2          # Collection 2 Level-2 scaling, DN 0 = fill
    reflectance[dn == 0] = np.nan
    image = write_like(source, reflectance, tmp_path / "reflectance.tif",
                       [f"B{index + 1}" for index in range(source.RasterCount)])
    result = run_topographic_correction(
        str(image), str(folder / "dem_1arcsec.tif"), str(tmp_path / "corrected.tif"), method="c",
        sun_azimuth=sun["sun_azimuth_deg"], sun_elevation=sun["sun_elevation_deg"])
    for row in result.bands:
        assert row["parameter"] is not None, row
        assert row["r_before"] > 0.2, row
        assert abs(row["r_after"]) < 0.05, row
