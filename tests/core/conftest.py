"""Core tier: the science must run with no QGIS and no Qt, so importing them fails here."""

import importlib.abc
import sys

BLOCKED = ("qgis", "PyQt5", "PyQt6", "sip")


class _BlockQgis(importlib.abc.MetaPathFinder):
    """Refuses to import QGIS or Qt, so a core module that needs them fails its tests."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"core tests run without QGIS: '{fullname}' may not be imported")
        return None


sys.meta_path.insert(0, _BlockQgis())
