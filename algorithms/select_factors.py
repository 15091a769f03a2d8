"""selectfactors: Pearson r of each factor with the metal at the samples, then VIF screening."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterBoolean, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from ..core.errors import SoilMetalError
from ..core.reports.selection import write_selection_outputs
from ..core.workflows.selection import SelectionSettings, no_selection_message, run_selection
from .compat import NUMBER_DOUBLE
from .samples import SampleAlgorithm


class SelectFactorsAlgorithm(SampleAlgorithm):
    """Chooses the factors for a GA-BP model: |r| threshold, then iterative VIF screening."""

    ALGORITHM_ID = "selectfactors"
    DISPLAY_NAME = "Select factors (correlation and VIF)"
    GROUP = "modelling"

    MIN_ABS_R = "MIN_ABS_R"
    MAX_VIF = "MAX_VIF"
    ALWAYS_INCLUDE = "ALWAYS_INCLUDE"
    ALLOW_EMPTY = "ALLOW_EMPTY"
    SELECTED = "SELECTED"
    N_SAMPLES = "N_SAMPLES"
    FILE_OUTPUTS = ("OUTPUT_TABLE", "OUTPUT_REPORT")

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
        self.add_report_and_table("Selection report", "Factor table", table_first=True)
        self.addOutput(QgsProcessingOutputString(self.SELECTED, self.tr("Selected factors")))
        self.addOutput(QgsProcessingOutputNumber(self.N_SAMPLES, self.tr("Samples used")))

    def execute(self, parameters, context, feedback):
        """Sample the factors, screen them, write the table and report."""

        def select(samples, monitor):
            settings = SelectionSettings(
                min_abs_r=self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
                max_vif=self.parameterAsDouble(parameters, self.MAX_VIF, context),
                always_include=self.factor_names(parameters, self.ALWAYS_INCLUDE, context))
            run = run_selection(samples, settings, monitor)
            if not run.result.selected and not self.parameterAsBoolean(parameters, self.ALLOW_EMPTY, context):
                raise SoilMetalError(no_selection_message(run.result.table, settings.min_abs_r))
            return run

        results = self.run_on_samples(parameters, context, feedback, select, write_selection_outputs)
        feedback.pushInfo(self.tr("Selected factors: {}").format(results[self.SELECTED] or "none"))
        return results
