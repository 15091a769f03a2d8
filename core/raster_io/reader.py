"""The raster reader: what a raster is (RasterInfo), windows of bands as float with NaN for
nodata, subsampled bands and band metadata, and why a file is not a readable raster."""

import math
import os
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal

from ..errors import SoilMetalError
from .crs import same_crs
@dataclass


class RasterInfo:
    """What a raster is: size, grid, CRS, per-band nodata and factor names."""

    path: str
    width: int
    height: int
    band_count: int
    geotransform: tuple
    crs_wkt: str
    nodata: list = field(default_factory=list)
    band_names: list = field(default_factory=list)

    @property
    def pixel_width(self):
        """Pixel width in CRS units."""
        return abs(self.geotransform[1])

    @property
    def pixel_height(self):
        """Pixel height in CRS units."""
        return abs(self.geotransform[5])

    @property
    def extent(self):
        """(xmin, ymin, xmax, ymax) in CRS units (north-up rasters)."""
        gt = self.geotransform
        xs = (gt[0], gt[0] + gt[1] * self.width + gt[2] * self.height)
        ys = (gt[3], gt[3] + gt[4] * self.width + gt[5] * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    def same_grid(self, other, tolerance=1e-6):
        """True when `other` has this raster's CRS, size and geotransform."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        scale = max(self.pixel_width, self.pixel_height)
        if any(abs(a - b) > tolerance * max(scale, 1e-12) for a, b in
               zip(self.geotransform, other.geotransform)):
            return False
        return same_crs(self.crs_wkt, other.crs_wkt)


def open_raster(path):
    """Open a raster read-only, or raise a SoilMetalError that names the path."""
    try:
        dataset = gdal.Open(str(path), gdal.GA_ReadOnly)
    except RuntimeError as error:
        raise SoilMetalError(f"Cannot open raster '{path}': {error}. Check that the file exists "
                             "and is a raster GDAL can read (GeoTIFF, ...).") from None
    if dataset is None:
        raise SoilMetalError(f"Cannot open raster '{path}'.")
    return dataset


def layer_stem(path):
    """A raster file's name without folder and extension: the default layer name."""
    base = os.path.basename(str(path).split("|")[0])
    return os.path.splitext(base)[0]


def raster_info(path, layer_name=None):
    """Describe a raster; bands are named by their description, else '<layer name>_b<N>'."""
    dataset = open_raster(path)
    stem = layer_name or layer_stem(path)
    names, nodata = [], []
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        description = (band.GetDescription() or "").strip()
        names.append(description if description else f"{stem}_b{index}")
        nodata.append(band.GetNoDataValue())
    return RasterInfo(path=str(path), width=dataset.RasterXSize, height=dataset.RasterYSize,
                      band_count=dataset.RasterCount, geotransform=tuple(dataset.GetGeoTransform()),
                      crs_wkt=dataset.GetProjection() or "", nodata=nodata, band_names=names)


class RasterReader:
    """An open raster from which windows of bands are read as float64 with NaN for nodata."""

    def __init__(self, path):
        self.path = str(path)
        self._dataset = open_raster(path)
        self.info = raster_info(path)

    def read(self, bands, window=None, dtype=np.float64):
        """Bands (1-based list) in a Window (None = all) -> dtype (nbands, ysize, xsize), NaN = nodata."""
        if window is None:
            xoff, yoff, xsize, ysize = 0, 0, self.info.width, self.info.height
        else:
            xoff, yoff, xsize, ysize = window.xoff, window.yoff, window.xsize, window.ysize
        out = np.empty((len(bands), ysize, xsize), dtype=dtype)
        for slot, band_number in enumerate(bands):
            if not 1 <= band_number <= self.info.band_count:
                raise SoilMetalError(
                    f"Raster '{self.path}' has {self.info.band_count} band(s); band {band_number} "
                    "was asked for. Choose a band that exists.")
            band = self._dataset.GetRasterBand(band_number)
            raw = band.ReadAsArray(xoff, yoff, xsize, ysize)
            values = out[slot]
            values[...] = raw
            nodata = self.info.nodata[band_number - 1]
            if nodata is not None:
                values[raw == np.asarray(nodata).astype(raw.dtype)] = np.nan
            if raw.dtype.kind == "f":
                infinite = np.isinf(values)
                if infinite.any():
                    values[infinite] = np.nan
        return out

    def close(self):
        """Release the dataset."""
        self._dataset = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_band_sample(path, band=1, max_pixels=1_000_000):
    """Band `band` of a raster as float64 with NaN = nodata, whole when it has at most
    `max_pixels` pixels, else a regular (nearest-neighbour) subsample of about that many."""
    dataset = open_raster(path)
    info = raster_info(path)
    if not 1 <= band <= info.band_count:
        raise SoilMetalError(f"Raster '{path}' has {info.band_count} band(s); band {band} was "
                             "asked for. Choose a band that exists.")
    step = max(1.0, math.sqrt(info.width * info.height / float(max_pixels)))
    xsize, ysize = max(1, int(info.width / step)), max(1, int(info.height / step))
    gdal_band = dataset.GetRasterBand(band)
    raw = gdal_band.ReadAsArray(0, 0, info.width, info.height, buf_xsize=xsize, buf_ysize=ysize)
    values = raw.astype(np.float64)
    nodata = info.nodata[band - 1]
    if nodata is not None:
        values[raw == np.asarray(nodata).astype(raw.dtype)] = np.nan
    values[~np.isfinite(values)] = np.nan
    return values


def band_metadata_item(path, band, key):
    """One metadata item of a band (falling back to the dataset's), None when absent."""
    dataset = open_raster(path)
    raster_band = dataset.GetRasterBand(int(band)) if 1 <= int(band) <= dataset.RasterCount else None
    value = raster_band.GetMetadataItem(key) if raster_band is not None else None
    return value if value is not None else dataset.GetMetadataItem(key)


def unreadable_raster(path):
    """Why a file named as a raster input cannot be read (a message naming the fix), or None."""
    path = str(path).split("|")[0]
    if not os.path.exists(path):
        return f"'{path}' does not exist. Check the path."
    if os.path.isdir(path):
        return None  # a folder can be a raster dataset (e.g. some formats); GDAL decides
    if os.path.getsize(path) == 0:
        return (f"'{path}' is empty (0 bytes): it is not a raster. It may be the leftover of an "
                "interrupted run; write it again, or choose the right file.")
    try:
        dataset = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError:
        dataset = None
    if dataset is None or dataset.RasterCount == 0:
        return (f"'{path}' is not a raster GDAL can read (no raster bands). Choose a GeoTIFF or "
                "another raster file.")
    return None
