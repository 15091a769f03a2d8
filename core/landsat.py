"""Landsat 8 and 9 `*_MTL.txt` metadata: band files and digital-number-to-reflectance coefficients.

Two products are understood:
- Level-1 (Collection 1 `L1_METADATA_FILE`, Collection 2 `LANDSAT_METADATA_FILE`): top-of-
  atmosphere reflectance = (REFLECTANCE_MULT_BAND_n * DN + REFLECTANCE_ADD_BAND_n) / sin(SUN_ELEVATION).
- Collection 2 Level-2: surface reflectance = MULT * DN + ADD with the coefficients of the
  LEVEL2_SURFACE_REFLECTANCE_PARAMETERS group (already corrected, so no sun term).
In both, DN 0 is fill (nodata). Landsat 9 (OLI-2) has the same bands and MTL layout as Landsat 8
(OLI); an MTL of another spacecraft (Landsat 4-7, other band numbers) is refused. The product's
quality band (Collection 2 QA_PIXEL, Collection 1 or pre-collection BQA) is found for masking.
LandsatSource reads a product's bands block by block (a core.band_sources source).
"""

import os
import re
from dataclasses import dataclass, field

import numpy as np

from . import raster_io
from .band_sources import BandSource
from .errors import SoilMetalError
from .science.indices import OLI_BAND_NUMBERS

_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")

# Groups holding the product's file names and Level-1 coefficients, newest format first.
_FILE_GROUPS = ("PRODUCT_CONTENTS", "PRODUCT_METADATA")
_L1_GROUPS = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
_L2_GROUP = "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"
_BAND_FILE_EXTENSIONS = (".tif", ".tiff")


def is_mtl_file(path):
    """True when `path` is a Landsat MTL text file (by name, or a .txt starting with GROUP =)."""
    path = str(path)
    lower = path.lower()
    if not lower.endswith(".txt") or not os.path.isfile(path):
        return False
    if lower.endswith("_mtl.txt"):
        return True
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        head = handle.read(200)
    return head.lstrip().upper().startswith("GROUP") and "METADATA_FILE" in head.upper()


def parse_mtl(path):
    """Read an MTL file -> {group name: {key: value string}} (innermost group of each key)."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise SoilMetalError(f"Cannot read the Landsat metadata file '{path}': {error}. Check "
                             "the path.") from None
    groups, stack = {}, []
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.group(1).upper(), match.group(2)
        if key == "GROUP":
            stack.append(value)
            groups.setdefault(value, {})
        elif key == "END_GROUP":
            if stack:
                stack.pop()
        elif stack:
            groups[stack[-1]][key] = value.strip('"')
    if not groups or not any(name.endswith("METADATA_FILE") for name in groups):
        raise SoilMetalError(f"'{path}' is not a Landsat MTL metadata file (no "
                             "L1_METADATA_FILE / LANDSAT_METADATA_FILE group). Choose the "
                             "product's *_MTL.txt file or a multi-band raster.")
    return groups


def _find(groups, key, preferred=()):
    """A key's value from the first preferred group holding it, else from any group; or None."""
    for name in preferred:
        if key in groups.get(name, {}):
            return groups[name][key]
    for values in groups.values():
        if key in values:
            return values[key]
    return None


