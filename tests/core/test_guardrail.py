"""core/ stays pure, in every subpackage: no QGIS or Qt anywhere, GDAL (osgeo) only in the raster
I/O package (core/raster_io/), nothing from the QGIS layer (algorithms/, plugin, provider), and
every folder of core/ a package with an __init__.py (so a new subpackage is checked here and
shipped in the zip)."""

import ast
import pathlib

import pytest

CORE = pathlib.Path(__file__).resolve().parents[2] / "core"
FORBIDDEN_EVERYWHERE = ("qgis", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip")
# The raster I/O package, the only place of core/ that imports osgeo; its modules are listed, so a
# new one is added here on purpose (and a GDAL module elsewhere in core/ fails below).
GDAL_PACKAGE = CORE / "raster_io"
GDAL_MODULES = tuple(GDAL_PACKAGE / name for name in ("__init__.py", "crs.py", "grid.py", "reader.py",
                                                      "writer.py"))
# Names of the plugin's QGIS layer that core/ must not reach by a relative import.
QGIS_LAYER = ("algorithms", "styles", "plugin", "provider")


def imported_roots(source):
    """Top-level names of every module a source imports, at any depth of the file."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


def relative_targets(source, package):
    """Dotted names (from the plugin root) that the relative imports of a module in `package` reach.

    `package` is the module's package as a tuple of folder names below the plugin root, e.g.
    ("core", "reports"); an import that climbs above the plugin root yields a name starting "..".
    """
    targets = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = list(package[:len(package) - (node.level - 1)]) if node.level - 1 <= len(package) else [".."]
            names = [node.module] if node.module else [alias.name for alias in node.names]
            targets.update(".".join(base + [name]) for name in names)
    return targets


CORE_FILES = sorted(CORE.rglob("*.py"))


def package_of(path):
    """The folders from the plugin root to `path`'s folder, e.g. ("core", "reports")."""
    return tuple(path.parent.relative_to(CORE.parent).parts)


def test_core_has_modules():
    assert len(CORE_FILES) >= 5
    assert all(path.exists() for path in GDAL_MODULES)


def test_the_gdal_package_holds_only_its_listed_modules():
    assert sorted(GDAL_PACKAGE.rglob("*.py")) == sorted(GDAL_MODULES)


@pytest.mark.parametrize("folder", sorted({p.parent for p in CORE_FILES}), ids=lambda p: str(p.relative_to(CORE)))
def test_every_core_folder_is_a_package(folder):
    assert (folder / "__init__.py").exists(), f"{folder} holds modules but no __init__.py"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_qgis_or_qt(path):
    roots = imported_roots(path.read_text(encoding="utf-8"))
    assert not roots & set(FORBIDDEN_EVERYWHERE), f"{path} imports {roots & set(FORBIDDEN_EVERYWHERE)}"


@pytest.mark.parametrize("path", [p for p in CORE_FILES if p not in GDAL_MODULES],
                         ids=lambda p: str(p.relative_to(CORE)))
def test_only_raster_io_imports_gdal(path):
    assert "osgeo" not in imported_roots(path.read_text(encoding="utf-8")), \
        f"{path} imports osgeo; raster access belongs in core/raster_io/"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_stays_inside_core(path):
    targets = relative_targets(path.read_text(encoding="utf-8"), package_of(path))
    outside = sorted(t for t in targets if not t.startswith("core"))
    assert not outside, f"{path} imports {outside}; core/ must not reach the QGIS layer"


@pytest.mark.parametrize("source, bad", [
    ("import qgis.core", {"qgis"}),
    ("from qgis.PyQt.QtCore import QVariant", {"qgis"}),
    ("def f():\n    from PyQt5 import QtCore\n", {"PyQt5"}),
    ("from osgeo import gdal", {"osgeo"}),
    ("x = __import__('osgeo.gdal')", {"osgeo"}),
])
def test_guardrail_detects_forbidden_imports(source, bad):
    assert bad <= imported_roots(source)


def test_relative_imports_are_not_flagged():
    assert imported_roots("from .raster_io import read_band_sample\nfrom . import errors") == set()


@pytest.mark.parametrize("source, package, expected", [
    ("from .raster_io import read_band_sample", ("core",), {"core.raster_io"}),
    ("from . import errors", ("core", "reports"), {"core.reports.errors"}),
    ("from ..errors import SoilMetalError", ("core", "reports"), {"core.errors"}),
    ("from ..algorithms.base import X", ("core",), {"algorithms.base"}),
    ("from ...plugin import X", ("core", "reports"), {"plugin"}),
])
def test_relative_targets_resolve_from_the_package(source, package, expected):
    assert relative_targets(source, package) == expected
    assert any(t.startswith(QGIS_LAYER) for t in expected) == (not all(t.startswith("core") for t in expected))


# Data flows one way: foundations (core/*.py) and science (core/science/) <- workflows
# (core/workflows/) <- reports (core/reports/). Number formatting (core/text.py) is a foundation.
LAYER_RULES = (("core/workflows", "core.reports", "a workflow returns a Run; its report is core/reports/'s job"),)
TOP_LEVEL_FORBIDDEN = (("core.workflows", "a foundation module must not depend on a workflow"),
                       ("core.reports", "a foundation module must not depend on a report"))


@pytest.mark.parametrize("forbidden, why", TOP_LEVEL_FORBIDDEN, ids=[rule[0] for rule in TOP_LEVEL_FORBIDDEN])
@pytest.mark.parametrize("path", [p for p in CORE_FILES if p.parent == CORE], ids=lambda p: p.name)
def test_top_level_core_does_not_import_workflows_or_reports(path, forbidden, why):
    targets = relative_targets(path.read_text(encoding="utf-8"), package_of(path))
    bad = sorted(t for t in targets if t == forbidden or t.startswith(forbidden + "."))
    assert not bad, f"{path.name} imports {bad}: {why}"


@pytest.mark.parametrize("folder, forbidden, why", LAYER_RULES, ids=[rule[0] for rule in LAYER_RULES])
def test_workflows_do_not_import_reports(folder, forbidden, why):
    files = sorted((CORE.parent / folder).glob("*.py"))
    assert files, f"{folder} has no modules"
    for path in files:
        targets = relative_targets(path.read_text(encoding="utf-8"), package_of(path))
        bad = sorted(t for t in targets if t == forbidden or t.startswith(forbidden + "."))
        assert not bad, f"{path} imports {bad}: {why}"


# Figures are drawn on a Figure with its own Agg canvas: pyplot and matplotlib.use() would set
# a global backend inside QGIS (its own canvases use Qt).
GLOBAL_MATPLOTLIB = ("matplotlib.pyplot", "matplotlib.use", "pylab")


def global_matplotlib_uses(source):
    """The pyplot / pylab imports and matplotlib.use() calls of a source, as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "use" and getattr(node.func.value, "id", "") == "matplotlib":
            names.add("matplotlib.use")
    return sorted(n for n in names if n.startswith(GLOBAL_MATPLOTLIB))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_sets_no_global_matplotlib_state(path):
    bad = global_matplotlib_uses(path.read_text(encoding="utf-8"))
    assert not bad, f"{path} uses {bad}: draw on matplotlib.figure.Figure with FigureCanvasAgg"


@pytest.mark.parametrize("source, found", [
    ("import matplotlib.pyplot as plt", ["matplotlib.pyplot"]),
    ("from matplotlib import pyplot", ["matplotlib.pyplot"]),
    ("import matplotlib\nmatplotlib.use('Agg')", ["matplotlib.use"]),
    ("from matplotlib.figure import Figure\nfrom matplotlib.backends.backend_agg import FigureCanvasAgg", []),
])
def test_matplotlib_rule_catches_pyplot_and_use(source, found):
    assert global_matplotlib_uses(source) == found


# The science layer (core/science/) is arrays in, arrays out: besides itself it may use only these
# foundation modules; never raster I/O, a report, a workflow or a run module.
SCIENCE = CORE / "science"
SCIENCE_MAY_USE = ("core.science", "core.errors", "core.monitor", "core.model_file", "core.guards", "core.text")


@pytest.mark.parametrize("path", sorted(SCIENCE.rglob("*.py")), ids=lambda p: p.name)
def test_science_uses_only_science_and_foundations(path):
    targets = relative_targets(path.read_text(encoding="utf-8"), package_of(path))
    bad = sorted(t for t in targets if not any(t == ok or t.startswith(ok + ".") for ok in SCIENCE_MAY_USE))
    assert not bad, f"science/{path.name} imports {bad}: science takes arrays, not files, reports or runs"


def test_science_rule_catches_a_raster_import():
    targets = relative_targets("from ..raster_io import read_band\nfrom .cv import x", ("core", "science"))
    assert targets == {"core.raster_io", "core.science.cv"}
    assert [t for t in targets if not t.startswith(SCIENCE_MAY_USE)] == ["core.raster_io"]


# A workflow writes nothing but the factor rasters it streams block by block through
# raster_io.RasterWriter at the paths it is given; reports, tables, JSON and model files are
# written from its Run by core/reports/ (or the algorithm) once the run has returned.
WORKFLOW_WRITERS_FORBIDDEN = ("open", "HtmlReport", "write_text_atomic", "write_json", "write_table_csv",
                              "save_model", "save", "to_csv", "to_json", "savefig")


def called_names(source):
    """The name of every function or method a source calls: f() -> f, x.y.f() -> f."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


@pytest.mark.parametrize("path", sorted((CORE / "workflows").glob("*.py")), ids=lambda p: p.name)
def test_workflows_write_only_through_the_raster_writer(path):
    bad = sorted(called_names(path.read_text(encoding="utf-8")) & set(WORKFLOW_WRITERS_FORBIDDEN))
    assert not bad, f"workflows/{path.name} calls {bad}: a workflow returns a Run, core/reports/ writes it"


def test_writer_rule_catches_a_report_save():
    assert {"HtmlReport", "save", "write_json"} <= called_names(
        "report = HtmlReport('x')\nreport.save(path)\nio.write_json(data, path)")


# A module-level constant is defined in one module and imported wherever else it is needed: two
# definitions of one name drift apart (AOA_THRESHOLD_KEY once stood in styles/ and core/, and
# MIN_TRAINING_SAMPLES was 5 in guards and 3 in gabp). These names are different things in each
# module, each read through its own module or imported under another name.
SAME_NAME_DIFFERENT_THINGS = {
    "METHODS": "the outlier rules, the topographic corrections and the transfer optimisers",
    "METHOD_LABELS": "the topographic corrections' names and transfergabp's METHOD options",
    "TABLE_COLUMNS": "selectfactors' factor table and contentstatistics' class table",
}
PLUGIN_PACKAGES = ("core", "algorithms", "styles")


def module_constants(source):
    """The upper-case names a module assigns at its top level."""
    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            for name in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(name, ast.Name) and name.id.isupper() and not name.id.startswith("_"):
                    names.add(name.id)
    return names


def test_each_module_constant_is_defined_once():
    defined = {}
    for package in PLUGIN_PACKAGES:
        for path in sorted((CORE.parent / package).rglob("*.py")):
            for name in module_constants(path.read_text(encoding="utf-8")):
                defined.setdefault(name, []).append(str(path.relative_to(CORE.parent)))
    twins = {name: paths for name, paths in defined.items()
             if len(paths) > 1 and name not in SAME_NAME_DIFFERENT_THINGS}
    assert not twins, f"constants defined in more than one module (import one of them): {twins}"


def test_constant_rule_reads_top_level_assignments_only():
    source = "A = 1\nB, C = 2, 3\nD: int = 4\n_E = 5\nlower = 6\nclass K:\n    F = 'F'\n"
    assert module_constants(source) == {"A", "B", "C", "D"}
