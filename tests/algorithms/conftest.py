"""Algorithm tier: a QgsApplication with Processing and the soilmetal provider, once per session."""

import os
import sys
import tempfile

import pytest

from support import plugin_parent

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = tempfile.mkdtemp(prefix="soilmetal-profile-")
sys.path.insert(0, str(plugin_parent()))
sys.path.append("/usr/share/qgis/python/plugins")

from qgis.core import QgsApplication

QgsApplication.setPrefixPath("/usr", True)
_APP = QgsApplication([], False)
_APP.initQgis()

import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()

import soilmetal  # noqa: E402

_PLUGIN = soilmetal.classFactory(None)
_PLUGIN.initProcessing()


@pytest.fixture(scope="session")
def qgis_app():
    """The running QgsApplication."""
    return _APP


@pytest.fixture(scope="session")
def plugin():
    """The loaded plugin object."""
    return _PLUGIN


@pytest.fixture
def run_alg():
    """processing.run('soilmetal:<id>', params) with a fresh context and feedback."""
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    def _run(algorithm_id, params, feedback=None):
        context = QgsProcessingContext()
        return processing.run(f"soilmetal:{algorithm_id}", params, context=context,
                              feedback=feedback or QgsProcessingFeedback())
    return _run
