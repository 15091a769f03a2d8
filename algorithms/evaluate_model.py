"""evaluatemodel: error report of a model against independent samples."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterNumber)

from ..core.model_file import load_model
from ..core.reports.evaluation import write_evaluation_outputs
from ..core.workflows.common import check_model_factors
from ..core.workflows.evaluation import run_evaluation
from .compat import NUMBER_DOUBLE
from .samples import SampleAlgorithm


class EvaluateModelAlgorithm(SampleAlgorithm):
    """RMSE, MRE, MAE and R2 of a model at sample points it was not trained on."""

    ALGORITHM_ID = "evaluatemodel"
    DISPLAY_NAME = "Evaluate model"
    GROUP = "modelling"

    MODEL = "MODEL"
    INCLUDE_TRAINING = "INCLUDE_TRAINING"
    INTERVAL_COVERAGE = "INTERVAL_COVERAGE"
    FILE_OUTPUTS = ("OUTPUT_REPORT", "OUTPUT_TABLE")

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_model_file(self.MODEL, "Model file")
        self.add_sample_inputs("Evaluation sample points")
        self.add_parameter(QgsProcessingParameterBoolean(
            self.INCLUDE_TRAINING, self.tr("Keep samples the model was trained or validated on"),
            defaultValue=False), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.INTERVAL_COVERAGE, self.tr("Nominal coverage of the prediction intervals checked"),
            NUMBER_DOUBLE, defaultValue=0.9, minValue=0.01, maxValue=0.99),
            advanced=True)
        self.add_sample_options()
        self.add_report_and_table("Evaluation report", "Per-sample results")
        for name, label in (("RMSE", "RMSE (mg/kg)"), ("MRE", "MRE"), ("MAE", "MAE (mg/kg)"),
                            ("R2", "R2"), ("N", "Samples evaluated"),
                            ("N_EXCLUDED", "Samples left out (at the model's own samples)"),
                            ("COVERAGE", "Share of samples inside the prediction interval")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def execute(self, parameters, context, feedback):
        """Sample the factors at the points, predict, compare, write the report and table."""
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        model = load_model(model_path)

        def evaluate(samples, monitor):
            check_model_factors(model, samples.sources)
            prepared = samples.prepare(model.factor_names, 1, monitor)
            monitor.set_progress(30)
            return run_evaluation(
                model, prepared, model_path, monitor.child(30, 90),
                include_training=self.parameterAsBoolean(parameters, self.INCLUDE_TRAINING, context),
                interval_coverage=self.parameterAsDouble(parameters, self.INTERVAL_COVERAGE, context),
                samples_context=samples.context())

        return self.run_on_samples(parameters, context, feedback, evaluate, write_evaluation_outputs)
