"""predictcontent: a model applied to factor rasters, block by block."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_RASTER
from ..core.workflows.statistics import map_content_breaks
from ..core.errors import SoilMetalError
from ..core.model_file import load_model
from ..core.raster_io import RasterOutputs
from ..core.science.intervals import check_coverage, check_threshold
from ..core.sensors import factor_sensor, sensor_mismatch
from ..core.workflows.mapping import (EXTRAPOLATION_LABELS, EXTRAPOLATION_MODES, SPREAD_LABEL,
                                      MappingSettings, mapped_metal, run_mapping)
from .base import SoilMetalAlgorithm
from ..styles.rasters import style_output


class PredictContentAlgorithm(SoilMetalAlgorithm):
    """Writes the content map of a model over factor rasters, with its intervals, AOA and exceedance."""

    ALGORITHM_ID = "predictcontent"
    DISPLAY_NAME = "Predict content map"
    GROUP = "mapping"

    MODEL = "MODEL"
    FACTORS = "FACTORS"
    EXTRAPOLATION = "EXTRAPOLATION"
    COVERAGE = "COVERAGE"
    THRESHOLD = "THRESHOLD"
    AOA_MASK = "AOA_MASK"
    RESIDUAL_KRIGING = "RESIDUAL_KRIGING"
    KRIGING_NEIGHBOURS = "KRIGING_NEIGHBOURS"
    OUTPUT = "OUTPUT"
    OUTPUT_UNCERTAINTY = "OUTPUT_UNCERTAINTY"
    OUTPUT_LOWER = "OUTPUT_LOWER"
    OUTPUT_UPPER = "OUTPUT_UPPER"
    OUTPUT_EXCEEDANCE = "OUTPUT_EXCEEDANCE"
    OUTPUT_AOA = "OUTPUT_AOA"
    OUTPUT_EXTRAPOLATION = "OUTPUT_EXTRAPOLATION"
    OUTPUT_KRIGED_RESIDUAL = "OUTPUT_KRIGED_RESIDUAL"
    COVERAGE_RANGE = (0.01, 0.999)
    # Each raster output: the kind of map the mapping workflow writes there, and its style.
    MAP_KINDS = {OUTPUT: "content", OUTPUT_UNCERTAINTY: "spread", OUTPUT_EXTRAPOLATION: "outside",
                 OUTPUT_LOWER: "lower", OUTPUT_UPPER: "upper", OUTPUT_EXCEEDANCE: "exceedance",
                 OUTPUT_AOA: "aoa", OUTPUT_KRIGED_RESIDUAL: "kriged"}
    STYLES = {OUTPUT_UNCERTAINTY: "spread", OUTPUT_LOWER: "lower", OUTPUT_UPPER: "upper",
              OUTPUT_EXCEEDANCE: "exceedance", OUTPUT_AOA: "aoa", OUTPUT_KRIGED_RESIDUAL: "residual"}

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_model_file(self.MODEL, "Model file")
        self.add_parameter(QgsProcessingParameterMultipleLayers(
            self.FACTORS, self.tr("Factor rasters"), SOURCE_RASTER))
        self.add_parameter(QgsProcessingParameterNumber(
            self.COVERAGE, self.tr("Prediction interval coverage (0-1)"), NUMBER_DOUBLE,
            defaultValue=0.9, minValue=self.COVERAGE_RANGE[0], maxValue=self.COVERAGE_RANGE[1]))
        self.add_parameter(QgsProcessingParameterNumber(
            self.THRESHOLD, self.tr("Threshold content for the exceedance map (mg/kg)"),
            NUMBER_DOUBLE, optional=True, minValue=0.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterBoolean(
            self.AOA_MASK, self.tr("Set pixels outside the area of applicability to nodata"),
            defaultValue=False))
        self.add_parameter(QgsProcessingParameterBoolean(
            self.RESIDUAL_KRIGING, self.tr("Add the kriged residuals (regression kriging)"),
            defaultValue=False))
        self.add_parameter(QgsProcessingParameterNumber(
            self.KRIGING_NEIGHBOURS, self.tr("Kriging neighbours (nearest samples)"),
            NUMBER_INTEGER, defaultValue=16, minValue=1, maxValue=256),
            advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.EXTRAPOLATION, self.tr("Extrapolation guard"),
            options=[self.tr(label) for label in EXTRAPOLATION_LABELS], defaultValue=2), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Content map")))
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_UNCERTAINTY, self.tr("Ensemble spread ({})").format(SPREAD_LABEL), optional=True,
            createByDefault=False))
        for name, label in ((self.OUTPUT_LOWER, "Lower bound of the prediction interval"),
                            (self.OUTPUT_UPPER, "Upper bound of the prediction interval"),
                            (self.OUTPUT_AOA, "Area of applicability: dissimilarity index"),
                            (self.OUTPUT_EXCEEDANCE, "Probability of exceeding THRESHOLD"),
                            (self.OUTPUT_KRIGED_RESIDUAL, "Kriged residual (the surface added)")):
            self.add_parameter(QgsProcessingParameterRasterDestination(
                name, self.tr(label), optional=True, createByDefault=False))
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_EXTRAPOLATION, self.tr("Extrapolation map"), optional=True, createByDefault=False),
            advanced=True)
        for name, label in (("PIXELS_MAPPED", "Pixels mapped"),
                            ("EXTRAPOLATED_FRACTION", "Extrapolated fraction"),
                            ("AOA_SHARE", "Share of pixels inside the area of applicability"),
                            ("PIXELS_CLAMPED", "Pixels clamped to 0 mg/kg")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def checkParameterValues(self, parameters, context):
        """COVERAGE and THRESHOLD with messages that give the allowed values, then the usual checks."""
        for name, check in ((self.COVERAGE, check_coverage), (self.THRESHOLD, check_threshold)):
            value = parameters.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                number = check(value)
            except SoilMetalError as error:
                return False, str(error)
            low, high = self.COVERAGE_RANGE
            if name == self.COVERAGE and not low <= number <= high:
                return False, self.tr("COVERAGE must be between {low} and {high}; got {number}. Use e.g. "
                                      "0.9 for 90 % prediction intervals.").format(
                    low=f"{low:g}", high=f"{high:g}", number=f"{number:g}")
        return super().checkParameterValues(parameters, context)

    def execute(self, parameters, context, feedback):
        """Load the model, map it with the asked companions, style the results."""
        monitor = self.monitor(feedback)
        model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
        sources = self.factor_sources(parameters, self.FACTORS, context)
        mismatch = sensor_mismatch(model.sensor, factor_sensor(sources))
        if mismatch:
            monitor.warning(mismatch)
        paths = {name: self.parameterAsOutputLayer(parameters, name, context) or None for name in self.MAP_KINDS}
        with RasterOutputs({kind: paths[name] for name, kind in self.MAP_KINDS.items()}) as rasters:
            run = run_mapping(model, sources, rasters, self.mapping_settings(parameters, context), monitor)
        self.style_maps(context, paths, mapped_metal(model), feedback)
        summary = run.summary
        results = {self.OUTPUT: paths[self.OUTPUT], "PIXELS_MAPPED": summary["pixels_mapped"],
                   "EXTRAPOLATED_FRACTION": summary["extrapolated_fraction"],
                   "PIXELS_CLAMPED": summary["pixels_clamped"]}
        if summary["aoa_share"] is not None:
            results["AOA_SHARE"] = summary["aoa_share"]
        results.update({name: path for name, path in paths.items() if path and name != self.OUTPUT})
        return results

    def mapping_settings(self, parameters, context):
        """The MappingSettings of the parameters."""
        return MappingSettings(
            extrapolation=EXTRAPOLATION_MODES[self.parameterAsEnum(parameters, self.EXTRAPOLATION, context)],
            coverage=self.parameterAsDouble(parameters, self.COVERAGE, context),
            threshold=self.optional_number(parameters, self.THRESHOLD, context),
            aoa_mask=self.parameterAsBoolean(parameters, self.AOA_MASK, context),
            residual_kriging=self.parameterAsBoolean(parameters, self.RESIDUAL_KRIGING, context),
            kriging_neighbours=self.parameterAsInt(parameters, self.KRIGING_NEIGHBOURS, context))

    @classmethod
    def style_maps(cls, context, paths, metal, feedback):
        """Sidecar styles of the content map and its companions; the bounds share the content map's classes."""
        style_output(context, paths[cls.OUTPUT], "content", metal, feedback=feedback)
        content_breaks = map_content_breaks(paths[cls.OUTPUT]) if paths[cls.OUTPUT_LOWER] else None
        for name, kind in cls.STYLES.items():
            if paths[name]:
                style_output(context, paths[name], kind, metal, feedback=feedback,
                             breaks=content_breaks if kind in ("lower", "upper") else None)
