"""Writes models/trgabpworkflow.model3: the whole Tr-GA-BP chain for one metal as a graphical model.

[topographic correction of both surveys' images, an option] -> spectral indices (both surveys)
+ terrain factors -> factor selection on the first survey -> GA-BP on the first survey ->
transfer to the second survey -> content map -> content statistics.
Run with Debian's /usr/bin/python3 after `make test` has the plugin importable; the .model3 is
committed and loaded by the provider, so users can open and edit it in the graphical modeler.
The file is the same, byte for byte, whenever the model is: tests/algorithms/test_workflow_model.py
fails when the committed file is not what this script builds.
"""

import os
import pathlib
import re
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from qgis.core import (QgsApplication, QgsProcessing, QgsProcessingContext,  # noqa: E402
                       QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                       QgsProcessingModelChildDependency, QgsProcessingModelChildParameterSource,
                       QgsProcessingModelOutput, QgsProcessingModelParameter,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterField,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

from core.science.indices import ALL_FACTORS  # noqa: E402
from core.science.cv import DEFAULT_SCHEME, SCHEME_LABELS  # noqa: E402
from core.science.outliers import LABELS as OUTLIER_LABELS  # noqa: E402
from core.science.topographic import METHOD_LABELS, METHODS  # noqa: E402
from core.sampling import SAMPLING_LABELS  # noqa: E402

MODEL_NAME = "trgabpworkflow"
OUTPUT_PATH = ROOT / "models" / f"{MODEL_NAME}.model3"
SURVEYS = (("SOURCE", "first survey"), ("TARGET", "second survey"))
REFLECTANCE_BANDS = [ALL_FACTORS.index(name) for name in ("B2", "B3", "B4", "B5", "B6", "B7")]
CORRECTION_OPTIONS = ["none"] + [METHOD_LABELS[method] for method in METHODS]
CORRECTED_BRANCH = "corrected"
# QDomDocument writes a tag's attributes in hash order, which changes from run to run.
ATTRIBUTE_ORDER = ("type", "value", "name")
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
TAG = re.compile(r'<Option((?:\s+\w+="[^"]*")*)\s*(/?)>')


class InputColumn:
    """Adds the model's inputs one under the other on the modeler's canvas."""

    def __init__(self, model):
        self.model = model
        self.y = 50

    def add(self, parameter, description, advanced=False):
        """Add a model input parameter with its help.

        QGIS 3.22 does not save a parameter's setHelp() in a .model3; the modeler keeps per-input
        help in the model's help content, keyed by the parameter name, so it goes there too.
        """
        parameter.setHelp(description)
        content = self.model.helpContent()
        content[parameter.name()] = description
        self.model.setHelpContent(content)
        if advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(50, self.y))
        component.setDescription(parameter.description())
        self.model.addModelParameter(parameter, component)
        self.y += 70


def parameter_source(item):
    """A child's parameter source: ("input", name), ("child", id, output), ("expression", text) or a value."""
    kind = item[0] if isinstance(item, tuple) else None
    if kind == "input":
        return QgsProcessingModelChildParameterSource.fromModelParameter(item[1])
    if kind == "child":
        return QgsProcessingModelChildParameterSource.fromChildOutput(item[1], item[2])
    if kind == "expression":
        return QgsProcessingModelChildParameterSource.fromExpression(item[1])
    return QgsProcessingModelChildParameterSource.fromStaticValue(item)


def child(model, child_id, algorithm, description, position, sources, outputs=(), after=()):
    """Add a child algorithm whose parameters come from model inputs, other children or values.

    after: (child id, conditional branch or "") of the children it runs after.
    """
    step = QgsProcessingModelChildAlgorithm(algorithm if ":" in algorithm else f"soilmetal:{algorithm}")
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(QPointF(*position))
    for name, value in sources.items():
        step.addParameterSources(name, [parameter_source(item) for item in
                                        (value if isinstance(value, list) else [value])])
    step.setDependencies([QgsProcessingModelChildDependency(other, branch) for other, branch in after])
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
    return step


