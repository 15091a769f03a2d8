"""qgis_process tier: a throwaway profile in which the plugin is enabled once per session."""

import pytest

from support import run_qgis_process


@pytest.fixture(scope="session")
def profile(tmp_path_factory):
    """A fresh QGIS profile folder with the soilmetal plugin enabled."""
    folder = tmp_path_factory.mktemp("qgis-profile")
    result = run_qgis_process(["plugins", "enable", "soilmetal"], folder)
    assert result.returncode == 0, result.stderr + result.stdout
    return folder