def _number(text, key, path):
    """Parse a float value of the MTL, or raise a SoilMetalError naming the key."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SoilMetalError(f"The Landsat metadata file '{path}' has no valid {key} "
                             f"(found {text!r}). Use the product's original, unedited MTL file.") from None


@dataclass
class LandsatProduct:
    """A Landsat product described by its MTL: where the band files are and how DN become reflectance."""

    mtl_path: str
    folder: str
    level: str                    # "L1" (top-of-atmosphere) or "L2" (surface reflectance)
    scene_id: str
    sun_elevation: float          # degrees; used only for Level-1
    multiplier: dict = field(default_factory=dict)     # band number -> REFLECTANCE_MULT
    addend: dict = field(default_factory=dict)         # band number -> REFLECTANCE_ADD
    file_names: dict = field(default_factory=dict)     # band number -> FILE_NAME_BAND_n
    spacecraft: str = "LANDSAT_8"
    sensor_id: str = "OLI_TIRS"
    collection: int = 0           # 0 = pre-collection (no COLLECTION_NUMBER), else 1 or 2
    sun_azimuth: float = float("nan")   # degrees clockwise from north
    qa_file_name: str = ""

    @property
    def sensor(self):
        """The sensor recorded in the factor rasters, e.g. 'Landsat 9 OLI-2'."""
        number = self.spacecraft.rsplit("_", 1)[-1]
        return f"Landsat {number} {'OLI-2' if number == '9' else 'OLI'}"

    @property
    def qa_layout(self):
        """The bit layout of the product's quality band (see core.qa_masks)."""
        return {2: "landsat_c2", 1: "landsat_c1"}.get(self.collection, "landsat_pre")

    def qa_path(self):
        """The product's quality band file (QA_PIXEL or BQA) beside the MTL, or None."""
        if self.qa_file_name:
            candidate = os.path.join(self.folder, self.qa_file_name)
            if os.path.isfile(candidate):
                return candidate
        suffixes = ("_qa_pixel",) if self.collection == 2 else ("_bqa",)
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return None
        for name in names:
            stem, extension = os.path.splitext(name.lower())
            if extension in _BAND_FILE_EXTENSIONS and stem.endswith(suffixes):
                return os.path.join(self.folder, name)
        return None

    def describe(self):
        """A one-line human description for log messages."""
        kind = (f"{self.sensor}, Level-1, converted to top-of-atmosphere reflectance with sun elevation "
                f"{self.sun_elevation:.2f} deg" if self.level == "L1"
                else f"{self.sensor}, Collection 2 Level-2, surface reflectance")
        return f"{self.scene_id or os.path.basename(self.mtl_path)} ({kind})"

    def coefficients(self, band_number):
        """(gain, offset) with reflectance = gain * DN + offset for one band."""
        if band_number not in self.multiplier or band_number not in self.addend:
            raise SoilMetalError(
                f"The Landsat metadata file '{self.mtl_path}' has no REFLECTANCE_MULT_BAND_"
                f"{band_number} / REFLECTANCE_ADD_BAND_{band_number}. Use the product's "
                "original MTL file, or stack the bands and give the raster with a SCALE instead.")
        gain, offset = self.multiplier[band_number], self.addend[band_number]
        if self.level == "L1":
            sine = np.sin(np.radians(self.sun_elevation))
            gain, offset = gain / sine, offset / sine
        return gain, offset

    def reflectance(self, band_number, dn):
        """Digital numbers (any shape, NaN = nodata) -> float64 reflectance, NaN where DN is 0 (fill)."""
        gain, offset = self.coefficients(band_number)
        dn = np.asarray(dn, dtype=np.float64)
        result = dn * gain
        result += offset
        result[dn == 0] = np.nan
        return result

    def band_path(self, band_number):
        """The file of one band: the MTL's FILE_NAME_BAND_n in its folder, else *_B<n>.tif there."""
        name = self.file_names.get(band_number)
        if name:
            candidate = os.path.join(self.folder, name)
            if os.path.isfile(candidate):
                return candidate
        found = _find_band_file(self.folder, band_number, self.level)
        if found:
            return found
        expected = f"'{name}'" if name else f"a file ending in _B{band_number}.TIF"
        raise SoilMetalError(
            f"Landsat band {band_number} file {expected} was not found in the folder "
            f"'{self.folder}' (nor any file ending in _B{band_number}.TIF or _SR_B{band_number}.TIF). "
            "Keep the band files of the product next to its MTL file.")