def add_inputs(model):
    """The model's inputs, in the dialog's order."""
    column = InputColumn(model)
    column.add(QgsProcessingParameterRasterLayer("LANDSAT_SOURCE", "Landsat 8 image, first survey"),
               "Multi-band Landsat 8 OLI image (B1-B7 or B2-B7) of the first survey period.")
    column.add(QgsProcessingParameterRasterLayer("LANDSAT_TARGET", "Landsat 8 image, second survey"),
               "The same for the period to map; it sets the grid of the content map.")
    column.add(QgsProcessingParameterEnum(
        "SCALE", "Landsat pixel values", options=["reflectance 0-1", "Collection 2 Level-2 integers",
                                                  "integers x 0.0001"], defaultValue=1),
        "How the images' pixel values convert to reflectance (0, 1 or 2).")
    column.add(QgsProcessingParameterRasterLayer("DEM", "DEM"),
               "Elevation model in any CRS (degrees too); resampled to the first survey's grid.")
    for suffix, survey in SURVEYS:
        column.add(QgsProcessingParameterFeatureSource(
            f"POINTS_{suffix}", f"Samples, {survey}", [QgsProcessing.TypeVectorPoint]),
            f"Soil sample points of the {survey}" + (" (a few are enough)." if suffix == "TARGET" else "."))
        column.add(QgsProcessingParameterField(
            f"FIELD_{suffix}", f"Metal field, {survey}", parentLayerParameterName=f"POINTS_{suffix}",
            type=QgsProcessingParameterField.Numeric), f"Measured content (mg/kg) in the {survey}.")
    column.add(QgsProcessingParameterString(
        "ALWAYS_INCLUDE", "Factors always included", defaultValue="ASPECT,ELEVATION", optional=True),
        "Factors kept whatever their correlation (the paper kept aspect and altitude).")
    column.add(QgsProcessingParameterNumber(
        "TRAIN_SAMPLES", "Second-survey samples used for the transfer", defaultValue=16, minValue=2),
        "How many second-survey samples retrain the network (the paper: 16).")
    column.add(QgsProcessingParameterNumber("ENSEMBLE", "Networks in the ensemble", defaultValue=5, minValue=1),
               "Networks trained from different seeds and averaged; their spread is the uncertainty.")
    column.add(QgsProcessingParameterNumber("SEED", "Random seed", defaultValue=0, minValue=0),
               "Same inputs and seed give the same model.")
    column.add(QgsProcessingParameterNumber(
        "REFERENCE_MEAN", "Background mean (mg/kg)", QgsProcessingParameterNumber.Double, optional=True),
        "Regional background mean for the statistics (Shaanxi Cu 21.4, Pb 21.4).")
    column.add(QgsProcessingParameterNumber(
        "REFERENCE_MAX", "Background maximum (mg/kg)", QgsProcessingParameterNumber.Double, optional=True),
        "Regional background maximum (Shaanxi Cu 43.6, Pb 34.5).")
    column.add(QgsProcessingParameterString(
        "CLASS_BREAKS", "Content class breaks (mg/kg)", defaultValue="0,30,50,70,90,110"),
        "Class breaks for the share of area per content class.")
    add_advanced_inputs(column)


