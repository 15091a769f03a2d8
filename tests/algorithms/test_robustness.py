"""Bad inputs across every algorithm, in one process: each stops with one clear message (the
problem named once, no traceback) and leaves nothing in its output folder."""

import json
import os
import pathlib

import numpy as np
import pytest
from osgeo import ogr, osr
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from rasters import write_points, write_raster

NAMES = ["A", "B", "C"]
ORIGIN = (300000.0, 3730000.0)


def write_model(path, names):
    """A valid model file, written with the core's own writer (not under test here)."""
    from soilmetal.core.model_file import Model, save_model
    from soilmetal.core.science.network import n_params
    rng = np.random.default_rng(1)
    model = Model(factor_names=names, x_min=np.zeros(len(names)), x_max=np.full(len(names), 100.0),
                  y_min=10.0, y_max=90.0, members=[rng.normal(0, 0.7, n_params(len(names), 4))],
                  hidden=4, metal="Cu")
    save_model(model, path)
    return str(path)


def write_multipoints(path):
    """A GeoPackage whose one feature is a MultiPoint of two points."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = dataset.CreateLayer("samples", srs, ogr.wkbMultiPoint)
    layer.CreateField(ogr.FieldDefn("cu", ogr.OFTReal))
    for index in range(5):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("cu", 10.0 + index)
        geometry = ogr.Geometry(ogr.wkbMultiPoint)
        for dx in (0, 1) if index == 0 else (0,):
            point = ogr.Geometry(ogr.wkbPoint)
            point.AddPoint_2D(ORIGIN[0] + 100 + 60 * index + 30 * dx, ORIGIN[1] - 100)
            geometry.AddGeometry(point)
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    dataset = None
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Valid inputs, and the broken files the cases use."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0, 100, (40, 40)) for _ in NAMES]
    d = {"folder": folder}
    d["raster"] = write_raster(folder / "factors.tif", arrays, NAMES, origin=ORIGIN)
    d["flat"] = write_raster(folder / "flat.tif", [np.full((40, 40), 7.0)], ["K"], origin=ORIGIN)
    d["three"] = write_raster(folder / "rgb.tif", [np.full((40, 40), 0.1)] * 3, ["R", "G", "Bl"],
                              origin=ORIGIN)
    d["nodata_dem"] = write_raster(folder / "nodata_dem.tif", [np.full((40, 40), -9999.0)], ["Z"],
                                   origin=ORIGIN)
    d["small_dem"] = write_raster(folder / "small_dem.tif", [np.arange(4.0).reshape(2, 2)], ["Z"],
                                  origin=ORIGIN)
    d["no_crs_dem"] = str(folder / "no_crs_dem.tif")
    write_raster(d["no_crs_dem"], [np.add.outer(np.arange(40.0), np.arange(40.0))], ["Z"],
                 origin=ORIGIN, epsg=32649)
    from osgeo import gdal
    dataset = gdal.Open(d["no_crs_dem"], gdal.GA_Update)
    dataset.SetProjection("")
    dataset = None
    d["reference"] = write_raster(folder / "reference.tif", [np.ones((200, 200))], ["R"],
                                  origin=ORIGIN, size=10.0)
    cells = rng.choice(1600, 30, replace=False)
    xy = [(ORIGIN[0] + 30 * (c % 40) + 15, ORIGIN[1] - 30 * (c // 40) - 15) for c in cells]
    values = [float(v) for v in rng.uniform(10, 90, 30)]
    d["points"] = write_points(folder / "points.gpkg", xy, {"cu": values, "name": ["s"] * 30})
    d["few"] = write_points(folder / "few.gpkg", xy[:4], {"cu": values[:4]})
    d["empty_values"] = write_points(folder / "nan.gpkg", xy[:10], {"cu": [None] * 10, "x": [1.0] * 10})
    d["outside"] = write_points(folder / "outside.gpkg", [(0.0, 0.0), (10.0, 10.0), (20.0, 5.0)],
                                {"cu": [1.0, 2.0, 3.0]})
    d["multi"] = write_multipoints(folder / "multi.gpkg")
    d["model"] = write_model(folder / "model.json", NAMES)
    d["content"] = write_raster(folder / "content.tif", [rng.uniform(10, 90, (40, 40))], ["Cu"],
                                origin=ORIGIN)
    d["zero"] = str(folder / "zero.tif")
    open(d["zero"], "wb").close()
    d["text_tif"] = str(folder / "text.tif")
    with open(d["text_tif"], "w") as handle:
        handle.write("not a raster\n")
    d["latin1"] = str(folder / "latin1.json")
    with open(d["model"], encoding="utf-8") as handle:
        text = handle.read()
    with open(d["latin1"], "wb") as handle:
        handle.write(text.replace('"metal": "Cu"', '"metal": "Cu \u00e9"').encode("latin-1"))
    d["binary"] = str(folder / "binary.json")
    with open(d["binary"], "wb") as handle:
        handle.write(b"\x80\x04\x95\x00\x00pickle")
    d["blocker"] = str(folder / "blocker")
    with open(d["blocker"], "w") as handle:
        handle.write("a file where a folder should be")
    return d


def train(d):
    return {"POINTS": d["points"], "FIELD": "cu", "FACTORS": [d["raster"]], "GENERATIONS": 1,
            "EPOCHS": 1, "CV": 0, "OUTPUT_MODEL": "{out}/m.json"}


def select(d):
    return {"POINTS": d["points"], "FIELD": "cu", "FACTORS": [d["raster"]],
            "OUTPUT_TABLE": "{out}/t.csv", "OUTPUT_REPORT": "{out}/r.html"}


def transfer(d):
    return {"SOURCE_MODEL": d["model"], "POINTS": d["points"], "FIELD": "cu", "FACTORS": [d["raster"]],
            "CV": 0, "EPOCHS": 1, "OUTPUT_MODEL": "{out}/t.json"}


def predict(d):
    return {"MODEL": d["model"], "FACTORS": [d["raster"]], "OUTPUT": "{out}/map.tif"}


def evaluate(d):
    return {"MODEL": d["model"], "POINTS": d["points"], "FIELD": "cu", "FACTORS": [d["raster"]],
            "OUTPUT_REPORT": "{out}/e.html"}


def statistics(d):
    return {"INPUT": d["content"], "OUTPUT_TABLE": "{out}/s.csv"}


def terrain(d):
    return {"INPUT": d["raster"], "OUTPUT": "{out}/terrain.tif"}


def spectral(d):
    return {"INPUT": d["raster"], "OUTPUT": "{out}/spectral.tif"}


# One bad input per row of robustness_cases.json: [id, algorithm, base parameters (the function
# of that name above), changes, text the message must hold exactly once].
BASES = {"train": train, "select": select, "transfer": transfer, "predict": predict, "evaluate": evaluate,
         "statistics": statistics, "terrain": terrain, "spectral": spectral}
with open(pathlib.Path(__file__).with_name("robustness_cases.json"), encoding="utf-8") as handle:
    CASES = [(case, algorithm, BASES[base], changes, text)
             for case, algorithm, base, changes, text in json.load(handle)]


def fill(value, names):
    """A parameter value with {placeholders} filled in."""
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    return value.format(**names) if isinstance(value, str) else value


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60 and len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case, algorithm, base, changes, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_stops_with_one_message_and_leaves_nothing(run_alg, data, tmp_path, case, algorithm,
                                                               base, changes, expected):
    out = tmp_path / "out"
    out.mkdir()
    names = {**{k: v for k, v in data.items() if isinstance(v, str)}, "out": str(out),
             "folder": str(data["folder"])}
    parameters = {key: fill(value, names) for key, value in {**base(data), **changes}.items()}
    with pytest.raises(QgsProcessingException) as error:
        run_alg(algorithm, parameters)
    message = str(error.value)
    assert message.count(expected) == 1, message
    assert "Traceback" not in message and "Error:" not in message.split("\n")[-1][:6]
    assert os.listdir(out) == [], f"{case} left {os.listdir(out)}"
    assert not any(name.startswith(".partial-") for name in os.listdir(data["folder"]))


def test_a_failure_after_the_model_is_written_leaves_nothing(run_alg, data, tmp_path, monkeypatch):
    # The transaction itself: the model and report are written, then the table fails; before,
    # the model stayed behind as if the run had succeeded.
    import soilmetal.core.reports.common as model_reports
    from soilmetal.core.errors import SoilMetalError
    written = []

    def failing_table(frame, path):
        written.extend(sorted(os.listdir(os.path.dirname(path))))
        raise SoilMetalError("the disk is full (simulated)")

    monkeypatch.setattr(model_reports, "write_table_csv", failing_table)
    out = tmp_path / "out"
    parameters = {**train(data), "OUTPUT_MODEL": str(out / "m.json"),
                  "OUTPUT_REPORT": str(out / "sub" / "r.html"), "OUTPUT_TABLE": str(out / "t.csv")}
    with pytest.raises(QgsProcessingException, match="simulated"):
        run_alg("traingabp", parameters)
    assert any(name.endswith("m.json") for name in written)   # the model had been written
    assert not out.exists() or os.listdir(out) == []


def test_a_successful_run_moves_every_output_into_place(run_alg, data, tmp_path):
    out = tmp_path / "new" / "folder"
    result = run_alg("traingabp", {**train(data), "OUTPUT_MODEL": str(out / "m.json"),
                                   "OUTPUT_REPORT": str(out / "r.html"), "OUTPUT_TABLE": str(out / "t.csv")})
    assert result["OUTPUT_MODEL"] == str(out / "m.json")
    assert sorted(os.listdir(out)) == ["m.json", "r.html", "r.json", "t.csv"]


@pytest.mark.parametrize("changes, expected", [
    ({"CLASS_BREAKS": "0,50,30"}, "CLASS_BREAKS: Class breaks must increase strictly"),
    ({"predict:Content map": "{out}/cu.png"}, "OUTPUT: 'cu.png' ends in '.png'"),
    ({"statistics:Content statistics report": "{out}/s.pdf"}, "ends in '.pdf'"),
], ids=["class-breaks", "map-png", "report-pdf"])
def test_the_workflow_refuses_a_bad_step_input_before_any_step_runs(run_alg, tmp_path, changes, expected):
    # QGIS 3.22 checks a model step's parameters only when the model reaches it: the bad class
    # breaks of the last step used to fail after the map, the transferred model and the
    # selection report were written.
    from support import demo_data_dir
    data = demo_data_dir()
    out = tmp_path / "out"
    out.mkdir()
    parameters = {
        "LANDSAT_SOURCE": str(data / "landsat8_20171215.tif"),
        "LANDSAT_TARGET": str(data / "landsat8_20191118.tif"), "SCALE": 1,
        "DEM": str(data / "dem_1arcsec.tif"), "POINTS_SOURCE": str(data / "samples_2017.gpkg"),
        "FIELD_SOURCE": "cu_mg_kg", "POINTS_TARGET": str(data / "samples_2019.gpkg"),
        "FIELD_TARGET": "cu_mg_kg", "ENSEMBLE": 1, "CV": 0,
        "predict:Content map": str(out / "cu.tif"),
        "transfer:Tr-GA-BP model, second survey": str(out / "cu.json"),
        "select:Factor selection report": str(out / "select.html"),
        **{key: value.format(out=out) for key, value in changes.items()}}
    steps = []

    class Feedback(QgsProcessingFeedback):
        def pushInfo(self, info):
            steps.append(info)

    with pytest.raises(QgsProcessingException) as error:
        run_alg("trgabpworkflow", parameters, feedback=Feedback())
    message = str(error.value)
    assert message.count(expected) == 1, message
    assert "Traceback" not in message
    assert os.listdir(out) == [], os.listdir(out)
    assert not any("Running" in line or "Prepare algorithm" in line for line in steps), steps
