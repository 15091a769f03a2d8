"""Bad inputs across every algorithm, in one process: each stops with one clear message (the
problem named once, no traceback) and leaves nothing in its output folder."""

import os

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


# (id, algorithm, base parameters, changes, text the message must hold exactly once)
CASES = [
    ("hidden-0", "traingabp", train, {"HIDDEN": 0}, "give a whole number from 1 to 100"),
    ("hidden-text", "traingabp", train, {"HIDDEN": "abc"}, "HIDDEN (Hidden neurons): 'abc'"),
    ("hidden-fraction", "traingabp", train, {"HIDDEN": 2.5}, "HIDDEN (Hidden neurons): '2.5'"),
    ("hidden-huge", "traingabp", train, {"HIDDEN": 1000}, "give a whole number from 1 to 100"),
    ("population-1", "traingabp", train, {"POPULATION": 1}, "POPULATION (GA population size)"),
    ("ensemble-0", "traingabp", train, {"ENSEMBLE": 0}, "ENSEMBLE (Networks in the ensemble)"),
    ("ensemble-huge", "traingabp", train, {"ENSEMBLE": 1000}, "from 1 to 100"),
    ("validation-0.95", "traingabp", train, {"VALIDATION_FRACTION": 0.95}, "number from 0 to 0.9"),
    ("seed-negative", "traingabp", train, {"SEED": -1}, "from 0 to 2147483647"),
    ("goal-2", "traingabp", train, {"GOAL": 2}, "GOAL (LM goal"),
    ("crossover-1.5", "traingabp", train, {"CROSSOVER": 1.5}, "CROSSOVER (GA crossover probability)"),
    ("generations-nan", "traingabp", train, {"GENERATIONS": "nan"}, "GENERATIONS (GA generations): 'nan'"),
    ("names-duplicate", "traingabp", train, {"FACTOR_NAMES": "A,A,B"}, "A given more than once"),
    ("names-repeated-key", "traingabp", train, {"FACTOR_NAMES": ["A", "B"]}, "FACTOR_NAMES was given 2 times"),
    ("names-unknown", "traingabp", train, {"FACTOR_NAMES": "ZZ"}, "Factor(s) ZZ not found"),
    ("field-text", "traingabp", train, {"FIELD": "name"}, "not numeric"),
    ("field-fid", "traingabp", train, {"FIELD": "fid"}, "is the layer's feature id"),
    ("model-ext", "traingabp", train, {"OUTPUT_MODEL": "{out}/model.txt"}, "ends in '.txt'"),
    ("model-folder", "traingabp", train, {"OUTPUT_MODEL": "{out}"}, "is a folder"),
    ("model-under-file", "traingabp", train, {"OUTPUT_MODEL": "{blocker}/m.json"}, "is a file, not a folder"),
    ("report-ext", "traingabp", train, {"OUTPUT_REPORT": "{out}/r.csv"}, "ends in '.csv'"),
    ("report-under-file", "traingabp", train, {"OUTPUT_REPORT": "{blocker}/r.html"}, "is a file, not a folder"),
    ("factors-0-byte", "traingabp", train, {"FACTORS": ["{zero}"]}, "is empty (0 bytes)"),
    ("factors-not-raster", "traingabp", train, {"FACTORS": ["{text_tif}"]}, "is not a raster GDAL can read"),
    ("factors-missing", "traingabp", train, {"FACTORS": ["{folder}/nope.tif"]}, "does not exist"),
    ("factors-twice", "traingabp", train, {"FACTORS": ["{raster}", "{raster}"]}, "is found twice"),
    ("points-multipoint", "traingabp", train, {"POINTS": "{multi}"}, "is a MultiPoint of 2 points"),
    ("points-outside", "traingabp", train, {"POINTS": "{outside}"}, "lies inside the factor rasters"),
    ("points-no-values", "traingabp", train, {"POINTS": "{empty_values}"}, "at least 3 are needed"),
    ("few-samples", "traingabp", train, {"POINTS": "{few}"}, "at least 11 are needed (half the weights"),
    ("constant-factor", "traingabp", train, {"FACTORS": ["{flat}"]}, "has the same value at every sample"),
    ("min-r-none", "selectfactors", select, {"MIN_ABS_R": 0.99}, "No factor passed the screening"),
    ("min-r-1.5", "selectfactors", select, {"MIN_ABS_R": 1.5}, "MIN_ABS_R (Minimum |r|)"),
    ("vif-0.5", "selectfactors", select, {"MAX_VIF": 0.5}, "from 1 to 1000000"),
    ("always-duplicate", "selectfactors", select, {"ALWAYS_INCLUDE": "A,A"}, "A given more than once"),
    ("always-repeated-key", "selectfactors", select, {"ALWAYS_INCLUDE": ["A", "B"]},
     "ALWAYS_INCLUDE was given 2 times"),
    ("always-unknown", "selectfactors", select, {"ALWAYS_INCLUDE": "ZZ"}, "factor(s) ZZ not found"),
    ("table-ext", "selectfactors", select, {"OUTPUT_TABLE": "{out}/t.html"}, "ends in '.html'"),
    ("select-field-text", "selectfactors", select, {"FIELD": "name"}, "not numeric"),
    ("select-threshold", "selectfactors", select, {"OUTLIERS_THRESHOLD": -1}, "OUTLIERS_THRESHOLD"),
    ("select-multipoint", "selectfactors", select, {"POINTS": "{multi}"}, "is a MultiPoint of 2 points"),
    ("beta-inf", "transfergabp", transfer, {"BETA_GRID": "0:inf:0.1"}, "must be finite numbers"),
    ("beta-huge", "transfergabp", transfer, {"BETA_GRID": "0:100000:0.001"}, "at most 10,001 are allowed"),
    ("beta-backwards", "transfergabp", transfer, {"BETA_GRID": "1:0:0.1"}, "stop at least start"),
    ("beta-text", "transfergabp", transfer, {"BETA_GRID": "a:b"}, "Cannot read the beta grid"),
    ("beta-nan-list", "transfergabp", transfer, {"BETA_GRID": "0,nan"}, "must be a finite number"),
    ("source-latin1", "transfergabp", transfer, {"SOURCE_MODEL": "{latin1}"}, "is not UTF-8 text"),
    ("source-binary", "transfergabp", transfer, {"SOURCE_MODEL": "{binary}"}, "not a JSON text file"),
    ("learning-rate-0", "transfergabp", transfer, {"LEARNING_RATE": 0}, "LEARNING_RATE (Learning rate)"),
    ("train-samples-0", "transfergabp", transfer, {"TRAIN_SAMPLES": 0}, "TRAIN_SAMPLES (Target samples"),
    ("baseline-is-model", "transfergabp", transfer, {"OUTPUT_BASELINE_MODEL": "{out}/t.json"}, "are the same file"),
    ("transfer-seed", "transfergabp", transfer, {"SEED": 2 ** 40}, "from 0 to 2147483647"),
    ("map-png", "predictcontent", predict, {"OUTPUT": "{out}/map.png"}, "ends in '.png'"),
    ("map-model-missing", "predictcontent", predict, {"MODEL": "{folder}/none.json"}, "Cannot read the model file"),
    ("map-model-latin1", "predictcontent", predict, {"MODEL": "{latin1}"}, "is not UTF-8 text"),
    ("map-factor-missing", "predictcontent", predict, {"FACTORS": ["{flat}"]}, "not found in the factor rasters"),
    ("map-factors-0-byte", "predictcontent", predict, {"FACTORS": ["{zero}"]}, "is empty (0 bytes)"),
    ("map-uncertainty-same", "predictcontent", predict, {"OUTPUT_UNCERTAINTY": "{out}/map.tif"}, "are the same file"),
    ("map-threshold", "predictcontent", predict, {"THRESHOLD": -1}, "THRESHOLD must be a content in mg/kg"),
    ("map-under-file", "predictcontent", predict, {"OUTPUT": "{blocker}/map.tif"}, "is a file, not a folder"),
    ("evaluate-binary", "evaluatemodel", evaluate, {"MODEL": "{binary}"}, "not a JSON text file"),
    ("evaluate-field", "evaluatemodel", evaluate, {"FIELD": "name"}, "not numeric"),
    ("evaluate-table-ext", "evaluatemodel", evaluate, {"OUTPUT_TABLE": "{out}/e.txt"}, "ends in '.txt'"),
    ("evaluate-multipoint", "evaluatemodel", evaluate, {"POINTS": "{multi}"}, "is a MultiPoint of 2 points"),
    ("statistics-0-byte", "contentstatistics", statistics, {"INPUT": "{zero}"}, "is empty (0 bytes)"),
    ("statistics-reference", "contentstatistics", statistics, {"REFERENCE_MEAN": -5}, "REFERENCE_MEAN ("),
    ("statistics-report-ext", "contentstatistics", statistics, {"OUTPUT_REPORT": "{out}/s.pdf"}, "ends in '.pdf'"),
    ("terrain-all-nodata", "terrainfactors", terrain, {"INPUT": "{nodata_dem}"}, "has no valid elevation"),
    ("terrain-tiny-cover", "terrainfactors", terrain, {"INPUT": "{small_dem}", "REFERENCE": "{reference}"},
     "gives valid elevations on only"),
    ("terrain-no-crs", "terrainfactors", terrain, {"INPUT": "{no_crs_dem}", "REFERENCE": "{reference}"},
     "has no CRS, so the DEM cannot be placed"),
    ("terrain-png", "terrainfactors", terrain, {"OUTPUT": "{out}/terrain.png"}, "ends in '.png'"),
    ("terrain-z-huge", "terrainfactors", terrain, {"Z_FACTOR": 1e9}, "Z_FACTOR (Z factor"),
    ("terrain-0-byte", "terrainfactors", terrain, {"INPUT": "{zero}"}, "is empty (0 bytes)"),
    ("spectral-3-bands", "spectralindices", spectral, {"INPUT": "{three}"}, "has 3 band(s)"),
    ("spectral-jpg", "spectralindices", spectral, {"OUTPUT": "{out}/s.jpg"}, "ends in '.jpg'"),
]


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