def add_advanced_inputs(column):
    """The advanced inputs: sample options, cross-validation, intervals and the topographic correction."""
    column.add(QgsProcessingParameterEnum(
        "OUTLIERS", "Remove outlying measured values (both surveys)",
        options=list(OUTLIER_LABELS), defaultValue=0),
        "Outlier rule applied to the measured contents before factor selection, GA-BP and the "
        "transfer: 0 none (default), 1 IQR rule (the demo's choice, removing the paper's "
        "'abnormal maxima'), 2 z-score. The reports warn when the rule removes the highest values "
        "(possible hot spots).", advanced=True)
    column.add(QgsProcessingParameterNumber(
        "OUTLIERS_THRESHOLD", "Outlier threshold (IQR k or |z|)", QgsProcessingParameterNumber.Double,
        optional=True, minValue=0.0, maxValue=100.0),
        "The OUTLIERS rule's threshold, in every step: the IQR rule's k (fences at the quartiles "
        "-/+ k x IQR) or the z-score's |z|. Empty (default) = the rule's own, k = 1.5 or |z| = 3; "
        "the demo uses k = 3, the 'far out' fences.", advanced=True)
    column.add(QgsProcessingParameterEnum(
        "SAMPLING", "Factor value at a sample point", options=list(SAMPLING_LABELS), defaultValue=0),
        "How factor rasters are read at each sample in every step: 0 the pixel the point falls "
        "in (default), 1 bilinear, 2 the mean of the 3 x 3 window.", advanced=True)
    column.add(QgsProcessingParameterBoolean("LOG_TARGET", "Model log(content)", defaultValue=False),
               "GA-BP models log(content), back-transformed by exp (a geometric-mean prediction); the "
               "transfer keeps the source model's choice. Helps with skewed contents and hot spots.",
               advanced=True)
    column.add(QgsProcessingParameterEnum(
        "CV", "Cross-validation", options=list(SCHEME_LABELS), defaultValue=DEFAULT_SCHEME),
        "Cross-validation of GA-BP and of the transfer comparison: 0 none, 1 random k-fold, "
        "2 spatial k-fold (default; clusters of sample locations held out whole). It judges the "
        "models and decides the transfer verdict; it does not change the map.", advanced=True)
    column.add(QgsProcessingParameterNumber(
        "COVERAGE", "Prediction interval coverage (0-1)", QgsProcessingParameterNumber.Double,
        defaultValue=0.9, minValue=0.01, maxValue=0.999),
        "Share of the true contents the lower and upper bound maps should enclose (default 0.9), "
        "calibrated on the transfer's cross-validation residuals (needs CV 1 or 2).", advanced=True)
    column.add(QgsProcessingParameterNumber(
        "THRESHOLD", "Threshold content for the exceedance map (mg/kg)",
        QgsProcessingParameterNumber.Double, optional=True),
        "A guideline value in mg/kg (e.g. a soil screening value); the exceedance map gives the "
        "probability that the content is above it. Empty: no exceedance map.")
    column.add(QgsProcessingParameterEnum(
        "TOPOGRAPHIC_CORRECTION", "Topographic correction of both images", options=CORRECTION_OPTIONS,
        defaultValue=0),
        "Corrects both images for the terrain's illumination (Topographic correction) before the "
        "spectral indices: 0 none (default: the images as they are), 1 cosine, 2 C-correction, "
        "3 SCS+C, 4 Minnaert. Each image is converted to reflectance with SCALE first (an offset "
        "would bias the correction), corrected with the DEM and its own sun position (the "
        "SUN_AZIMUTH_* and SUN_ELEVATION_* inputs), and its indices computed from the corrected "
        "bands.", advanced=True)
    for suffix, survey in SURVEYS:
        image = f"LANDSAT_{suffix}"
        column.add(QgsProcessingParameterNumber(
            f"SUN_AZIMUTH_{suffix}", f"Sun azimuth, {survey} (degrees from north)",
            QgsProcessingParameterNumber.Double, optional=True, minValue=0.0, maxValue=360.0),
            f"The sun's azimuth when {image} was taken, degrees clockwise from north (SUN_AZIMUTH "
            "in the scene's *_MTL.txt). Needed when TOPOGRAPHIC_CORRECTION is not 0, else unused.",
            advanced=True)
        column.add(QgsProcessingParameterNumber(
            f"SUN_ELEVATION_{suffix}", f"Sun elevation, {survey} (degrees)",
            QgsProcessingParameterNumber.Double, optional=True, minValue=-90.0, maxValue=90.0),
            f"The sun's elevation above the horizon when {image} was taken, 0 < elevation <= 90 "
            "(SUN_ELEVATION in the scene's *_MTL.txt). Needed when TOPOGRAPHIC_CORRECTION is not 0, "
            "else unused.", advanced=True)


