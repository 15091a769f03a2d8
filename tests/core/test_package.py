"""make package: one soilmetal/ folder with the runtime files, nothing else."""

import subprocess
import sys
import zipfile

from support import ROOT


def test_package_zip_holds_runtime_files_only(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--output", str(tmp_path)],
                         check=True, capture_output=True, text=True).stdout.strip()
    names = zipfile.ZipFile(out).namelist()
    assert all(name.startswith("soilmetal/") for name in names)
    for required in ("metadata.txt", "__init__.py", "plugin.py", "provider.py", "icons/soilmetal.svg",
                     "algorithms/base.py", "styles/rasters.py", "core/raster_io/__init__.py",
                     "core/raster_io/reader.py", "help/predictcontent.json"):
        assert f"soilmetal/{required}" in names
    assert not [n for n in names if n.startswith(("soilmetal/tests/", "soilmetal/demo/", "soilmetal/bench/",
                                                  "soilmetal/.")) or n.endswith(".pyc")]
    metadata = zipfile.ZipFile(out).read("soilmetal/metadata.txt").decode()
    for key in ("name=Soil Heavy Metal Retrieval", "qgisMinimumVersion=3.22", "hasProcessingProvider=yes",
                "category=Analysis", "icon=icons/soilmetal.svg"):
        assert key in metadata
