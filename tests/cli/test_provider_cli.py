"""The plugin as qgis_process users see it: listed, documented, runnable, failing clearly."""

import json

import numpy as np
import pytest
from osgeo import gdal

from rasters import write_raster
from support import qgis_process_help, run_algorithm_cli, run_qgis_process

EXPECTED_IDS = ["spectralindices", "terrainfactors", "topographiccorrection", "selectfactors", "traingabp",
                "transfergabp", "evaluatemodel", "predictcontent", "contentstatistics", "trgabpworkflow"]


def test_provider_and_algorithms_are_listed(profile):
    result = run_qgis_process(["list"], profile)
    assert result.returncode == 0, result.stderr
    assert "Soil heavy metal retrieval" in result.stdout
    for algorithm in EXPECTED_IDS:
        assert f"soilmetal:{algorithm}" in result.stdout


def test_workflow_model_help(profile):
    result = qgis_process_help("trgabpworkflow", profile)
    assert result.returncode == 0, result.stderr
    assert "The whole Tr-GA-BP chain" in result.stdout
    assert "LANDSAT_SOURCE" in result.stdout and "predict:Content map" in result.stdout


def test_workflow_correction_without_the_sun_stops_with_the_fix(profile, tmp_path):
    from support import demo_data_dir
    data = demo_data_dir()
    out = tmp_path / "out"
    out.mkdir()
    code, _, text = run_algorithm_cli("trgabpworkflow", {
        "LANDSAT_SOURCE": data / "landsat8_20171215.tif", "LANDSAT_TARGET": data / "landsat8_20191118.tif",
        "SCALE": 1, "DEM": data / "dem_1arcsec.tif", "POINTS_SOURCE": data / "samples_2017.gpkg",
        "FIELD_SOURCE": "cu_mg_kg", "POINTS_TARGET": data / "samples_2019.gpkg", "FIELD_TARGET": "cu_mg_kg",
        "ENSEMBLE": 1, "CV": 0, "TOPOGRAPHIC_CORRECTION": 2, "SUN_AZIMUTH_SOURCE": 159,
        "SUN_ELEVATION_SOURCE": -5, "predict:Content map": out / "cu.tif",
        "transfer:Tr-GA-BP model, second survey": out / "cu.json"}, profile)
    assert code != 0, text
    assert "SUN_ELEVATION_SOURCE=-5" in text and "0 < elevation <= 90" in text, text
    assert "SUN_AZIMUTH_TARGET=empty" in text and "Traceback" not in text, text
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("algorithm", [a for a in EXPECTED_IDS if a != "trgabpworkflow"])
def test_help_shows_description_parameters_and_enum_indices(profile, algorithm):
    result = qgis_process_help(algorithm, profile)
    assert result.returncode == 0, result.stderr
    help_data = json.loads((__import__("support").ROOT / "help" / f"{algorithm}.json").read_text())
    first_sentence = help_data["description"].split(". ")[0][:60]
    assert first_sentence in result.stdout
    for name in help_data["parameters"]:
        assert name in result.stdout


def test_predictcontent_runs_and_fails_clearly(profile, tmp_path):
    import sys
    sys.path.insert(0, str(__import__("support").ROOT))
    from core.model_file import Model, save_model
    from core.science.network import n_params
    rng = np.random.default_rng(5)
    factors = write_raster(tmp_path / "f.tif", [rng.uniform(0, 1, (30, 30))], ["NDVI"])
    model = Model(factor_names=["NDVI"], x_min=[0], x_max=[1], y_min=10, y_max=50,
                  members=[rng.normal(0, 0.5, n_params(1, 4))], metal="Cu")
    save_model(model, str(tmp_path / "m.json"))
    code, payload, log = run_algorithm_cli("predictcontent", {
        "MODEL": tmp_path / "m.json", "FACTORS": factors, "OUTPUT": tmp_path / "cu.tif"}, profile)
    assert code == 0, log
    assert payload["results"]["PIXELS_MAPPED"] == 900
    assert gdal.Open(str(tmp_path / "cu.tif")).GetRasterBand(1).GetDescription() == "Cu (mg/kg)"
    # A model factor that no raster has: non-zero exit and the message names the fix.
    other = write_raster(tmp_path / "g.tif", [np.ones((5, 5))], ["SLOPE"])
    code, _, log = run_algorithm_cli("predictcontent", {
        "MODEL": tmp_path / "m.json", "FACTORS": other, "OUTPUT": tmp_path / "bad.tif"}, profile)
    assert code != 0
    assert "NDVI not found" in log and "Available factors: SLOPE" in log
    assert not (tmp_path / "bad.tif").exists()


def test_packaged_zip_installs_and_loads(tmp_path):
    """make package's zip, unpacked as the plugin manager does, loads in qgis_process."""
    import subprocess
    import sys
    import zipfile

    from support import QGIS_PROCESS, ROOT
    archive = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--output", str(tmp_path)],
                             check=True, capture_output=True, text=True).stdout.strip()
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(archive).extractall(plugins)
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen",
           "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "profile"), "QGIS_PLUGINPATH": str(plugins)}
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "soilmetal"], env=env, capture_output=True, text=True)
    assert enabled.returncode == 0, enabled.stderr
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True)
    for algorithm in EXPECTED_IDS:
        assert f"soilmetal:{algorithm}" in listing.stdout, listing.stdout[-2000:]
