#!/usr/bin/env bash
# Installs what `make test`/`make demo` need on Debian 12, only when something is missing:
# QGIS 3.22 and its Python bindings, GDAL, NumPy, SciPy, pandas, matplotlib and pytest, all from
# Debian's packages and all for Debian's own /usr/bin/python3; and the linter ruff from PyPI into
# its own venv outside the repository ($RUFF_VENV), so it never ends up in the plugin zip.
set -euo pipefail
PYTHON=${PYTHON:-/usr/bin/python3}
QGIS_PROCESS=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
PACKAGES="qgis python3-qgis qgis-providers python3-gdal gdal-bin python3-numpy python3-scipy
          python3-pandas python3-matplotlib python3-pytest python3-venv"
RUFF_VENV=${RUFF_VENV:-/var/cache/soilmetal/ruff-venv}
RUFF_VERSION=0.17.6

install_ruff() {
  if "$RUFF_VENV/bin/ruff" --version 2>/dev/null | grep -qx "ruff $RUFF_VERSION"; then
    return 0
  fi
  echo "Installing ruff $RUFF_VERSION into $RUFF_VENV..."
  mkdir -p "$(dirname "$RUFF_VENV")"
  "$PYTHON" -m venv "$RUFF_VENV"
  "$RUFF_VENV/bin/pip" install -q "ruff==$RUFF_VERSION"
}

ready() {
  [ -x "$PYTHON" ] && [ -x "$QGIS_PROCESS" ] && command -v gdaldem >/dev/null 2>&1 &&
    QT_QPA_PLATFORM=offscreen "$PYTHON" -c \
      "import qgis.core, osgeo.gdal, numpy, scipy, pandas, matplotlib, pytest, ensurepip" >/dev/null 2>&1
}

if ready; then
  install_ruff
  exit 0
fi
echo "Installing QGIS and the Python packages from Debian (about 2 minutes, once)..."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Run as root or install sudo: apt-get install $PACKAGES" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
ready || { echo "QGIS or a Python package still cannot be imported by $PYTHON" >&2; exit 1; }
install_ruff
echo "Dependencies installed."