def sun_check():
    """(condition, message) expressions of the step that stops a correction without a usable sun."""
    valid = " AND ".join(
        f"@SUN_AZIMUTH_{suffix} IS NOT NULL AND coalesce(@SUN_ELEVATION_{suffix}, -1) > 0 "
        f"AND @SUN_ELEVATION_{suffix} <= 90" for suffix, _ in SURVEYS)
    given = " || ', ' || ".join(
        f"'{name}_{suffix}=' || coalesce(to_string(@{name}_{suffix}), 'empty')"
        for suffix, _ in SURVEYS for name in ("SUN_AZIMUTH", "SUN_ELEVATION"))
    message = (
        "'TOPOGRAPHIC_CORRECTION is ' || to_string(@TOPOGRAPHIC_CORRECTION) || ', so the correction "
        "needs the position of the sun when each image was taken: SUN_AZIMUTH_SOURCE and "
        "SUN_ELEVATION_SOURCE for LANDSAT_SOURCE, SUN_AZIMUTH_TARGET and SUN_ELEVATION_TARGET for "
        "LANDSAT_TARGET, in degrees (SUN_AZIMUTH and SUN_ELEVATION in the *_MTL.txt of each scene), "
        "with 0 < elevation <= 90 (at or below the horizon nothing is lit). Given: ' || " + given +
        " || '. Give them, or set TOPOGRAPHIC_CORRECTION to 0 (none).'")
    return f"@TOPOGRAPHIC_CORRECTION > 0 AND NOT ({valid})", message


def add_correction(model):
    """The optional topographic correction of both images, ahead of the spectral indices.

    A conditional branch runs the reflectance conversion and the correction only when
    TOPOGRAPHIC_CORRECTION is not 0 (see add_spectral_indices for how the chain picks its input).
    """
    condition, message = sun_check()
    child(model, "check_sun", "native:raiseexception", "Check the sun position (correction)", (350, 50),
          {"MESSAGE": ("expression", message), "CONDITION": condition})
    branch = child(model, "correct", "native:condition", "Topographic correction?", (350, 130), {},
                   after=[("check_sun", "")])
    branch.setConfiguration({"conditions": [
        {"name": CORRECTED_BRANCH, "expression": "@TOPOGRAPHIC_CORRECTION > 0"}]})
    model.setChildAlgorithm(branch)
    for row, (suffix, survey) in enumerate(SURVEYS):
        y = 250 + 100 * row
        child(model, f"reflectance_{suffix.lower()}", "spectralindices", f"Reflectance, {survey}", (350, y),
              {"INPUT": ("input", f"LANDSAT_{suffix}"), "SCALE": ("input", "SCALE"),
               "FACTORS": REFLECTANCE_BANDS, "OUTPUT": "TEMPORARY_OUTPUT"},
              after=[("correct", CORRECTED_BRANCH)])
        child(model, f"topographic_{suffix.lower()}", "topographiccorrection",
              f"Topographic correction, {survey}", (650, y),
              {"INPUT": ("child", f"reflectance_{suffix.lower()}", "OUTPUT"),
               "DEM": ("input", "DEM"), "DEM_BAND": 1,
               "METHOD": ("expression", "@TOPOGRAPHIC_CORRECTION - 1"),
               "SUN_AZIMUTH": ("input", f"SUN_AZIMUTH_{suffix}"),
               "SUN_ELEVATION": ("input", f"SUN_ELEVATION_{suffix}"),
               "OUTPUT": "TEMPORARY_OUTPUT"})


