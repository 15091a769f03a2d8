"""algorithms/compat.py picks the scoped Qgis enum where this QGIS has it, the old one otherwise."""

import pytest
from qgis.core import (Qgis, QgsColorRampShader, QgsProcessing, QgsProcessingParameterDefinition,
                       QgsProcessingParameterField, QgsProcessingParameterNumber, QgsRasterBandStats,
                       QgsWkbTypes)

from soilmetal.algorithms import compat

# compat name -> (Qgis scoped enum, its member, old holder, old member)
CASES = {
    "SOURCE_VECTOR_POINT": ("ProcessingSourceType", "VectorPoint", QgsProcessing, "TypeVectorPoint"),
    "SOURCE_RASTER": ("ProcessingSourceType", "Raster", QgsProcessing, "TypeRaster"),
    "PARAMETER_ADVANCED": ("ProcessingParameterFlag", "Advanced", QgsProcessingParameterDefinition, "FlagAdvanced"),
    "NUMBER_INTEGER": ("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber, "Integer"),
    "NUMBER_DOUBLE": ("ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber, "Double"),
    "FIELD_NUMERIC": ("ProcessingFieldParameterDataType", "Numeric", QgsProcessingParameterField, "Numeric"),
    "GEOMETRY_POINT": ("GeometryType", "Point", QgsWkbTypes, "PointGeometry"),
    "STATISTIC_MIN": ("RasterBandStatistic", "Min", QgsRasterBandStats, "Min"),
    "SHADER_DISCRETE": ("ShaderInterpolationMethod", "Discrete", QgsColorRampShader, "Discrete"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compat_picks_the_enum_this_qgis_has(name):
    scoped, member, old_holder, old_member = CASES[name]
    value = getattr(compat, name)
    if hasattr(Qgis, scoped):
        assert value is getattr(getattr(Qgis, scoped), member)
    else:
        assert value == getattr(old_holder, old_member)


def test_the_values_work_in_parameters(plugin):
    parameter = QgsProcessingParameterNumber("X", "x", compat.NUMBER_INTEGER)
    assert parameter.dataType() == compat.NUMBER_INTEGER
    parameter.setFlags(parameter.flags() | compat.PARAMETER_ADVANCED)
    assert parameter.flags() & compat.PARAMETER_ADVANCED
    field = QgsProcessingParameterField("F", "f", parentLayerParameterName="P", type=compat.FIELD_NUMERIC)
    assert field.dataType() == compat.FIELD_NUMERIC
