"""Sentinel-2 Level-2A products read through MTD_MSIL2A.xml (or the .SAFE folder holding it).

The factor names stay those of Landsat 8 OLI, by wavelength: B2 = B02 blue, B3 = B03 green,
B4 = B04 red, B5 = near infrared (B08 on the 10 m grid, B8A on the 20 and 60 m grids, where L2A
has no B08), B6 = B11 SWIR 1.6 um, B7 = B12 SWIR 2.2 um. The output grid is the finest
resolution folder (R10m, R20m, R60m) holding a file of every band needed, so no band is
resampled; or a chosen 10 or 20 m grid (spectralindices S2_RESOLUTION), onto which a band
without a file of that resolution is resampled from its nearest resolution: nearest neighbour
from a coarser file (each 20 m pixel becomes 2 x 2 pixels of 10 m, unchanged), the average of
the valid pixels from a finer one. Surface reflectance = (DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE as the
metadata gives them (processing baseline 04.00 and later: offset -1000); DN 0 (NODATA) and
65535 (SATURATED) become nodata. The scene classification (SCL) of the same grid is the QA band
(the 20 m SCL, nearest neighbour, on the 10 m grid).
"""

import dataclasses
import glob
import os
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

import numpy as np

from . import raster_io
from .band_sources import BandSource
from .errors import SoilMetalError

# Landsat-style key -> Sentinel-2 band, per resolution (metres).
BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir1": "B11",
         "swir2": "B12"}
NIR_COARSE = "B8A"
RESOLUTIONS = (10, 20, 60)
# spectralindices S2_RESOLUTION: option index -> grid in metres (None: the finest resolution
# holding every band, nothing resampled).
GRID_CHOICES = (None, 10, 20)
GRID_LABELS = ("Finest resolution holding every band (no resampling)", "10 m", "20 m")
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

    def band_file(self, key, resolution):
        """(band, path, file resolution) read for `key` on a `resolution` m grid: that
        resolution's file when there, else the closest resolution's (the finer on a tie)."""
        bands = [band_name(key, resolution)]
        if key == "nir":
            bands.append(BANDS["nir"] if bands[0] == NIR_COARSE else NIR_COARSE)
        for band in bands:
            found = sorted((abs(res - resolution), res) for name, res in self.files if name == band)
            if found:
                return band, self.files[(band, found[0][1])], found[0][1]
        raise SoilMetalError(
            f"The Sentinel-2 product '{self.folder}' has no image file of {' or '.join(bands)}, "
            f"needed for {key}. Keep the product's IMG_DATA folders as delivered, or choose only "
            "FACTORS whose bands are there (e.g. B4, B5, NDVI).")

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


class Sentinel2Source(BandSource):
    """Reads the needed bands of an L2A product on one grid, with the SCL as QA band."""

    qa_layout = "sentinel2_scl"

    def __init__(self, path, keys, use_qa=True, resolution=None):
        super().__init__()
        self.product = read_sentinel2_product(path)
        self.keys = keys
        self.sensor = self.product.sensor
        self._folder = None
        self.resampled = {}
        if resolution is None:
            self.resolution = self.product.grid_resolution(keys)
            files = {key: (band_name(key, self.resolution), self.product.files[
                (band_name(key, self.resolution), self.resolution)], self.resolution) for key in keys}
            self.info = raster_io.raster_info(files[keys[0]][1])
        else:
            self.resolution = int(resolution)
            files = {key: self.product.band_file(key, self.resolution) for key in keys}
            self.info = self._grid(files[keys[0]][1], files[keys[0]][2])
        self.bands = {key: band for key, (band, _, _) in files.items()}
        self._readers = {key: raster_io.RasterReader(self._on_grid(p, res, f"{key}_{band}"))
                         for key, (band, p, res) in files.items()}
        if use_qa:
            scl = [(abs(res - self.resolution), res) for name, res in self.product.files if name == "SCL"]
            if scl:
                res = min(scl)[1]
                self._qa = raster_io.RasterReader(self._on_grid(
                    self.product.files[("SCL", res)], res, "SCL", qa=True))

    def _grid(self, path, file_resolution):
        """The grid of `self.resolution` m covering the tile of a band file."""
        info = raster_io.raster_info(path)
        factor = file_resolution / self.resolution
        transform = list(info.geotransform)
        transform[1], transform[5] = transform[1] / factor, transform[5] / factor
        return dataclasses.replace(info, width=int(round(info.width * factor)),
                                   height=int(round(info.height * factor)),
                                   geotransform=tuple(transform))

    def _on_grid(self, path, file_resolution, label, qa=False):
        """`path`, or a warped VRT of it on the output grid when its resolution differs."""
        if file_resolution == self.resolution:
            return path
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="soilmetal_s2_")
        finer = file_resolution < self.resolution
        target = os.path.join(self._folder, f"{label}_{self.resolution}m.vrt")
        raster_io.warp_to_grid(path, target, self.info,
                               resampling="average" if finer and not qa else "nearest",
                               src_nodata=0 if finer and not qa else None)
        if not qa:
            self.resampled[label.split("_", 1)[1]] = file_resolution
        return target

    def describe(self):
        """A one-line description for the log."""
        p = self.product
        return (f"Sentinel-2 L2A product {os.path.basename(p.folder)} ({p.sensor}, processing "
                f"baseline {p.baseline}), {self.resolution} m grid: "
                + ", ".join(f"{key} = {band}" for key, band in self.bands.items())
                + f"; reflectance = (DN + offset) / {p.quantification:g}"
                + f" (offset {p.offset(self.bands[self.keys[0]]):g})."
                + "".join(f" {band} resampled from {res} m." for band, res in self.resampled.items()))

    def read_raw(self, window):
        """{key: raw DN float64 block}; NaN outside a resampled band (its VRT's nodata)."""
        return {key: self._readers[key].read([1], window)[0] for key in self.keys}

    def to_reflectance(self, raw):
        """DN blocks -> surface reflectance."""
        return {key: self.product.reflectance(self.bands[key], values) for key, values in raw.items()}

    def close(self):
        """Release the band files and delete the resampled grids."""
        super().close()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
