"""The plugin code runs on QGIS 3.22 through QGIS 4: enums come from algorithms/compat.py, and
the Qt 6 rules hold (qgis.PyQt imports only, no exec_, scoped Qt enums, no QVariant types)."""

import re

import pytest

from support import ROOT

# Spellings QGIS 3.36+ deprecates and QGIS 4 removes; algorithms/compat.py holds their replacements.
OLD_ENUMS = re.compile(r"\b(?:" + "|".join([
    r"QgsProcessing\.Type\w+",
    r"QgsProcessingParameterDefinition\.Flag\w+",
    r"QgsProcessingAlgorithm\.Flag\w+",
    r"QgsProcessingProvider\.Flag\w+",
    r"QgsProcessingParameterNumber\.(?:Integer|Double)\b",
    r"QgsProcessingParameterField\.(?:Any|Numeric|String|DateTime|Binary|Boolean)\b",
    r"QgsProcessingParameterFile\.(?:File|Folder)\b",
    r"QgsWkbTypes\.(?:Point|Line|Polygon|Unknown|Null)Geometry\b",
    r"QgsRasterBandStats\.(?:NoStatistic|Min|Max|Range|Sum|Mean|StdDev|SumOfSquares|All)\b",
    r"QgsColorRampShader\.(?:Discrete|Interpolated|Exact)\b",
]) + ")")
# Qt 6: PyQt5/PyQt6 imported directly, exec_(), unscoped Qt.X enums, QVariant type constants.
QT6_RULES = {
    "import PyQt directly (use qgis.PyQt)": re.compile(r"^\s*(?:from|import)\s+PyQt[56]\b", re.M),
    "exec_() (use exec())": re.compile(r"\.exec_\("),
    "an unscoped Qt enum (write Qt.<Enum>.<Value>)": re.compile(r"\bQt\.[A-Z][A-Za-z]*\b(?!\.)"),
    "a QVariant type constant (use QMetaType)": re.compile(r"\bQVariant\.[A-Z]\w*"),
}


def plugin_files():
    """The code QGIS loads: algorithms/ (compat.py itself aside), provider.py, plugin.py, __init__.py."""
    files = [p for p in sorted((ROOT / "algorithms").glob("*.py")) if p.name != "compat.py"]
    return files + [ROOT / name for name in ("provider.py", "plugin.py", "__init__.py")]


def code_lines(path):
    """(number, line) of a file, comments stripped (a comment may name an old spelling)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        yield number, line.split("#", 1)[0]


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: p.name)
def test_no_deprecated_qgis_enum(path):
    found = [f"{path.name}:{n}: {m.group(0)}" for n, line in code_lines(path) for m in OLD_ENUMS.finditer(line)]
    assert not found, "import the value from algorithms/compat.py instead:\n" + "\n".join(found)


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: p.name)
def test_qt6_rules(path):
    text = "\n".join(line for _, line in code_lines(path))
    broken = [rule for rule, pattern in QT6_RULES.items() if pattern.search(text)]
    assert not broken, f"{path.name} uses {broken}"


@pytest.mark.parametrize("line", [
    "[QgsProcessing.TypeVectorPoint]", "p.flags() | QgsProcessingParameterDefinition.FlagAdvanced",
    "QgsProcessingParameterNumber.Double", "type=QgsProcessingParameterField.Numeric",
    "!= QgsWkbTypes.PointGeometry", "QgsRasterBandStats.Min | QgsRasterBandStats.Max",
    "QgsColorRampShader.Discrete"])
def test_the_old_spellings_are_recognised(line):
    assert OLD_ENUMS.search(line)


def test_the_new_spellings_pass():
    for line in ["Qgis.ProcessingSourceType.Raster", "QgsWkbTypes.displayString(t)",
                 "QgsProcessingParameterNumber(name)", "QgsColorRampShader.ColorRampItem(v, c)"]:
        assert not OLD_ENUMS.search(line), line
    assert QT6_RULES["an unscoped Qt enum (write Qt.<Enum>.<Value>)"].search("Qt.AlignLeft")
    assert not QT6_RULES["an unscoped Qt enum (write Qt.<Enum>.<Value>)"].search("Qt.AlignmentFlag.AlignLeft")


def test_metadata_declares_qt6_support():
    text = (ROOT / "metadata.txt").read_text(encoding="utf-8")
    assert re.search(r"^supportsQt6\s*=\s*(?:True|yes)\s*$", text, re.M)