def add_spectral_indices(model):
    """Spectral indices of both images, of the corrected bands when the correction ran.

    Each runs after its image's correction through a plain dependency, which QGIS 3.22 to 3.40
    keep when the branch is not taken (only what takes an output of a skipped step is skipped),
    and an expression picks the corrected bands or the image, so the rest of the chain exists once.
    """
    for row, (suffix, survey) in enumerate(SURVEYS):
        step = child(model, f"spectral_{suffix.lower()}", "spectralindices", f"Spectral indices, {survey}",
                     (950, 50 + 100 * row), {"OUTPUT": "TEMPORARY_OUTPUT"},
                     after=[(f"topographic_{suffix.lower()}", "")])
        corrected = output_variable(model, step.childId(), f"topographic_{suffix.lower()}", "OUTPUT")
        step.addParameterSources("INPUT", [parameter_source(
            ("expression", f"if(@TOPOGRAPHIC_CORRECTION > 0, var('{corrected}'), @LANDSAT_{suffix})"))])
        step.addParameterSources("SCALE", [parameter_source(
            ("expression", "if(@TOPOGRAPHIC_CORRECTION > 0, 0, @SCALE)"))])
        model.setChildAlgorithm(step)


def output_variable(model, child_id, other_id, output_name):
    """The expression variable that holds another child's output in a child's expressions (QGIS
    names it by that child's description)."""
    child_output = QgsProcessingModelChildParameterSource.fromChildOutput(other_id, output_name).source()
    for name, definition in model.variablesForChildAlgorithm(child_id, QgsProcessingContext()).items():
        source = definition.source
        if source.source() == child_output and source.outputChildId() == other_id and \
                source.outputName() == output_name:
            return name
    raise SystemExit(f"no expression variable of {child_id} holds {other_id}:{output_name}")


