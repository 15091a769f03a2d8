"""Writes models/trgabp_workflow.model3: the whole Tr-GA-BP chain for one metal as a graphical model.

spectral indices (both surveys) + terrain factors -> factor selection on the first survey ->
GA-BP on the first survey -> transfer to the second survey -> content map -> content statistics.
Run with Debian's /usr/bin/python3 after `make test` has the plugin importable; the .model3 is
committed and loaded by the provider, so users can open and edit it in the graphical modeler.
"""

import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from qgis.core import (QgsApplication, QgsProcessing, QgsProcessingModelAlgorithm,  # noqa: E402
                       QgsProcessingModelChildAlgorithm, QgsProcessingModelChildParameterSource,
                       QgsProcessingModelOutput, QgsProcessingModelParameter,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterField,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

from core.science.cv import DEFAULT_SCHEME, SCHEME_LABELS  # noqa: E402
from core.science.outliers import LABELS as OUTLIER_LABELS  # noqa: E402
from core.sampling import SAMPLING_LABELS  # noqa: E402

MODEL_NAME = "trgabpworkflow"
OUTPUT_PATH = ROOT / "models" / f"{MODEL_NAME}.model3"


def model_input(model, parameter, x, y, description, advanced=False):
    """Add a model input parameter with its help and canvas position.

    QGIS 3.22 does not save a parameter's setHelp() in a .model3; the modeler keeps per-input
    help in the model's help content, keyed by the parameter name, so it goes there too.
    """
    parameter.setHelp(description)
    content = model.helpContent()
    content[parameter.name()] = description
    model.setHelpContent(content)
    if advanced:
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    component = QgsProcessingModelParameter(parameter.name())
    component.setPosition(QPointF(x, y))
    component.setDescription(parameter.description())
    model.addModelParameter(parameter, component)


def child(model, child_id, algorithm, description, x, y, sources, outputs=()):
    """Add a child algorithm whose parameters come from model inputs, other children or values."""
    step = QgsProcessingModelChildAlgorithm(f"soilmetal:{algorithm}")
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(QPointF(x, y))
    for name, value in sources.items():
        values = value if isinstance(value, list) else [value]
        converted = []
        for item in values:
            if isinstance(item, tuple) and item[0] == "input":
                converted.append(QgsProcessingModelChildParameterSource.fromModelParameter(item[1]))
            elif isinstance(item, tuple) and item[0] == "child":
                converted.append(QgsProcessingModelChildParameterSource.fromChildOutput(item[1], item[2]))
            else:
                converted.append(QgsProcessingModelChildParameterSource.fromStaticValue(item))
        step.addParameterSources(name, converted)
    model_outputs = {}
    for output_name, label in outputs:
        output = QgsProcessingModelOutput(label, label)
        output.setChildId(child_id)
        output.setChildOutputName(output_name)
        # A model output keeps its step's flags: the content map and the transferred model are
        # mandatory (in the dialog they default to temporary files), reports are optional.
        output.setMandatory(output_name in ("OUTPUT", "OUTPUT_MODEL"))
        model_outputs[label] = output
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def build():
    """The model, as a QgsProcessingModelAlgorithm."""
    model = QgsProcessingModelAlgorithm(
        "Tr-GA-BP workflow (one metal)", "Mapping and reporting", "mappingandreporting")
    model.setName(MODEL_NAME)
    model.setHelpContent({
        "ALG_DESC": "The whole Tr-GA-BP chain of Yang et al. 2023 for one metal: spectral indices of both "
                    "surveys' Landsat 8 images and terrain factors of the DEM; factor selection (correlation "
                    "and VIF) on the first survey; GA-BP trained on the first survey; transfer to the second "
                    "survey with few samples; the content map of the second survey and its statistics. "
                    "Open it in the graphical modeler to change any step.",
        "ALG_CREATOR": "soilmetal",
        "SHORT_DESCRIPTION": "Runs the whole Tr-GA-BP chain for one metal, from two surveys' Landsat 8 images, "
                             "a DEM and soil samples to the second survey's content map and its statistics.",
    })
    rasters = [QgsProcessing.TypeRaster]
    model_input(model, QgsProcessingParameterRasterLayer("LANDSAT_SOURCE", "Landsat 8 image, first survey"),
                50, 50, "Multi-band Landsat 8 OLI image (B1-B7 or B2-B7) of the first survey period.")
    model_input(model, QgsProcessingParameterRasterLayer("LANDSAT_TARGET", "Landsat 8 image, second survey"),
                50, 150, "The same for the period to map; it sets the grid of the content map.")
    model_input(model, QgsProcessingParameterEnum(
        "SCALE", "Landsat pixel values", options=["reflectance 0-1", "Collection 2 Level-2 integers",
                                                  "integers x 0.0001"], defaultValue=1),
        50, 250, "How the images' pixel values convert to reflectance (0, 1 or 2).")
    model_input(model, QgsProcessingParameterRasterLayer("DEM", "DEM"), 50, 350,
                "Elevation model in any CRS (degrees too); resampled to the first survey's grid.")
    model_input(model, QgsProcessingParameterFeatureSource(
        "POINTS_SOURCE", "Samples, first survey", [QgsProcessing.TypeVectorPoint]), 50, 450,
        "Soil sample points of the first survey.")
    model_input(model, QgsProcessingParameterField(
        "FIELD_SOURCE", "Metal field, first survey", parentLayerParameterName="POINTS_SOURCE",
        type=QgsProcessingParameterField.Numeric), 50, 520, "Measured content (mg/kg) in the first survey.")
    model_input(model, QgsProcessingParameterFeatureSource(
        "POINTS_TARGET", "Samples, second survey", [QgsProcessing.TypeVectorPoint]), 50, 600,
        "Soil sample points of the second survey (a few are enough).")
    model_input(model, QgsProcessingParameterField(
        "FIELD_TARGET", "Metal field, second survey", parentLayerParameterName="POINTS_TARGET",
        type=QgsProcessingParameterField.Numeric), 50, 670, "Measured content (mg/kg) in the second survey.")
    model_input(model, QgsProcessingParameterString(
        "ALWAYS_INCLUDE", "Factors always included", defaultValue="ASPECT,ELEVATION", optional=True),
        50, 750, "Factors kept whatever their correlation (the paper kept aspect and altitude).")
    model_input(model, QgsProcessingParameterNumber(
        "TRAIN_SAMPLES", "Second-survey samples used for the transfer", defaultValue=16, minValue=2),
        50, 820, "How many second-survey samples retrain the network (the paper: 16).")
    model_input(model, QgsProcessingParameterNumber(
        "ENSEMBLE", "Networks in the ensemble", defaultValue=5, minValue=1), 50, 890,
        "Networks trained from different seeds and averaged; their spread is the uncertainty.")
    model_input(model, QgsProcessingParameterNumber("SEED", "Random seed", defaultValue=0, minValue=0),
                50, 960, "Same inputs and seed give the same model.")
    model_input(model, QgsProcessingParameterNumber(
        "REFERENCE_MEAN", "Background mean (mg/kg)", QgsProcessingParameterNumber.Double, optional=True),
        50, 1030, "Regional background mean for the statistics (Shaanxi Cu 21.4, Pb 21.4).")
    model_input(model, QgsProcessingParameterNumber(
        "REFERENCE_MAX", "Background maximum (mg/kg)", QgsProcessingParameterNumber.Double, optional=True),
        50, 1100, "Regional background maximum (Shaanxi Cu 43.6, Pb 34.5).")
    model_input(model, QgsProcessingParameterString(
        "CLASS_BREAKS", "Content class breaks (mg/kg)", defaultValue="0,30,50,70,90,110"), 50, 1170,
        "Class breaks for the share of area per content class.")
    model_input(model, QgsProcessingParameterEnum(
        "OUTLIERS", "Remove outlying measured values (both surveys)",
        options=list(OUTLIER_LABELS), defaultValue=0), 50, 1240,
        "Outlier rule applied to the measured contents before factor selection, GA-BP and the "
        "transfer: 0 none (default), 1 IQR rule (the demo's choice, removing the paper's "
        "'abnormal maxima'), 2 z-score. The reports warn when the rule removes the highest values "
        "(possible hot spots).", advanced=True)
    model_input(model, QgsProcessingParameterEnum(
        "SAMPLING", "Factor value at a sample point", options=list(SAMPLING_LABELS),
        defaultValue=0), 50, 1310,
        "How factor rasters are read at each sample in every step: 0 the pixel the point falls "
        "in (default), 1 bilinear, 2 the mean of the 3 x 3 window.", advanced=True)
    model_input(model, QgsProcessingParameterBoolean(
        "LOG_TARGET", "Model log(content)", defaultValue=False), 50, 1380,
        "GA-BP models log(content), back-transformed by exp (a geometric-mean prediction); the "
        "transfer keeps the source model's choice. Helps with skewed contents and hot spots.",
        advanced=True)
    model_input(model, QgsProcessingParameterEnum(
        "CV", "Cross-validation", options=list(SCHEME_LABELS), defaultValue=DEFAULT_SCHEME),
        50, 1450,
        "Cross-validation of GA-BP and of the transfer comparison: 0 none, 1 random k-fold, "
        "2 spatial k-fold (default; clusters of sample locations held out whole). It judges the "
        "models and decides the transfer verdict; it does not change the map.", advanced=True)
    model_input(model, QgsProcessingParameterNumber(
        "COVERAGE", "Prediction interval coverage (0-1)", QgsProcessingParameterNumber.Double,
        defaultValue=0.9, minValue=0.01, maxValue=0.999), 50, 1520,
        "Share of the true contents the lower and upper bound maps should enclose (default 0.9), "
        "calibrated on the transfer's cross-validation residuals (needs CV 1 or 2).",
        advanced=True)
    model_input(model, QgsProcessingParameterNumber(
        "THRESHOLD", "Threshold content for the exceedance map (mg/kg)",
        QgsProcessingParameterNumber.Double, optional=True), 50, 1590,
        "A guideline value in mg/kg (e.g. a soil screening value); the exceedance map gives the "
        "probability that the content is above it. Empty: no exceedance map.")
    del rasters
    sample_options = {"OUTLIERS": ("input", "OUTLIERS"), "SAMPLING": ("input", "SAMPLING")}
    child(model, "spectral_source", "spectralindices", "Spectral indices, first survey", 400, 50,
          {"INPUT": ("input", "LANDSAT_SOURCE"), "SCALE": ("input", "SCALE"),
           "OUTPUT": "TEMPORARY_OUTPUT"})
    child(model, "spectral_target", "spectralindices", "Spectral indices, second survey", 400, 150,
          {"INPUT": ("input", "LANDSAT_TARGET"), "SCALE": ("input", "SCALE"),
           "OUTPUT": "TEMPORARY_OUTPUT"})
    child(model, "terrain", "terrainfactors", "Terrain factors", 400, 350,
          {"INPUT": ("input", "DEM"), "BAND": 1, "REFERENCE": ("input", "LANDSAT_SOURCE"),
           "OUTPUT": "TEMPORARY_OUTPUT"})
    source_factors = [("child", "spectral_source", "OUTPUT"), ("child", "terrain", "OUTPUT")]
    target_factors = [("child", "spectral_target", "OUTPUT"), ("child", "terrain", "OUTPUT")]
    child(model, "select", "selectfactors", "Factor selection, first survey", 700, 300,
          {"POINTS": ("input", "POINTS_SOURCE"), "FIELD": ("input", "FIELD_SOURCE"),
           "FACTORS": source_factors, "MIN_ABS_R": 0.3, "MAX_VIF": 10.0,
           "ALWAYS_INCLUDE": ("input", "ALWAYS_INCLUDE"), **sample_options},
          [("OUTPUT_REPORT", "Factor selection report")])
    child(model, "train", "traingabp", "GA-BP, first survey", 700, 450,
          {"POINTS": ("input", "POINTS_SOURCE"), "FIELD": ("input", "FIELD_SOURCE"),
           "FACTORS": source_factors, "FACTOR_NAMES": ("child", "select", "SELECTED"),
           "ENSEMBLE": ("input", "ENSEMBLE"), "SEED": ("input", "SEED"),
           "LOG_TARGET": ("input", "LOG_TARGET"), "CV": ("input", "CV"), **sample_options},
          [("OUTPUT_REPORT", "GA-BP report")])
    child(model, "transfer", "transfergabp", "Tr-GA-BP, second survey", 1000, 450,
          {"SOURCE_MODEL": ("child", "train", "OUTPUT_MODEL"), "POINTS": ("input", "POINTS_TARGET"),
           "FIELD": ("input", "FIELD_TARGET"), "FACTORS": target_factors,
           "TRAIN_SAMPLES": ("input", "TRAIN_SAMPLES"), "SEED": ("input", "SEED"),
           "CV": ("input", "CV"), **sample_options},
          [("OUTPUT_MODEL", "Tr-GA-BP model, second survey"), ("OUTPUT_REPORT", "Transfer report")])
    child(model, "predict", "predictcontent", "Content map, second survey", 1300, 450,
          {"MODEL": ("child", "transfer", "OUTPUT_MODEL"), "FACTORS": target_factors,
           "COVERAGE": ("input", "COVERAGE"), "THRESHOLD": ("input", "THRESHOLD")},
          [("OUTPUT", "Content map"), ("OUTPUT_UNCERTAINTY", "Uncertainty map"),
           ("OUTPUT_LOWER", "Lower bound map"), ("OUTPUT_UPPER", "Upper bound map"),
           ("OUTPUT_EXCEEDANCE", "Exceedance probability map")])
    child(model, "statistics", "contentstatistics", "Content statistics", 1600, 450,
          {"INPUT": ("child", "predict", "OUTPUT"), "REFERENCE_MEAN": ("input", "REFERENCE_MEAN"),
           "REFERENCE_MAX": ("input", "REFERENCE_MAX"), "CLASS_BREAKS": ("input", "CLASS_BREAKS")},
          [("OUTPUT_TABLE", "Content statistics table"), ("OUTPUT_REPORT", "Content statistics report")])
    # The model file keeps each input's help only in the help content (the modeler's "Edit help").
    help_content = model.helpContent()
    help_content.update({p.name(): p.help() for p in model.parameterDefinitions() if p.help()})
    model.setHelpContent(help_content)
    return model


def main():
    """Build and save the model file."""
    app = QgsApplication([], False)
    app.initQgis()
    # The child algorithms must be registered so the model knows their outputs.
    from support import plugin_parent
    sys.path.insert(0, str(plugin_parent()))
    import soilmetal
    soilmetal.classFactory(None).initProcessing()
    OUTPUT_PATH.parent.mkdir(exist_ok=True)
    if not build().toFile(str(OUTPUT_PATH)):
        raise SystemExit(f"cannot write {OUTPUT_PATH}")
    print(OUTPUT_PATH)


if __name__ == "__main__":
    main()
