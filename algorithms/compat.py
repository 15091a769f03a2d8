"""The QGIS enums the plugin uses, spelled the way the running QGIS wants them.

QGIS 3.36 moved the Processing enums into scoped `Qgis.*` enums and deprecated the old class
members (`QgsProcessing.TypeRaster`, `QgsProcessingParameterDefinition.FlagAdvanced`, ...);
QGIS 4 (Qt 6) removes the old spellings. QGIS 3.22 has only the old ones. Every algorithm
imports its enum values from here, so the same code runs on 3.22 through QGIS 4 without a
deprecation warning; tests/algorithms/test_compat.py fails if an old spelling comes back.

    from .compat import SOURCE_RASTER, NUMBER_DOUBLE, PARAMETER_ADVANCED, ...

Where each name lives (the new enum first; the old one is used when the new one is absent):
  SOURCE_*           Qgis.ProcessingSourceType (3.36)            | QgsProcessing.Type*
  PARAMETER_*        Qgis.ProcessingParameterFlag (3.36)         | QgsProcessingParameterDefinition.Flag*
  ALGORITHM_*        Qgis.ProcessingAlgorithmFlag (3.36)         | QgsProcessingAlgorithm.Flag*
  NUMBER_*           Qgis.ProcessingNumberParameterType (3.36)   | QgsProcessingParameterNumber.Integer/Double
  FIELD_*            Qgis.ProcessingFieldParameterDataType (3.36) | QgsProcessingParameterField.Any/Numeric/String
  FILE_*             Qgis.ProcessingFileParameterBehavior (3.36) | QgsProcessingParameterFile.File/Folder
  GEOMETRY_*         Qgis.GeometryType (3.30)                    | QgsWkbTypes.*Geometry
  STATISTIC_*        Qgis.RasterBandStatistic (3.40)             | QgsRasterBandStats.Min/Max/All
  SHADER_*           Qgis.ShaderInterpolationMethod (3.38)       | QgsColorRampShader.Discrete/Interpolated/Exact
  MODEL_SOURCE_*     Qgis.ProcessingModelChildParameterSource (3.36) | QgsProcessingModelChildParameterSource.*
"""

from qgis.core import (Qgis, QgsColorRampShader, QgsProcessing, QgsProcessingAlgorithm,
                       QgsProcessingModelChildParameterSource,
                       QgsProcessingParameterDefinition, QgsProcessingParameterField,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber,
                       QgsRasterBandStats, QgsWkbTypes)


def pick(new_enum, new_member, old_holder, old_member):
    """`Qgis.<new_enum>.<new_member>` when this QGIS has it, else `<old_holder>.<old_member>`."""
    scoped = getattr(Qgis, new_enum, None)
    if scoped is not None and hasattr(scoped, new_member):
        return getattr(scoped, new_member)
    return getattr(old_holder, old_member)


SOURCE_VECTOR_POINT = pick("ProcessingSourceType", "VectorPoint", QgsProcessing, "TypeVectorPoint")
SOURCE_VECTOR_ANY = pick("ProcessingSourceType", "VectorAnyGeometry", QgsProcessing, "TypeVectorAnyGeometry")
SOURCE_RASTER = pick("ProcessingSourceType", "Raster", QgsProcessing, "TypeRaster")
SOURCE_FILE = pick("ProcessingSourceType", "File", QgsProcessing, "TypeFile")

PARAMETER_ADVANCED = pick("ProcessingParameterFlag", "Advanced", QgsProcessingParameterDefinition, "FlagAdvanced")
PARAMETER_HIDDEN = pick("ProcessingParameterFlag", "Hidden", QgsProcessingParameterDefinition, "FlagHidden")
PARAMETER_OPTIONAL = pick("ProcessingParameterFlag", "Optional", QgsProcessingParameterDefinition, "FlagOptional")

ALGORITHM_NO_THREADING = pick("ProcessingAlgorithmFlag", "NoThreading", QgsProcessingAlgorithm, "FlagNoThreading")
ALGORITHM_CAN_CANCEL = pick("ProcessingAlgorithmFlag", "CanCancel", QgsProcessingAlgorithm, "FlagCanCancel")

NUMBER_INTEGER = pick("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber, "Integer")
NUMBER_DOUBLE = pick("ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber, "Double")

FIELD_ANY = pick("ProcessingFieldParameterDataType", "Any", QgsProcessingParameterField, "Any")
FIELD_NUMERIC = pick("ProcessingFieldParameterDataType", "Numeric", QgsProcessingParameterField, "Numeric")
FIELD_STRING = pick("ProcessingFieldParameterDataType", "String", QgsProcessingParameterField, "String")

FILE_FILE = pick("ProcessingFileParameterBehavior", "File", QgsProcessingParameterFile, "File")
FILE_FOLDER = pick("ProcessingFileParameterBehavior", "Folder", QgsProcessingParameterFile, "Folder")

GEOMETRY_POINT = pick("GeometryType", "Point", QgsWkbTypes, "PointGeometry")

STATISTIC_MIN = pick("RasterBandStatistic", "Min", QgsRasterBandStats, "Min")
STATISTIC_MAX = pick("RasterBandStatistic", "Max", QgsRasterBandStats, "Max")
STATISTIC_ALL = pick("RasterBandStatistic", "All", QgsRasterBandStats, "All")

SHADER_DISCRETE = pick("ShaderInterpolationMethod", "Discrete", QgsColorRampShader, "Discrete")
SHADER_INTERPOLATED = pick("ShaderInterpolationMethod", "Linear", QgsColorRampShader, "Interpolated")
SHADER_EXACT = pick("ShaderInterpolationMethod", "Exact", QgsColorRampShader, "Exact")

MODEL_SOURCE_STATIC = pick("ProcessingModelChildParameterSource", "StaticValue",
                           QgsProcessingModelChildParameterSource, "StaticValue")
MODEL_SOURCE_PARAMETER = pick("ProcessingModelChildParameterSource", "ModelParameter",
                              QgsProcessingModelChildParameterSource, "ModelParameter")
MODEL_SOURCE_EXPRESSION = pick("ProcessingModelChildParameterSource", "Expression",
                               QgsProcessingModelChildParameterSource, "Expression")
