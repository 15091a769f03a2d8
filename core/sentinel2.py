"""Sentinel-2 Level-2A products read through MTD_MSIL2A.xml (or the .SAFE folder holding it).

The factor names stay those of Landsat 8 OLI, by wavelength: B2 = B02 blue, B3 = B03 green,
B4 = B04 red, B5 = near infrared (B08 on the 10 m grid, B8A on the 20 and 60 m grids, where L2A
has no B08), B6 = B11 SWIR 1.6 um, B7 = B12 SWIR 2.2 um. The output grid is the finest
resolution folder (R10m, R20m, R60m) holding a file of every band needed, so no band is
resampled. Surface reflectance = (DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE as the
metadata gives them (processing baseline 04.00 and later: offset -1000); DN 0 (NODATA) and
65535 (SATURATED) become nodata. The scene classification (SCL) of the same grid is the QA band
(the 20 m SCL, nearest neighbour, on the 10 m grid).
"""

import glob
import os
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

import numpy as np

from . import raster_io
from .errors import SoilMetalError

# Landsat-style key -> Sentinel-2 band, per resolution (metres).
BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir1": "B11",
         "swir2": "B12"}
NIR_COARSE = "B8A"
RESOLUTIONS = (10, 20, 60)
PHYSICAL_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
_SPECIAL = {0.0, 65535.0}


def _local(tag):
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def metadata_path(path):
    """The MTD_MSIL*.xml of a path (the file itself or a .SAFE folder), or None."""
    path = str(path).strip()
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "MTD_MSIL*.xml")))
        return found[0] if found else None
    name = os.path.basename(path).upper()
    if os.path.isfile(path) and name.startswith("MTD_MSIL") and name.endswith(".XML"):
        return path
    return None


def is_sentinel2_product(path):
    """True when `path` is a Sentinel-2 product metadata file or SAFE folder."""
    return metadata_path(path) is not None


def band_name(key, resolution):
    """The Sentinel-2 band read for a Landsat-style key on a grid of `resolution` metres."""
    return NIR_COARSE if key == "nir" and resolution != 10 else BANDS[key]


@dataclass
class Sentinel2Product:
    """What MTD_MSIL2A.xml says: level, scaling, band files, spacecraft; sun angles from MTD_TL."""

    path: str
    folder: str
    product_type: str
    baseline: str
    spacecraft: str
    quantification: float
    offsets: dict = field(default_factory=dict)        # physical band ('B4', 'B8A') -> offset
    files: dict = field(default_factory=dict)          # (band 'B04', resolution) -> path
    sun_zenith: float = float("nan")
    sun_azimuth: float = float("nan")

    @property
    def sun_elevation(self):
        """Mean sun elevation (degrees) over the tile."""
        return 90.0 - self.sun_zenith

    @property
    def sensor(self):
        """The sensor recorded in the factor rasters."""
        return f"{self.spacecraft} MSI"

    def offset(self, band):
        """BOA_ADD_OFFSET of a band such as 'B04' or 'B8A' (0 before baseline 04.00)."""
        physical = band if band == "B8A" else f"B{int(band[1:])}"
        return self.offsets.get(physical, 0.0)

    def reflectance(self, band, dn):
        """DN (any shape) -> float64 surface reflectance, NaN where DN is 0 or 65535."""
        dn = np.asarray(dn, dtype=np.float64)
        result = (dn + self.offset(band)) / self.quantification
        result[np.isin(dn, list(_SPECIAL))] = np.nan
        return result

    def grid_resolution(self, keys):
        """The finest resolution with a file of every band the keys need; error naming the files."""
        for resolution in RESOLUTIONS:
            if all((band_name(key, resolution), resolution) in self.files for key in keys):
                return resolution
        have = ", ".join(f"{band} {res} m" for band, res in sorted(self.files)) or "none"
        needed = ", ".join(f"{BANDS[key]}/{NIR_COARSE}" if key == "nir" else BANDS[key] for key in keys)
        raise SoilMetalError(
            f"The Sentinel-2 product '{self.folder}' has no resolution at which every needed band "
            f"({needed}) has its image file (found: {have}). Keep the product's IMG_DATA folders "
            "as delivered, or choose only FACTORS whose bands are there (e.g. B4, B5, NDVI).")


def _text(root, name):
    """Text of the first element with local name `name`, or None."""
    for element in root.iter():
        if _local(element.tag) == name:
            return (element.text or "").strip()
    return None


