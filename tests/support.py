"""Helpers shared by the test tiers: the plugin's folder as QGIS sees it, and demo data."""

import os
import pathlib
import subprocess
import sys
import json

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build"
PLUGIN_PARENT = BUILD / "plugins"
# Real public data the tests read, carried by the repository (see its README.txt: source, licence, sha256).
REAL_DATA = ROOT / "tests" / "data" / "real"
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")


def plugin_parent():
    """A folder holding 'soilmetal' -> this checkout, as QGIS_PLUGINPATH needs (a clone may have any name)."""
    PLUGIN_PARENT.mkdir(parents=True, exist_ok=True)
    link = PLUGIN_PARENT / "soilmetal"
    if not link.exists():
        try:
            link.symlink_to(ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return PLUGIN_PARENT


def demo_data_dir():
    """The demo data folder, generated once per checkout when absent."""
    folder = ROOT / "demo" / "data"
    if not (folder / "demo_metadata.json").exists():
        subprocess.run([PYTHON, str(ROOT / "demo" / "generate_demo_data.py"), str(folder)], check=True)
    return folder


def qgis_process_env(profile_dir):
    """Environment for qgis_process: offscreen, a throwaway profile, our plugin on the path."""
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile_dir),
               QGIS_PLUGINPATH=str(plugin_parent()), PYTHONDONTWRITEBYTECODE="1")
    return env


def run_qgis_process(args, profile_dir, timeout=600):
    """Run qgis_process.bin with args; returns the CompletedProcess (text)."""
    return subprocess.run([QGIS_PROCESS] + list(args), env=qgis_process_env(profile_dir),
                          capture_output=True, text=True, timeout=timeout)


_HELP = {}


def qgis_process_help(algorithm, profile_dir):
    """`qgis_process help soilmetal:<algorithm>`, run once per algorithm and profile (2 s a call)."""
    key = (algorithm, str(profile_dir))
    if key not in _HELP:
        _HELP[key] = run_qgis_process(["help", f"soilmetal:{algorithm}"], profile_dir)
    return _HELP[key]


def run_algorithm_cli(algorithm, params, profile_dir, timeout=600):
    """`qgis_process --json run soilmetal:<algorithm> -- KEY=VALUE ...` -> (returncode, json or None, stderr).

    A list value is passed as the same key repeated, which is how qgis_process takes several layers.
    """
    args = ["--json", "run", f"soilmetal:{algorithm}", "--"]
    for key, value in params.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            args.append(f"{key}={item}")
    result = run_qgis_process(args, profile_dir, timeout)
    payload = None
    text = result.stdout.strip()
    if text:
        start = text.find("{")
        try:
            payload = json.loads(text[start:]) if start >= 0 else None
        except ValueError:
            payload = None
    return result.returncode, payload, result.stderr + result.stdout


__all__ = ["ROOT", "REAL_DATA", "plugin_parent", "demo_data_dir", "run_qgis_process",
           "run_algorithm_cli", "qgis_process_env", "qgis_process_help", "sys"]
