"""selectfactors: Pearson r of each factor with the metal at the samples, then VIF screening."""

from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from ..core.outliers import METHODS as OUTLIER_METHODS
from ..core.sampling import SAMPLING_LABELS, SAMPLING_METHODS, parse_factor_names
from ..core.selection_report import SelectionSettings, run_selection, write_selection_outputs
from .base import SoilMetalAlgorithm

# One label per core.outliers.METHODS entry, same order ("none", "iqr", "zscore").
OUTLIER_LABELS = ("None: keep every sample", "IQR rule (Tukey fences, k = 1.5 unless set)",
                  "z-score (|z| > 3 unless set)")


class SelectFactorsAlgorithm(SoilMetalAlgorithm):
    """Chooses the factors for a GA-BP model: |r| threshold, then iterative VIF screening."""

    ALGORITHM_ID = "selectfactors"
    DISPLAY_NAME = "Select factors (correlation and VIF)"
    GROUP = "modelling"

    POINTS = "POINTS"
    FIELD = "FIELD"
    FACTORS = "FACTORS"
    MIN_ABS_R = "MIN_ABS_R"
    MAX_VIF = "MAX_VIF"
    ALWAYS_INCLUDE = "ALWAYS_INCLUDE"
    SAMPLING = "SAMPLING"
    OUTLIERS = "OUTLIERS"
    OUTLIERS_THRESHOLD = "OUTLIERS_THRESHOLD"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    SELECTED = "SELECTED"
    N_SAMPLES = "N_SAMPLES"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterFeatureSource(
            self.POINTS, self.tr("Sample points"), [QgsProcessing.TypeVectorPoint]))
        self.add_parameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Measured content field (mg/kg)"), parentLayerParameterName=self.POINTS,
            type=QgsProcessingParameterField.Numeric))
        self.add_parameter(QgsProcessingParameterMultipleLayers(
            self.FACTORS, self.tr("Factor rasters"), QgsProcessing.TypeRaster))
        self.add_parameter(QgsProcessingParameterNumber(
            self.MIN_ABS_R, self.tr("Minimum |r|"), QgsProcessingParameterNumber.Double,
            defaultValue=0.3, minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.MAX_VIF, self.tr("Maximum VIF"), QgsProcessingParameterNumber.Double,
            defaultValue=10.0, minValue=1.0))
        self.add_parameter(QgsProcessingParameterString(
            self.ALWAYS_INCLUDE, self.tr("Factors always included (comma-separated)"),
            defaultValue="", optional=True))
        self.add_parameter(QgsProcessingParameterEnum(
            self.SAMPLING, self.tr("Factor value at a point"),
            options=[self.tr(label) for label in SAMPLING_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.OUTLIERS, self.tr("Remove outlying measured values"),
            options=[self.tr(label) for label in OUTLIER_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.OUTLIERS_THRESHOLD, self.tr("Outlier threshold (IQR k or |z|)"),
            QgsProcessingParameterNumber.Double, optional=True, minValue=0.0), advanced=True)
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_TABLE, self.tr("Factor table"), fileFilter="CSV files (*.csv)",
            optional=True, createByDefault=False))
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Selection report"), fileFilter="HTML files (*.html)",
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString(self.SELECTED, self.tr("Selected factors")))
        self.addOutput(QgsProcessingOutputNumber(self.N_SAMPLES, self.tr("Samples used")))

    def _optional_number(self, parameters, name, context):
        """An optional number parameter, None when left empty."""
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.parameterAsDouble(parameters, name, context)

    def execute(self, parameters, context, feedback):
        """Sample the factors, screen them, write the table and report."""
        points = self.read_points(parameters, self.POINTS, self.FIELD, context)
        sources = self.factor_sources(parameters, self.FACTORS, context)
        settings = SelectionSettings(
            field=points.field,
            min_abs_r=self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
            max_vif=self.parameterAsDouble(parameters, self.MAX_VIF, context),
            always_include=parse_factor_names(
                self.parameterAsString(parameters, self.ALWAYS_INCLUDE, context)),
            sampling=SAMPLING_METHODS[self.parameterAsEnum(parameters, self.SAMPLING, context)],
            outliers=OUTLIER_METHODS[self.parameterAsEnum(parameters, self.OUTLIERS, context)],
            outlier_threshold=self._optional_number(parameters, self.OUTLIERS_THRESHOLD, context),
            rasters=[source.path for source in sources])
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        run = run_selection(points, sources, settings, self.monitor(feedback))
        write_selection_outputs(run, table_path, report_path)
        feedback.pushInfo(self.tr(f"Selected factors: {run.result.selected_string or 'none'}"))
        results = {self.SELECTED: run.result.selected_string,
                   self.N_SAMPLES: int(run.result.n_samples)}
        if table_path:
            results[self.OUTPUT_TABLE] = table_path
        if report_path:
            results[self.OUTPUT_REPORT] = report_path
        return results
