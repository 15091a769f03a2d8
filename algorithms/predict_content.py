"""predictcontent: a model applied to factor rasters, block by block."""

from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingParameterEnum,
                       QgsProcessingParameterFile, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterRasterDestination)

from ..core.model_file import load_model
from ..core.predict import EXTRAPOLATION_LABELS, EXTRAPOLATION_MODES, predict_map
from .base import SoilMetalAlgorithm
from .styling import style_content_output


class PredictContentAlgorithm(SoilMetalAlgorithm):
    """Writes the content map of a model over factor rasters."""

    ALGORITHM_ID = "predictcontent"
    DISPLAY_NAME = "Predict content map"
    GROUP = "mapping"

    MODEL = "MODEL"
    MODEL_PARAMETERS = (MODEL,)
    FACTORS = "FACTORS"
    EXTRAPOLATION = "EXTRAPOLATION"
    OUTPUT = "OUTPUT"
    OUTPUT_UNCERTAINTY = "OUTPUT_UNCERTAINTY"
    OUTPUT_EXTRAPOLATION = "OUTPUT_EXTRAPOLATION"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterFile(self.MODEL, self.tr("Model file"), extension="json"))
        self.add_parameter(QgsProcessingParameterMultipleLayers(
            self.FACTORS, self.tr("Factor rasters"), QgsProcessing.TypeRaster))
        self.add_parameter(QgsProcessingParameterEnum(
            self.EXTRAPOLATION, self.tr("Pixels outside the training ranges"),
            options=[self.tr(label) for label in EXTRAPOLATION_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Content map")))
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_UNCERTAINTY, self.tr("Uncertainty map (ensemble std)"), optional=True,
            createByDefault=False))
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_EXTRAPOLATION, self.tr("Extrapolation map"), optional=True, createByDefault=False),
            advanced=True)
        self.addOutput(QgsProcessingOutputNumber("PIXELS_MAPPED", self.tr("Pixels mapped")))
        self.addOutput(QgsProcessingOutputNumber("EXTRAPOLATED_FRACTION", self.tr("Extrapolated fraction")))

    def execute(self, parameters, context, feedback):
        """Load the model, map it, style the result."""
        model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
        sources = self.factor_sources(parameters, self.FACTORS, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        uncertainty = self.parameterAsOutputLayer(parameters, self.OUTPUT_UNCERTAINTY, context) or None
        extrapolation = self.parameterAsOutputLayer(parameters, self.OUTPUT_EXTRAPOLATION, context) or None
        mode = EXTRAPOLATION_MODES[self.parameterAsEnum(parameters, self.EXTRAPOLATION, context)]
        summary = predict_map(model, sources, output, uncertainty, extrapolation, mode, self.monitor(feedback))
        style_content_output(context, output, model.metal or "Content", "content")
        results = {self.OUTPUT: output, "PIXELS_MAPPED": summary["pixels_mapped"],
                   "EXTRAPOLATED_FRACTION": summary["extrapolated_fraction"]}
        if uncertainty:
            style_content_output(context, uncertainty, model.metal or "Content", "uncertainty")
            results[self.OUTPUT_UNCERTAINTY] = uncertainty
        if extrapolation:
            results[self.OUTPUT_EXTRAPOLATION] = extrapolation
        return results
