"""Build the zip that QGIS's plugin manager installs (Plugins > Install from ZIP): one folder
`soilmetal/` holding the runtime files only (no tests, demo data, benchmarks or build files)."""

import argparse
import pathlib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUNTIME_FILES = ("metadata.txt", "__init__.py", "plugin.py", "provider.py", "LICENSE", "README.md")
RUNTIME_FOLDERS = {"algorithms": ("*.py",), "styles": ("*.py",), "core": ("*.py", "*/*.py"),
                   "help": ("*.json", "*.html"),
                   "icons": ("*.svg", "*.png"), "models": ("*.model3",)}


def runtime_files():
    """Paths (relative to the repository) that belong in the plugin zip."""
    files = [ROOT / name for name in RUNTIME_FILES if (ROOT / name).exists()]
    for folder, patterns in RUNTIME_FOLDERS.items():
        for pattern in patterns:
            files.extend(sorted((ROOT / folder).glob(pattern)))
    return sorted(set(files))


def version():
    """Plugin version from metadata.txt."""
    for line in (ROOT / "metadata.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("version="):
            return line.split("=", 1)[1].strip()
    raise SystemExit("metadata.txt has no version")


def main():
    """Write dist/soilmetal-<version>.zip and print its path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(ROOT / "dist"))
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"soilmetal-{version()}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in runtime_files():
            archive.write(path, f"soilmetal/{path.relative_to(ROOT).as_posix()}")
    print(target)


if __name__ == "__main__":
    main()
