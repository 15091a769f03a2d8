"""transfergabp: Tr-GA-BP, a source GA-BP model transferred to a new period with few samples."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterEnum,
                       QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER
from ..core.errors import SoilMetalError
from ..core.model_file import file_sha256, load_model
from ..core.reports.transfer import write_transfer_outputs
from ..core.science.gabp import MIN_TRAINABLE_SAMPLES
from ..core.science.transfer import (
    DEFAULT_OUTPUT_ANCHOR,
    DEFAULT_PENALTY,
    METHODS as TRANSFER_METHODS,
    TransferSettings,
    parse_beta_grid,
)
from ..core.sensors import factor_sensor
from ..core.workflows.common import check_model_factors
from ..core.workflows.transfer import run_transfer
from .samples import NetworkTrainingAlgorithm

METHOD_LABELS = ("Gradient descent (the paper)", "Levenberg-Marquardt")
assert len(METHOD_LABELS) == len(TRANSFER_METHODS)


class TransferGaBpAlgorithm(NetworkTrainingAlgorithm):
    """Transfers a GA-BP model to target samples and compares it with GA-BP from scratch."""

    ALGORITHM_ID = "transfergabp"
    DISPLAY_NAME = "Transfer GA-BP model (Tr-GA-BP)"
    GROUP = "modelling"

    SOURCE_MODEL = "SOURCE_MODEL"
    TRAIN_SAMPLES = "TRAIN_SAMPLES"
    VALIDATION_FRACTION = "VALIDATION_FRACTION"
    BETA_GRID = "BETA_GRID"
    LEARNING_RATE = "LEARNING_RATE"
    EPOCHS = "EPOCHS"
    PENALTY = "PENALTY"
    OUTPUT_ANCHOR = "OUTPUT_ANCHOR"
    METHOD = "METHOD"
    OUTPUT_BASELINE_MODEL = "OUTPUT_BASELINE_MODEL"
    VERDICT = "VERDICT"
    FILE_OUTPUTS = ("OUTPUT_MODEL", "OUTPUT_REPORT", "OUTPUT_TABLE", OUTPUT_BASELINE_MODEL)

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        self.add_model_file(self.SOURCE_MODEL, "Source model file")
        self.add_sample_inputs("Target sample points", factors_label="Factor rasters of the target period")
        self.add_parameter(QgsProcessingParameterNumber(
            self.TRAIN_SAMPLES, self.tr("Target samples for retraining"), integer, defaultValue=16,
            minValue=MIN_TRAINABLE_SAMPLES, maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.VALIDATION_FRACTION, self.tr("Share of the other samples used for validation"),
            double, defaultValue=0.2, minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterString(
            self.BETA_GRID, self.tr("Beta grid (start:stop:step or a list)"), defaultValue="0:1:0.1"))
        self.add_parameter(QgsProcessingParameterNumber(
            self.LEARNING_RATE, self.tr("Learning rate"), double, defaultValue=0.1, minValue=1e-9, maxValue=100.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.EPOCHS, self.tr("Retraining epochs (maximum)"), integer, defaultValue=500, minValue=0,
            maxValue=1000000))
        self.add_ensemble_and_seed()
        self.add_parameter(QgsProcessingParameterNumber(
            self.PENALTY, self.tr("Penalty keeping W_T near beta * W_S"), double,
            defaultValue=DEFAULT_PENALTY, minValue=0.0, maxValue=1e6), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.OUTPUT_ANCHOR, self.tr("Share of the penalty on the output layer"), double,
            defaultValue=DEFAULT_OUTPUT_ANCHOR, minValue=0.0, maxValue=1.0), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.METHOD, self.tr("Optimiser"), options=[self.tr(label) for label in METHOD_LABELS],
            defaultValue=0), advanced=True)
        self.add_cross_validation("Cross-validation on all target samples")
        self.add_sample_options()
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Transferred model file"), fileFilter="Model files (*.json)"))
        self.add_optional_file_output(self.OUTPUT_BASELINE_MODEL, "GA-BP from scratch model file",
                                      "Model files (*.json)")
        self.add_report_and_table("Transfer report", "Per-sample results")
        for name, label in (("RMSE", "Tr-GA-BP validation RMSE (mg/kg)"),
                            ("MRE", "Tr-GA-BP validation MRE"), ("R2", "Tr-GA-BP validation R2"),
                            ("MAE", "Tr-GA-BP validation MAE (mg/kg)"),
                            ("BETA", "Median beta of the networks"),
                            ("BASELINE_RMSE", "GA-BP from scratch validation RMSE (mg/kg)"),
                            ("BASELINE_MRE", "GA-BP from scratch validation MRE"),
                            ("SOURCE_RMSE", "Source model unchanged validation RMSE (mg/kg)"),
                            ("SOURCE_MRE", "Source model unchanged validation MRE"),
                            ("N_TRAIN", "Retraining samples"), ("N_VALIDATION", "Validation samples"),
                            ("CV_RMSE", "Tr-GA-BP cross-validated RMSE (mg/kg)"),
                            ("CV_MRE", "Tr-GA-BP cross-validated MRE"),
                            ("CV_R2", "Tr-GA-BP cross-validated R2"),
                            ("MEAN_CV_RMSE", "Training mean cross-validated RMSE (mg/kg)"),
                            ("MLR_CV_RMSE", "Linear regression cross-validated RMSE (mg/kg)"),
                            ("BASELINE_CV_RMSE", "GA-BP from scratch cross-validated RMSE (mg/kg)"),
                            ("SOURCE_CV_RMSE", "Source model unchanged cross-validated RMSE (mg/kg)"),
                            ("RK_CV_RMSE", "Tr-GA-BP + kriged residuals cross-validated RMSE (mg/kg)")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))
        self.addOutput(QgsProcessingOutputString(self.VERDICT, self.tr(
            "Verdict: helps, negative or no detectable difference")))

    def checkParameterValues(self, parameters, context):
        """Refuse an unreadable beta grid (and, in the base class, a bad model file) before the run."""
        try:
            parse_beta_grid(self.parameterAsString(parameters, self.BETA_GRID, context))
        except SoilMetalError as error:
            return False, str(error)
        return super().checkParameterValues(parameters, context)

    def transfer_settings(self, parameters, context):
        """The Tr-GA-BP settings of the run, validated."""
        settings = TransferSettings(
            beta_grid=parse_beta_grid(self.parameterAsString(parameters, self.BETA_GRID, context)),
            learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            penalty=self.parameterAsDouble(parameters, self.PENALTY, context),
            output_anchor=self.parameterAsDouble(parameters, self.OUTPUT_ANCHOR, context),
            method=TRANSFER_METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
            seed=self.parameterAsInt(parameters, self.SEED, context))
        settings.validate()
        return settings

    def execute(self, parameters, context, feedback):
        """Sample the target factors, transfer, train the baseline, write the outputs."""
        source_path = self.parameterAsFile(parameters, self.SOURCE_MODEL, context)
        source = load_model(source_path)
        settings = self.transfer_settings(parameters, context)

        def transfer(samples, monitor):
            check_model_factors(source, samples.sources, "The source model")
            prepared = samples.prepare(source.factor_names, MIN_TRAINABLE_SAMPLES, monitor)
            monitor.set_progress(5)
            run = run_transfer(
                source, source_path, prepared, settings,
                train_samples=self.parameterAsInt(parameters, self.TRAIN_SAMPLES, context),
                validation_fraction=self.parameterAsDouble(parameters, self.VALIDATION_FRACTION, context),
                ensemble=self.parameterAsInt(parameters, self.ENSEMBLE, context),
                monitor=monitor.child(5, 95), source_sha256=file_sha256(source_path),
                **self.cross_validation(parameters, context), samples_context=samples.context())
            run.model.sensor = run.baseline.sensor = factor_sensor(samples.sources)
            return run

        return self.run_on_samples(parameters, context, feedback, transfer, write_transfer_outputs)