def add_chain(model):
    """Terrain factors, then selection, GA-BP, transfer, map and statistics."""
    sample_options = {"OUTLIERS": ("input", "OUTLIERS"), "OUTLIERS_THRESHOLD": ("input", "OUTLIERS_THRESHOLD"),
                      "SAMPLING": ("input", "SAMPLING")}
    child(model, "terrain", "terrainfactors", "Terrain factors", (950, 350),
          {"INPUT": ("input", "DEM"), "BAND": 1, "REFERENCE": ("input", "LANDSAT_SOURCE"),
           "OUTPUT": "TEMPORARY_OUTPUT"}, after=[("check_sun", "")])
    source_factors = [("child", "spectral_source", "OUTPUT"), ("child", "terrain", "OUTPUT")]
    target_factors = [("child", "spectral_target", "OUTPUT"), ("child", "terrain", "OUTPUT")]
    child(model, "select", "selectfactors", "Factor selection, first survey", (1250, 300),
          {"POINTS": ("input", "POINTS_SOURCE"), "FIELD": ("input", "FIELD_SOURCE"),
           "FACTORS": source_factors, "MIN_ABS_R": 0.3, "MAX_VIF": 10.0,
           "ALWAYS_INCLUDE": ("input", "ALWAYS_INCLUDE"), **sample_options},
          [("OUTPUT_REPORT", "Factor selection report")])
    child(model, "train", "traingabp", "GA-BP, first survey", (1250, 450),
          {"POINTS": ("input", "POINTS_SOURCE"), "FIELD": ("input", "FIELD_SOURCE"),
           "FACTORS": source_factors, "FACTOR_NAMES": ("child", "select", "SELECTED"),
           "ENSEMBLE": ("input", "ENSEMBLE"), "SEED": ("input", "SEED"),
           "LOG_TARGET": ("input", "LOG_TARGET"), "CV": ("input", "CV"), **sample_options},
          [("OUTPUT_REPORT", "GA-BP report")])
    child(model, "transfer", "transfergabp", "Tr-GA-BP, second survey", (1550, 450),
          {"SOURCE_MODEL": ("child", "train", "OUTPUT_MODEL"), "POINTS": ("input", "POINTS_TARGET"),
           "FIELD": ("input", "FIELD_TARGET"), "FACTORS": target_factors,
           "TRAIN_SAMPLES": ("input", "TRAIN_SAMPLES"), "SEED": ("input", "SEED"),
           "CV": ("input", "CV"), **sample_options},
          [("OUTPUT_MODEL", "Tr-GA-BP model, second survey"), ("OUTPUT_REPORT", "Transfer report")])
    child(model, "predict", "predictcontent", "Content map, second survey", (1850, 450),
          {"MODEL": ("child", "transfer", "OUTPUT_MODEL"), "FACTORS": target_factors,
           "COVERAGE": ("input", "COVERAGE"), "THRESHOLD": ("input", "THRESHOLD")},
          [("OUTPUT", "Content map"), ("OUTPUT_UNCERTAINTY", "Uncertainty map"),
           ("OUTPUT_LOWER", "Lower bound map"), ("OUTPUT_UPPER", "Upper bound map"),
           ("OUTPUT_EXCEEDANCE", "Exceedance probability map")])
    child(model, "statistics", "contentstatistics", "Content statistics", (2150, 450),
          {"INPUT": ("child", "predict", "OUTPUT"), "REFERENCE_MEAN": ("input", "REFERENCE_MEAN"),
           "REFERENCE_MAX": ("input", "REFERENCE_MAX"), "CLASS_BREAKS": ("input", "CLASS_BREAKS")},
          [("OUTPUT_TABLE", "Content statistics table"), ("OUTPUT_REPORT", "Content statistics report")])


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
                    "Optionally (TOPOGRAPHIC_CORRECTION) both images are first corrected for the terrain's "
                    "illumination. Open it in the graphical modeler to change any step.",
        "ALG_CREATOR": "soilmetal",
        "SHORT_DESCRIPTION": "Runs the whole Tr-GA-BP chain for one metal, from two surveys' Landsat 8 images, "
                             "a DEM and soil samples to the second survey's content map and its statistics.",
    })
    add_inputs(model)
    add_correction(model)
    add_spectral_indices(model)
    add_chain(model)
    # The model file keeps each input's help only in the help content (the modeler's "Edit help").
    help_content = model.helpContent()
    help_content.update({p.name(): p.help() for p in model.parameterDefinitions() if p.help()})
    model.setHelpContent(help_content)
    return model


def stable_attributes(text):
    """The model file's text with every tag's attributes in one fixed order."""
    def reorder(match):
        attributes = dict(ATTRIBUTE.findall(match.group(1)))
        ordered = sorted(attributes, key=lambda key: (ATTRIBUTE_ORDER + (key,)).index(key))
        return "<Option" + "".join(f' {key}="{attributes[key]}"' for key in ordered) + match.group(2) + ">"
    return TAG.sub(reorder, text)


def write(model, path):
    """Save the model to path, byte for byte the same for the same model."""
    if not model.toFile(str(path)):
        raise SystemExit(f"cannot write {path}")
    path.write_text(stable_attributes(path.read_text(encoding="utf-8")), encoding="utf-8")


def register_plugin():
    """Start QGIS and register QGIS's native algorithms and the plugin's: the model needs its
    steps' definitions. Returns what must stay alive while the model is built."""
    from qgis.analysis import QgsNativeAlgorithms
    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.processingRegistry().addProvider(QgsNativeAlgorithms(QgsApplication.processingRegistry()))
    from support import plugin_parent
    sys.path.insert(0, str(plugin_parent()))
    import soilmetal
    plugin = soilmetal.classFactory(None)
    plugin.initProcessing()
    return app, plugin


def main():
    """Build and save the model file."""
    keep_alive = register_plugin()
    OUTPUT_PATH.parent.mkdir(exist_ok=True)
    write(build(), OUTPUT_PATH)
    del keep_alive
    print(OUTPUT_PATH)


if __name__ == "__main__":
    main()
