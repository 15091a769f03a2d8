"""Help a scripter can read and a toolbox search that finds the algorithms: plain-text help with
defaults and enum indices outside QGIS desktop, rich HTML in it, whole-sentence short
descriptions, tags, and a help URL on the project's README."""

import configparser
import html
import re

import pytest
from qgis.core import (QgsApplication, QgsProcessingDestinationParameter, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum)

from soilmetal.algorithms.help_render import first_sentence
from support import ROOT

ALGORITHMS = ["spectralindices", "terrainfactors", "topographiccorrection", "selectfactors", "traingabp",
              "transfergabp", "evaluatemodel", "predictcontent", "contentstatistics"]
HTML_TAG = re.compile(r"</?(?:p|b|i|h\d|dl|dt|dd|br|a|code|ul|li|em|strong|html|body|span|div|table|tr|td)\b[^>]*>",
                      re.I)
ENTITY = re.compile(r"&(?:#x?[0-9a-f]+|[a-z]+);", re.I)


def algorithm(algorithm_id):
    return QgsApplication.processingRegistry().algorithmById(f"soilmetal:{algorithm_id}")


def expected_default(parameter):
    """The default as the help must show it, worked out here from the definition."""
    value = parameter.defaultValue()
    if isinstance(parameter, QgsProcessingDestinationParameter) or value in (None, "", []):
        return None
    if isinstance(parameter, QgsProcessingParameterBoolean):
        return "true" if value else "false"
    if isinstance(parameter, QgsProcessingParameterEnum):
        values = value if isinstance(value, list) else [value]
        return ",".join(str(int(v)) for v in values)
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("algorithm_id", ALGORITHMS + ["trgabpworkflow"])
def test_plain_help_outside_desktop(plugin, algorithm_id):
    alg = algorithm(algorithm_id)
    assert QgsApplication.platform() != "desktop"
    text = alg.shortHelpString()
    assert not HTML_TAG.search(text), HTML_TAG.search(text).group(0)
    assert not ENTITY.search(text), ENTITY.search(text).group(0)
    assert "Parameters:" in text
    lines = text.splitlines()
    for parameter in alg.parameterDefinitions():
        line = [row for row in lines if row.startswith(f"  {parameter.name()} - ")]
        assert len(line) == 1, f"{parameter.name()}: one line in the help"
        default = expected_default(parameter)
        if default is not None:
            assert re.search(r"\bdefault:?\s*" + re.escape(default) + r"(?!\w|\.\d)", line[0], re.I), line[0]
        if isinstance(parameter, QgsProcessingParameterEnum):
            for index, option in enumerate(parameter.options()):
                assert f"{index}: {option}" in line[0]


@pytest.mark.parametrize("algorithm_id", ALGORITHMS)
def test_parameter_help_marks_the_default(plugin, algorithm_id):
    """qgis_process prints every parameter's help() under Arguments; the toolbox shows it as a tooltip."""
    for parameter in algorithm(algorithm_id).parameterDefinitions():
        default = expected_default(parameter)
        if default is not None:
            assert re.search(r"\bdefault:?\s*" + re.escape(default) + r"(?!\w|\.\d)", parameter.help(), re.I), \
                f"{algorithm_id} {parameter.name()}: {parameter.help()}"
        assert not HTML_TAG.search(parameter.help())


@pytest.mark.parametrize("algorithm_id", ALGORITHMS)
def test_rich_help_for_the_toolbox(plugin, algorithm_id):
    alg = algorithm(algorithm_id)
    rich = alg.help_html()
    assert "<dl>" in rich and "<h3>Parameters</h3>" in rich
    # The text is escaped: a help that mentions '<layer name>_b<N>' shows it, not a broken tag.
    plain = html.unescape(re.sub(r"<[^>]+>", " ", rich))
    for name in (p.name() for p in alg.parameterDefinitions()):
        assert name in plain
    assert "Default:" in plain


@pytest.mark.parametrize("algorithm_id", ALGORITHMS + ["trgabpworkflow"])
def test_short_description_is_one_whole_sentence(plugin, algorithm_id):
    short = algorithm(algorithm_id).shortDescription()
    assert short.endswith(".") and not short.endswith(("et al.", "e.g.", "i.e.")), short
    assert short.count("(") == short.count(")"), short
    assert 40 < len(short) < 260 and "<" not in short and "\n" not in short, short


def test_first_sentence_is_not_cut_at_abbreviations():
    text = ("Chooses factors as in Yang et al. (2023), section 3.1.3. Every band is a factor.\n\nMore.")
    assert first_sentence(text) == "Chooses factors as in Yang et al. (2023), section 3.1.3."
    assert first_sentence("Reads rasters (e.g. NDVI. Or SLOPE) and writes. Then more.") == \
        "Reads rasters (e.g. NDVI. Or SLOPE) and writes."
    assert first_sentence("No full stop") == "No full stop."


def test_help_url_is_the_readme_section_on_the_project_page(plugin):
    metadata = configparser.ConfigParser()
    metadata.read(ROOT / "metadata.txt", encoding="utf-8")
    homepage = metadata["general"]["homepage"].rstrip("/")
    assert re.search(r"^## Algorithms$", (ROOT / "README.md").read_text(encoding="utf-8"), re.M)
    for algorithm_id in ALGORITHMS + ["trgabpworkflow"]:
        assert algorithm(algorithm_id).helpUrl() == f"{homepage}#algorithms"


@pytest.mark.parametrize("algorithm_id, words", [
    ("spectralindices", ["Landsat", "NDVI"]), ("terrainfactors", ["DEM", "slope"]),
    ("topographiccorrection", ["topographic correction", "Minnaert"]),
    ("selectfactors", ["correlation", "VIF"]), ("traingabp", ["neural network", "genetic algorithm"]),
    ("transfergabp", ["transfer learning", "Tr-GA-BP"]), ("evaluatemodel", ["RMSE", "validation"]),
    ("predictcontent", ["content map"]), ("contentstatistics", ["geo-accumulation index"]),
    ("trgabpworkflow", ["transfer learning", "workflow"])])
def test_tags_make_the_algorithms_findable(plugin, algorithm_id, words):
    alg = algorithm(algorithm_id)
    tags = alg.tags()
    for word in ["copper", "lead", "heavy metal"] + words:
        assert word in tags, (algorithm_id, word)
    names = {p.name() for p in alg.parameterDefinitions()}
    assert ("kriging" in tags) == bool(names & {"RESIDUAL_KRIGING", "KRIGING_NEIGHBOURS"})
    assert ("cross-validation" in tags) == bool(names & {"CV", "FOLDS"})
