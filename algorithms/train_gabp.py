"""traingabp: a GA-BP model (GA-seeded 3-layer BP network trained by Levenberg-Marquardt)."""

import numpy as np

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER
from ..core.guards import check_factors_vary, check_training_samples
from ..core.reports.training import write_training_outputs
from ..core.science.gabp import DEFAULT_GOAL, MIN_TRAINABLE_SAMPLES, GABPSettings
from ..core.science.network import n_params
from ..core.science.splits import split_samples
from ..core.sensors import factor_sensor
from ..core.workflows.training import run_training
from .samples import NetworkTrainingAlgorithm


class TrainGaBpAlgorithm(NetworkTrainingAlgorithm):
    """Trains a GA-BP model on sample points and factor rasters, with a held-out validation."""

    ALGORITHM_ID = "traingabp"
    DISPLAY_NAME = "Train GA-BP model"
    GROUP = "modelling"

    FACTOR_NAMES = "FACTOR_NAMES"
    HIDDEN = "HIDDEN"
    POPULATION = "POPULATION"
    GENERATIONS = "GENERATIONS"
    CROSSOVER = "CROSSOVER"
    MUTATION = "MUTATION"
    EPOCHS = "EPOCHS"
    VALIDATION_FRACTION = "VALIDATION_FRACTION"
    GOAL = "GOAL"
    LOG_TARGET = "LOG_TARGET"
    ALLOW_FEW_SAMPLES = "ALLOW_FEW_SAMPLES"
    FILE_OUTPUTS = ("OUTPUT_MODEL", "OUTPUT_REPORT", "OUTPUT_TABLE")

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        self.add_sample_inputs()
        self.add_parameter(QgsProcessingParameterString(
            self.FACTOR_NAMES, self.tr("Factors to use (comma-separated; empty = all)"),
            defaultValue="", optional=True))
        self.add_parameter(QgsProcessingParameterNumber(
            self.HIDDEN, self.tr("Hidden neurons"), integer, defaultValue=4, minValue=1, maxValue=100))
        self.add_parameter(QgsProcessingParameterNumber(
            self.POPULATION, self.tr("GA population size"), integer, defaultValue=30, minValue=2,
            maxValue=10000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.GENERATIONS, self.tr("GA generations"), integer, defaultValue=50, minValue=0,
            maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.CROSSOVER, self.tr("GA crossover probability"), double, defaultValue=0.3,
            minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.MUTATION, self.tr("GA mutation probability"), double, defaultValue=0.1,
            minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.EPOCHS, self.tr("Levenberg-Marquardt epochs (maximum)"), integer, defaultValue=50,
            minValue=0, maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.VALIDATION_FRACTION, self.tr("Share of samples held out for validation"), double,
            defaultValue=0.2, minValue=0.0, maxValue=0.9))
        self.add_ensemble_and_seed()
        self.add_parameter(QgsProcessingParameterNumber(
            self.GOAL, self.tr("LM goal (share of variance left unexplained)"), double,
            defaultValue=DEFAULT_GOAL, minValue=0.0, maxValue=1.0), advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean(
            self.LOG_TARGET, self.tr("Model log(content)"), defaultValue=False), advanced=True)
        self.add_cross_validation("Cross-validation")
        self.add_parameter(QgsProcessingParameterBoolean(
            self.ALLOW_FEW_SAMPLES, self.tr("Train on fewer samples than the weights warrant (not recommended)"),
            defaultValue=False), advanced=True)
        self.add_sample_options()
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Model file"), fileFilter="Model files (*.json)"))
        self.add_report_and_table("Training report", "Per-sample results")
        for name, label in (("RMSE", "Validation RMSE (mg/kg)"), ("MRE", "Validation MRE"),
                            ("R2", "Validation R2"), ("MAE", "Validation MAE (mg/kg)"),
                            ("N_TRAIN", "Training samples"), ("N_VALIDATION", "Validation samples"),
                            ("CV_RMSE", "Cross-validated RMSE (mg/kg)"),
                            ("CV_MRE", "Cross-validated MRE"), ("CV_R2", "Cross-validated R2"),
                            ("MEAN_CV_RMSE", "Cross-validated RMSE of the training mean (mg/kg)"),
                            ("MLR_CV_RMSE", "Cross-validated RMSE of linear regression (mg/kg)"),
                            ("RK_CV_RMSE", "Cross-validated RMSE of model + kriged residuals (mg/kg)")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def check_trainable(self, prepared, settings, parameters, context, monitor):
        """Refuse factors constant at the samples and too few training samples for the weights."""
        check_factors_vary(prepared.table.factors, monitor.warning)
        n_train = split_samples(len(prepared.table), self.parameterAsDouble(
            parameters, self.VALIDATION_FRACTION, context), np.random.default_rng(0)).train.size
        check_training_samples(n_train, n_params(prepared.table.factors.shape[1], settings.hidden),
                               self.parameterAsBoolean(parameters, self.ALLOW_FEW_SAMPLES, context),
                               monitor.warning)

    def gabp_settings(self, parameters, context):
        """The GA-BP settings of the run, validated."""
        settings = GABPSettings(
            hidden=self.parameterAsInt(parameters, self.HIDDEN, context),
            population=self.parameterAsInt(parameters, self.POPULATION, context),
            generations=self.parameterAsInt(parameters, self.GENERATIONS, context),
            crossover=self.parameterAsDouble(parameters, self.CROSSOVER, context),
            mutation=self.parameterAsDouble(parameters, self.MUTATION, context),
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            goal=self.parameterAsDouble(parameters, self.GOAL, context),
            ensemble=self.parameterAsInt(parameters, self.ENSEMBLE, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            log_target=self.parameterAsBoolean(parameters, self.LOG_TARGET, context))
        settings.validate()
        return settings

    def execute(self, parameters, context, feedback):
        """Sample the factors, hold out the validation samples, train, write the outputs."""
        settings = self.gabp_settings(parameters, context)
        fraction = self.parameterAsDouble(parameters, self.VALIDATION_FRACTION, context)

        def train(samples, monitor):
            names = self.factor_names(parameters, self.FACTOR_NAMES, context)
            prepared = samples.prepare(names or None, MIN_TRAINABLE_SAMPLES, monitor)
            self.check_trainable(prepared, settings, parameters, context, monitor)
            monitor.set_progress(5)
            run = run_training(prepared, settings, fraction, monitor.child(5, 95),
                               **self.cross_validation(parameters, context), samples_context=samples.context())
            run.model.sensor = factor_sensor(samples.sources)
            return run

        return self.run_on_samples(parameters, context, feedback, train, write_training_outputs)