def read_sentinel2_product(path):
    """Parse a Sentinel-2 L2A MTD_MSIL2A.xml (or its SAFE folder); refuse L1C with the fix."""
    xml_path = metadata_path(path)
    if xml_path is None:
        raise SoilMetalError(f"'{path}' is not a Sentinel-2 product (no MTD_MSIL2A.xml). Give the "
                             "product's MTD_MSIL2A.xml or its .SAFE folder.")
    xml_path = os.path.abspath(xml_path)
    try:
        root = ElementTree.parse(xml_path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise SoilMetalError(f"Cannot read the Sentinel-2 metadata '{xml_path}': {error}. Use the "
                             "product's original MTD_MSIL2A.xml.") from None
    product_type = _text(root, "PRODUCT_TYPE") or ""
    if "1C" in product_type or "Level-1C" in _local(root.tag):
        raise SoilMetalError(
            f"'{xml_path}' is a Sentinel-2 Level-1C product ({product_type}): top-of-atmosphere "
            "reflectance without a scene classification, so neither comparable with surface "
            "reflectance factors nor maskable. Download the Level-2A product (MTD_MSIL2A.xml) of "
            "the same scene, or process this one with Sen2Cor first.")
    if "2A" not in product_type:
        raise SoilMetalError(f"'{xml_path}' has product type '{product_type}', not a Sentinel-2 "
                             "Level-2A product (S2MSI2A). Give an L2A product's MTD_MSIL2A.xml.")
    quantification = _text(root, "BOA_QUANTIFICATION_VALUE")
    try:
        quantification = float(quantification)
    except (TypeError, ValueError):
        raise SoilMetalError(f"'{xml_path}' has no valid BOA_QUANTIFICATION_VALUE. Use the "
                             "product's original MTD_MSIL2A.xml.") from None
    band_ids = {}
    for element in root.iter():
        if _local(element.tag) == "Spectral_Information":
            band_ids[element.get("bandId")] = element.get("physicalBand")
    offsets = {}
    for element in root.iter():
        if _local(element.tag) == "BOA_ADD_OFFSET":
            physical = band_ids.get(element.get("band_id"), PHYSICAL_BANDS[int(element.get("band_id"))])
            offsets[physical] = float(element.text)
    folder = os.path.dirname(xml_path)
    files = {}
    for element in root.iter():
        if _local(element.tag) != "IMAGE_FILE":
            continue
        relative = (element.text or "").strip()
        stem = os.path.basename(relative)
        parts = stem.split("_")
        if len(parts) < 2 or not parts[-1].endswith("m"):
            continue
        for extension in (".jp2", ".tif"):
            candidate = os.path.join(folder, relative + extension)
            if os.path.isfile(candidate):
                files[(parts[-2], int(parts[-1][:-1]))] = candidate
                break
    product = Sentinel2Product(
        path=xml_path, folder=folder, product_type=product_type,
        baseline=_text(root, "PROCESSING_BASELINE") or "", quantification=quantification,
        spacecraft=_text(root, "SPACECRAFT_NAME") or "Sentinel-2", offsets=offsets, files=files)
    for tile in sorted(glob.glob(os.path.join(folder, "GRANULE", "*", "MTD_TL.xml"))):
        tile_root = ElementTree.parse(tile).getroot()
        for element in tile_root.iter():
            if _local(element.tag) == "Mean_Sun_Angle":
                product.sun_zenith = float(_text(element, "ZENITH_ANGLE"))
                product.sun_azimuth = float(_text(element, "AZIMUTH_ANGLE"))
        break
    return product


class Sentinel2Source:
    """Reads the needed bands of an L2A product on one grid, with the SCL as QA band."""

    qa_layout = "sentinel2_scl"

    def __init__(self, path, keys, use_qa=True):
        self.product = read_sentinel2_product(path)
        self.keys = keys
        self.sensor = self.product.sensor
        self.resolution = self.product.grid_resolution(keys)
        self.bands = {key: band_name(key, self.resolution) for key in keys}
        paths = {key: self.product.files[(band, self.resolution)] for key, band in self.bands.items()}
        self.info = raster_io.raster_info(paths[keys[0]])
        self._readers = {key: raster_io.RasterReader(p) for key, p in paths.items()}
        self._qa = None
        self._scl_folder = None
        if use_qa:
            scl = self.product.files.get(("SCL", self.resolution))
            if scl is None and ("SCL", 20) in self.product.files:
                self._scl_folder = tempfile.mkdtemp(prefix="soilmetal_scl_")
                scl = os.path.join(self._scl_folder, "scl_10m.tif")
                raster_io.warp_to_grid(self.product.files[("SCL", 20)], scl, self.info,
                                       resampling="nearest")
            if scl is not None:
                self._qa = raster_io.RasterReader(scl)

    def describe(self):
        """A one-line description for the log."""
        p = self.product
        return (f"Sentinel-2 L2A product {os.path.basename(p.folder)} ({p.sensor}, processing "
                f"baseline {p.baseline}), {self.resolution} m grid: "
                + ", ".join(f"{key} = {band}" for key, band in self.bands.items())
                + f"; reflectance = (DN + offset) / {p.quantification:g}"
                + f" (offset {p.offset(self.bands[self.keys[0]]):g}).")

    @property
    def has_qa(self):
        """True when the SCL is read for masking."""
        return self._qa is not None

    def read_raw(self, window):
        """{key: raw DN float64 block}."""
        return {key: self._readers[key].read([1], window)[0] for key in self.keys}

    def read_qa(self, window):
        """The SCL block, or None when the product has no SCL."""
        return None if self._qa is None else self._qa.read([1], window)[0]

    def to_reflectance(self, raw):
        """DN blocks -> surface reflectance."""
        return {key: self.product.reflectance(self.bands[key], values) for key, values in raw.items()}

    def close(self):
        """Release the band files."""
        for reader in self._readers.values():
            reader.close()
        if self._qa is not None:
            self._qa.close()
        if self._scl_folder:
            shutil.rmtree(self._scl_folder, ignore_errors=True)
