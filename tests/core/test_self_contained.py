"""The repository carries what it needs: no code reads the data folder beside our own checkouts,
and every real data file under tests/data/real is the one its README.txt describes."""

import hashlib
import pathlib
import re
import subprocess

import pytest

from support import REAL_DATA, ROOT

# The folder that sits beside the developers' checkouts only, in the usual spellings: ../<it>,
# /work/<it>, parent / "<it>", join("..", "<it>"). This file, which spells them, is left out.
WORD = "sha" + "red"
OUTSIDE = re.compile("|".join([
    r"\.\./" + WORD + r"\b",
    r"/work/(?:wt/)?" + WORD + r"\b",
    r"parents?(?:\[\d\])?\s*/\s*[\"']" + WORD + r"[\"']",
    r"[\"']\.\.[\"']\s*,\s*[\"']" + WORD + r"[\"']",
]))
CODE_SUFFIXES = (".py", ".sh", ".ini", ".cfg", ".toml", ".mk")


def tracked_files():
    """Files git tracks in this checkout (or, outside git, every file but build output)."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                 check=True).stdout.decode().split("\0")
        return [ROOT / name for name in listing if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".build", "demo-output", "dist", "__pycache__"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def is_code(path):
    relative = path.relative_to(ROOT)
    return (path.suffix in CODE_SUFFIXES or path.name == "Makefile"
            or relative.parts[0] == ".ci")


def test_no_code_refers_to_the_folder_beside_the_checkout():
    offenders = []
    for path in filter(is_code, tracked_files()):
        if not path.is_file() or path.resolve() == pathlib.Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, ("copy what you need into tests/data/<folder>/ (with a README.txt) "
                           "and read it from there:\n" + "\n".join(offenders))


# Spelled with a placeholder so that this file itself never names the folder it guards against.
@pytest.mark.parametrize("line", ["x = ROOT.parent / 'WORD' / 'data'", "see ../WORD/data/real",
                                  "os.path.join('..', 'WORD')", "/work/WORD/INTERFACE.md"])
def test_the_pattern_catches_the_usual_spellings(line):
    assert OUTSIDE.search(line.replace("WORD", WORD))


def test_the_pattern_leaves_ordinary_words_alone():
    assert not OUTSIDE.search("helpers shared by the test tiers; shared_data = 1")


def listed_checksums(readme):
    """{file name: sha256} from the 'sha256  name' lines of a README.txt, indented or not."""
    found = {}
    for match in re.finditer(r"^\s*([0-9a-f]{64})\s+(\S+)\s*$", readme.read_text(encoding="utf-8"), re.M):
        found.setdefault(match.group(2), []).append(match.group(1))
    return found


DATASETS = sorted(p for p in REAL_DATA.iterdir() if p.is_dir())


def test_the_real_data_sets_are_there():
    assert {p.name for p in DATASETS} >= {"meuse", "dem", "landsat8_sr", "landsat8_l1"}


@pytest.mark.parametrize("folder", DATASETS, ids=lambda p: p.name)
def test_every_real_data_file_matches_its_readme(folder):
    readme = folder / "README.txt"
    assert readme.is_file(), f"{folder.name}/ needs a README.txt with source, licence and sha256"
    text = readme.read_text(encoding="utf-8")
    assert "Licence" in text or "licence" in text, f"{readme}: say the licence"
    listed = listed_checksums(readme)
    for path in sorted(folder.iterdir()):
        if path.name == "README.txt" or path.name.endswith(".aux.xml"):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in listed.get(path.name, []), f"{folder.name}/{path.name}: sha256 {digest} not in README.txt"


def test_the_meuse_samples_are_complete():
    """All 155 samples with coordinates and the metals helpers test kriging and the bench against."""
    import pandas as pd

    frame = pd.read_csv(REAL_DATA / "meuse" / "ucdavis_meuse.csv", na_values=["NA"])
    assert len(frame) == 155
    assert frame[["x", "y", "zinc", "copper", "lead", "cadmium"]].notna().all().all()
    assert frame["zinc"].min() == 113 and frame["zinc"].max() == 1839
