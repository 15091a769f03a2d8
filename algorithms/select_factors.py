"""selectfactors: Pearson r of each factor with the metal at the samples, then VIF screening."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterBoolean, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from ..core.errors import SoilMetalError
from ..core.selection_report import (SelectionSettings, no_selection_message, run_selection,
                                     write_selection_outputs)
from .compat import NUMBER_DOUBLE
from .base import SoilMetalAlgorithm

class SelectFactorsAlgorithm(SoilMetalAlgorithm):
    """Chooses the factors for a GA-BP model: |r| threshold, then iterative VIF screening."""

    ALGORITHM_ID = "selectfactors"
    DISPLAY_NAME = "Select factors (correlation and VIF)"
    GROUP = "modelling"

    MIN_ABS_R = "MIN_ABS_R"
    MAX_VIF = "MAX_VIF"
    ALWAYS_INCLUDE = "ALWAYS_INCLUDE"
    ALLOW_EMPTY = "ALLOW_EMPTY"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    SELECTED = "SELECTED"
    N_SAMPLES = "N_SAMPLES"

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_sample_inputs()
        self.add_parameter(QgsProcessingParameterNumber(
            self.MIN_ABS_R, self.tr("Minimum |r|"), NUMBER_DOUBLE,
            defaultValue=0.3, minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.MAX_VIF, self.tr("Maximum VIF"), NUMBER_DOUBLE,
            defaultValue=10.0, minValue=1.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterString(
            self.ALWAYS_INCLUDE, self.tr("Factors always included (comma-separated)"),
            defaultValue="", optional=True))
        self.add_parameter(QgsProcessingParameterBoolean(
            self.ALLOW_EMPTY, self.tr("Succeed when no factor is selected"), defaultValue=False),
            advanced=True)
        self.add_sample_options()
        self.add_optional_file_output(self.OUTPUT_TABLE, "Factor table", "CSV files (*.csv)")
        self.add_optional_file_output(self.OUTPUT_REPORT, "Selection report", "HTML files (*.html)")
        self.addOutput(QgsProcessingOutputString(self.SELECTED, self.tr("Selected factors")))
        self.addOutput(QgsProcessingOutputNumber(self.N_SAMPLES, self.tr("Samples used")))

    def execute(self, parameters, context, feedback):
        """Sample the factors, screen them, write the table and report."""
        points = self.read_points(parameters, self.POINTS, self.FIELD, context)
        sources = self.factor_sources(parameters, self.FACTORS, context)
        sampling, outliers, threshold = self.sample_options(parameters, context)
        settings = SelectionSettings(
            field=points.field,
            min_abs_r=self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
            max_vif=self.parameterAsDouble(parameters, self.MAX_VIF, context),
            always_include=self.factor_names(parameters, self.ALWAYS_INCLUDE, context),
            sampling=sampling, outliers=outliers, outlier_threshold=threshold,
            rasters=[source.path for source in sources])
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        run = run_selection(points, sources, settings, self.monitor(feedback))
        if not run.result.selected and not self.parameterAsBoolean(parameters, self.ALLOW_EMPTY, context):
            raise SoilMetalError(no_selection_message(run.result.table, settings.min_abs_r))
        write_selection_outputs(run, table_path, report_path)
        feedback.pushInfo(self.tr(f"Selected factors: {run.result.selected_string or 'none'}"))
        results = {self.SELECTED: run.result.selected_string,
                   self.N_SAMPLES: int(run.result.n_samples)}
        if table_path:
            results[self.OUTPUT_TABLE] = table_path
        if report_path:
            results[self.OUTPUT_REPORT] = report_path
        return results
