"""qgis_process tier: a throwaway profile in which the plugin is enabled once per session."""

import pytest
from osgeo import gdal, ogr, osr

from support import run_qgis_process

# As core/raster_io/ does for the other tiers (this process never imports it): GDAL errors raise,
# and GDAL 3.7+ stops warning that 4.0 will make that the default.
gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()


@pytest.fixture(scope="session")
def profile(tmp_path_factory):
    """A fresh QGIS profile folder with the soilmetal plugin enabled."""
    folder = tmp_path_factory.mktemp("qgis-profile")
    result = run_qgis_process(["plugins", "enable", "soilmetal"], folder)
    assert result.returncode == 0, result.stderr + result.stdout
    return folder
