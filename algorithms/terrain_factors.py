"""terrainfactors: elevation, slope, aspect, northness and eastness of a DEM, on a reference grid."""

from qgis.core import (QgsProcessingParameterBand, QgsProcessingParameterEnum, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer)

from .compat import NUMBER_DOUBLE
from ..core.workflows.terrain_factors import RESAMPLING_METHODS, run_terrain_factors
from .factor_inputs import FactorAlgorithm
from ..styles.rasters import style_output

RESAMPLING_LABELS = {"bilinear": "Bilinear", "cubic": "Cubic"}


class TerrainFactorsAlgorithm(FactorAlgorithm):
    """Writes the terrain factors of a DEM band (Horn slope and aspect), optionally on a reference grid."""

    ALGORITHM_ID = "terrainfactors"
    DISPLAY_NAME = "Terrain factors"
    GROUP = "factors"

    INPUT = "INPUT"
    BAND = "BAND"
    REFERENCE = "REFERENCE"
    RESAMPLING = "RESAMPLING"
    Z_FACTOR = "Z_FACTOR"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("DEM")))
        self.add_parameter(QgsProcessingParameterBand(
            self.BAND, self.tr("Elevation band"), defaultValue=1, parentLayerParameterName=self.INPUT,
            optional=True))  # optional: QGIS 3.22 refuses an omitted band even with a default
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.REFERENCE, self.tr("Reference raster (output grid)"), optional=True))
        self.add_parameter(QgsProcessingParameterEnum(
            self.RESAMPLING, self.tr("DEM resampling onto the reference grid"),
            options=[self.tr(RESAMPLING_LABELS[method]) for method in RESAMPLING_METHODS],
            defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.Z_FACTOR, self.tr("Z factor (elevation units to metres)"),
            NUMBER_DOUBLE, defaultValue=1.0, minValue=0.0, maxValue=1e6), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Terrain factors")))

    def execute(self, parameters, context, feedback):
        """Read the DEM (and reference), run the workflow, return the output path."""
        dem = self.required_raster(parameters, self.INPUT, context)
        reference = self.optional_raster(parameters, self.REFERENCE, context)
        band = self.parameterAsInt(parameters, self.BAND, context)
        resampling = RESAMPLING_METHODS[self.parameterAsEnum(parameters, self.RESAMPLING, context)]
        z_factor = self.parameterAsDouble(parameters, self.Z_FACTOR, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        run = run_terrain_factors(dem, output, band=band, reference_path=reference,
                                  resampling=resampling, z_factor=z_factor,
                                  monitor=self.monitor(feedback))
        style_output(context, run.output, "factors", "Terrain factors", feedback=feedback)
        return {self.OUTPUT: run.output}
