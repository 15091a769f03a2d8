"""core/ stays pure: no QGIS or Qt anywhere, and GDAL (osgeo) only in the raster I/O module."""

import ast
import pathlib

import pytest

CORE = pathlib.Path(__file__).resolve().parents[2] / "core"
FORBIDDEN_EVERYWHERE = ("qgis", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip")
GDAL_MODULE = "raster_io.py"


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


CORE_FILES = sorted(CORE.glob("*.py"))


def test_core_has_modules():
    assert len(CORE_FILES) >= 5
    assert (CORE / GDAL_MODULE).exists()


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_module_imports_no_qgis_or_qt(path):
    roots = imported_roots(path.read_text(encoding="utf-8"))
    assert not roots & set(FORBIDDEN_EVERYWHERE), f"{path.name} imports {roots & set(FORBIDDEN_EVERYWHERE)}"


@pytest.mark.parametrize("path", [p for p in CORE_FILES if p.name != GDAL_MODULE], ids=lambda p: p.name)
def test_only_raster_io_imports_gdal(path):
    assert "osgeo" not in imported_roots(path.read_text(encoding="utf-8")), \
        f"{path.name} imports osgeo; raster access belongs in core/{GDAL_MODULE}"


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
    assert imported_roots("from .raster_io import read_window\nfrom . import errors") == set()