def _find_band_file(folder, band_number, level):
    """A file in `folder` ending in _B<n>.tif (any case); for Level-2 prefer _SR_B<n>."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    matches = []
    for name in names:
        lower = name.lower()
        stem, extension = os.path.splitext(lower)
        if extension in _BAND_FILE_EXTENSIONS and stem.endswith(f"_b{band_number}"):
            matches.append(name)
    if not matches:
        return None
    surface = [name for name in matches if name.lower().endswith(
        tuple(f"_sr_b{band_number}{ext}" for ext in _BAND_FILE_EXTENSIONS))]
    others = [name for name in matches if name not in surface]
    ordered = (surface + others) if level == "L2" else (others + surface)
    return os.path.join(folder, ordered[0])


_SPACECRAFTS = ("LANDSAT_8", "LANDSAT_9")


def read_landsat_product(mtl_path):
    """Parse a Landsat 8/9 MTL file (Collection 1 or 2, Level-1 or Level-2) into a LandsatProduct."""
    mtl_path = os.path.abspath(str(mtl_path))
    groups = parse_mtl(mtl_path)
    spacecraft = (_find(groups, "SPACECRAFT_ID") or "LANDSAT_8").upper()
    sensor_id = (_find(groups, "SENSOR_ID") or "OLI_TIRS").upper()
    if spacecraft not in _SPACECRAFTS or "OLI" not in sensor_id:
        raise SoilMetalError(
            f"The metadata file '{mtl_path}' describes {spacecraft} {sensor_id}, not Landsat 8 or 9 "
            "OLI: its band numbers mean other wavelengths, so B2-B7 would be the wrong bands. Give "
            "a Landsat 8/9 product, or stack the blue, green, red, NIR, SWIR1 and SWIR2 bands into "
            "one raster and give it with BAND_* and SCALE.")
    collection_text = _find(groups, "COLLECTION_NUMBER")
    try:
        collection = int(float(collection_text)) if collection_text is not None else 0
    except ValueError:
        collection = 0
    band_numbers = range(1, 12)
    level2 = groups.get(_L2_GROUP, {})
    if any(f"REFLECTANCE_MULT_BAND_{n}" in level2 for n in band_numbers):
        level, source = "L2", level2
    else:
        level = "L1"
        source = next((groups[name] for name in _L1_GROUPS if name in groups), None)
        if source is None or not any(f"REFLECTANCE_MULT_BAND_{n}" in source for n in band_numbers):
            raise SoilMetalError(
                f"The Landsat metadata file '{mtl_path}' has no REFLECTANCE_MULT_BAND_n "
                "coefficients (neither Level-1 RADIOMETRIC_RESCALING nor Level-2 "
                f"{_L2_GROUP}). Use the product's original MTL file.")
    multiplier, addend = {}, {}
    for n in band_numbers:
        if f"REFLECTANCE_MULT_BAND_{n}" in source and f"REFLECTANCE_ADD_BAND_{n}" in source:
            multiplier[n] = _number(source[f"REFLECTANCE_MULT_BAND_{n}"],
                                    f"REFLECTANCE_MULT_BAND_{n}", mtl_path)
            addend[n] = _number(source[f"REFLECTANCE_ADD_BAND_{n}"],
                                f"REFLECTANCE_ADD_BAND_{n}", mtl_path)
    sun_elevation = float("nan")
    sun_text = _find(groups, "SUN_ELEVATION", ("IMAGE_ATTRIBUTES",))
    if level == "L2" and sun_text is not None:
        sun_elevation = _number(sun_text, "SUN_ELEVATION", mtl_path)
    if level == "L1":
        sun_elevation = _number(_find(groups, "SUN_ELEVATION", ("IMAGE_ATTRIBUTES",)),
                                "SUN_ELEVATION", mtl_path)
        if not 0.0 < sun_elevation <= 90.0:
            raise SoilMetalError(
                f"The sun elevation in '{mtl_path}' is {sun_elevation} degrees: the sun was below "
                "the horizon, so top-of-atmosphere reflectance cannot be computed. Use a daytime scene.")
    file_names = {}
    for n in band_numbers:
        name = _find(groups, f"FILE_NAME_BAND_{n}", _FILE_GROUPS)
        if name:
            file_names[n] = os.path.basename(name)
    azimuth_text = _find(groups, "SUN_AZIMUTH", ("IMAGE_ATTRIBUTES",))
    sun_azimuth = _number(azimuth_text, "SUN_AZIMUTH", mtl_path) if azimuth_text else float("nan")
    qa_name = (_find(groups, "FILE_NAME_QUALITY_L1_PIXEL", _FILE_GROUPS)
               or _find(groups, "FILE_NAME_BAND_QUALITY", _FILE_GROUPS) or "")
    scene_id = (_find(groups, "LANDSAT_PRODUCT_ID") or _find(groups, "LANDSAT_SCENE_ID") or "")
    return LandsatProduct(mtl_path=mtl_path, folder=os.path.dirname(mtl_path), level=level,
                          scene_id=scene_id, sun_elevation=sun_elevation, multiplier=multiplier,
                          addend=addend, file_names=file_names, spacecraft=spacecraft,
                          sensor_id=sensor_id, collection=collection, sun_azimuth=sun_azimuth,
                          qa_file_name=os.path.basename(qa_name))


class LandsatSource(BandSource):
    """Reads the needed OLI bands from a Landsat product's separate files via its MTL."""

    def __init__(self, mtl_path, keys, use_qa=True):
        super().__init__()
        self.product = read_landsat_product(mtl_path)
        self.keys = keys
        self.sensor = self.product.sensor
        self.qa_layout = self.product.qa_layout
        paths = {key: self.product.band_path(OLI_BAND_NUMBERS[key]) for key in keys}
        infos = {key: raster_io.raster_info(path) for key, path in paths.items()}
        self.info = infos[keys[0]]
        for info in infos.values():
            if (info.width, info.height) != (self.info.width, self.info.height):
                raise SoilMetalError(
                    f"Landsat band files differ in size: '{info.path}' is {info.width} x "
                    f"{info.height}, '{self.info.path}' is {self.info.width} x {self.info.height}. "
                    "Use the band files of one product, as delivered, next to their MTL file.")
        self.qa_path = self.product.qa_path() if use_qa else None
        if self.qa_path:
            self._open_qa(self.qa_path)
        self._readers = {key: raster_io.RasterReader(path) for key, path in paths.items()}

    def read_raw(self, window):
        """{key: raw DN float64 block} for the needed bands."""
        return {key: self._readers[key].read([1], window)[0] for key in self.keys}

    def to_reflectance(self, raw):
        """DN blocks -> reflectance with the MTL's coefficients."""
        return {key: self.product.reflectance(OLI_BAND_NUMBERS[key], values)
                for key, values in raw.items()}
