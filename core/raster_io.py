"""Raster input/output through GDAL: the only module of core/ that imports osgeo."""

import math
import os
import threading
import uuid
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, osr

from . import outputs
from .errors import SoilMetalError

gdal.UseExceptions()
osr.UseExceptions()

NODATA = -9999.0
TILE = 256
# Band-interleaved tiles: each factor is compressed on its own (better ratio, and reading one
# factor of a 15-band raster decompresses only that factor's tiles, not all 15).
CREATION_OPTIONS = ["TILED=YES", f"BLOCKXSIZE={TILE}", f"BLOCKYSIZE={TILE}", "COMPRESS=DEFLATE",
                    "PREDICTOR=3", "ZLEVEL=6", "INTERLEAVE=BAND", "BIGTIFF=IF_SAFER",
                    "NUM_THREADS=ALL_CPUS"]


# GDAL's default block cache is 5 % of RAM (1.2 GB here): a block-by-block pass needs far less,
# and the cache is what would push a full-scene run past its memory budget. While any of our
# writers is open, the cache is held to this size; the user's setting comes back afterwards.
BLOCK_CACHE_BYTES = 256 * 1024 * 1024
_cache_lock = threading.Lock()
_cache_users = [0, None]  # open writers, the cache size to restore


def _hold_block_cache():
    """Limit GDAL's block cache while a writer is open (reference counted)."""
    with _cache_lock:
        if _cache_users[0] == 0:
            _cache_users[1] = gdal.GetCacheMax()
            gdal.SetCacheMax(min(_cache_users[1], BLOCK_CACHE_BYTES))
        _cache_users[0] += 1


def _release_block_cache():
    """Give the block cache back when the last writer closes."""
    with _cache_lock:
        _cache_users[0] -= 1
        if _cache_users[0] == 0:
            gdal.SetCacheMax(_cache_users[1])


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


def _open(path):
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
    dataset = _open(path)
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
        self._dataset = _open(path)
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


def read_window(path, bands, window=None):
    """Read bands (1-based) of a raster window as float64 (nbands, ysize, xsize) with NaN = nodata."""
    with RasterReader(path) as reader:
        return reader.read(bands, window)


def read_band_sample(path, band=1, max_pixels=1_000_000):
    """Band `band` of a raster as float64 with NaN = nodata, whole when it has at most
    `max_pixels` pixels, else a regular (nearest-neighbour) subsample of about that many."""
    dataset = _open(path)
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
    dataset = _open(path)
    raster_band = dataset.GetRasterBand(int(band)) if 1 <= int(band) <= dataset.RasterCount else None
    value = raster_band.GetMetadataItem(key) if raster_band is not None else None
    return value if value is not None else dataset.GetMetadataItem(key)


class RasterWriter:
    """Writes a tiled, DEFLATE-compressed Float32 GeoTIFF that appears under its name only when
    complete: an exception (error or cancel) inside the `with` block deletes the partial file."""

    def __init__(self, path, width, height, geotransform, crs_wkt, band_names, nodata=NODATA,
                 metadata=None):
        self.path = str(path)
        self.nodata = float(nodata)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as error:
                raise SoilMetalError(f"Cannot create the output folder '{folder}': {error}. "
                                     "Choose an output path in a folder you can write to.") from None
        if not os.access(folder, os.W_OK):
            raise SoilMetalError(f"Cannot write to '{folder}'. Choose an output path in a folder "
                                 "you can write to.")
        # Inside a run's output transaction the path already is a temporary name that the run
        # moves into place; on its own, the writer stages the file under the same naming.
        if outputs.is_temporary(self.path):
            self._temp_path = self.path
        else:
            outputs.clean_stale(folder)
            self._temp_path = outputs.temporary_name(self.path)
        driver = gdal.GetDriverByName("GTiff")
        try:
            self._dataset = driver.Create(self._temp_path, int(width), int(height), len(band_names),
                                          gdal.GDT_Float32, CREATION_OPTIONS)
        except RuntimeError as error:
            raise SoilMetalError(f"Cannot create '{self.path}': {error}. Choose another output path.") from None
        _hold_block_cache()
        self._dataset.SetGeoTransform(tuple(geotransform))
        if crs_wkt:
            self._dataset.SetProjection(crs_wkt)
        for index, name in enumerate(band_names, start=1):
            band = self._dataset.GetRasterBand(index)
            band.SetDescription(str(name))
            band.SetNoDataValue(self.nodata)
        if metadata:
            self._dataset.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        self.band_count = len(band_names)

    def write(self, band_index0, window, array):
        """Write a 2-D block (NaN = nodata) to band `band_index0` (0-based) at the window."""
        block = np.asarray(array, dtype=np.float32)
        block = np.where(np.isfinite(block), block, np.float32(self.nodata))
        self._dataset.GetRasterBand(band_index0 + 1).WriteArray(block, window.xoff, window.yoff)

    def set_band_metadata(self, band_index0, metadata):
        """Attach key/value metadata to a band (e.g. units)."""
        self._dataset.GetRasterBand(band_index0 + 1).SetMetadata(
            {str(k): str(v) for k, v in metadata.items()})

    def commit(self):
        """Flush, close and move the finished file to its final name."""
        if self._dataset is None:
            return
        self._dataset.FlushCache()
        self._dataset = None
        _release_block_cache()
        if self._temp_path != self.path:
            outputs.replace_file(self._temp_path, self.path)

    def abort(self):
        """Close and delete the partial file."""
        if self._dataset is not None:
            self._dataset = None
            _release_block_cache()
        remove_raster(self._temp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


def remove_raster(path):
    """Delete a raster and its sidecar files (.aux.xml, .ovr) if they exist."""
    for candidate in (path, path + ".aux.xml", path + ".ovr"):
        if os.path.exists(candidate):
            os.remove(candidate)


def spatial_reference(wkt):
    """An osr.SpatialReference in x=easting/longitude axis order, or None for an empty CRS."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    try:
        srs.SetFromUserInput(wkt)
    except RuntimeError as error:
        raise SoilMetalError(f"Cannot understand the coordinate reference system: {error}.") from None
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def same_crs(wkt_a, wkt_b):
    """True when two CRS definitions describe the same system (both empty counts as same)."""
    if not wkt_a and not wkt_b:
        return True
    if not wkt_a or not wkt_b:
        return False
    if wkt_a == wkt_b:
        return True
    return bool(spatial_reference(wkt_a).IsSame(spatial_reference(wkt_b)))


def is_geographic(crs_wkt):
    """True when the CRS has angular (degree) coordinates."""
    srs = spatial_reference(crs_wkt)
    return bool(srs is not None and srs.IsGeographic())


def crs_label(crs_wkt):
    """A short human name for a CRS: 'EPSG:32649' when known, else its name."""
    srs = spatial_reference(crs_wkt)
    if srs is None:
        return "no CRS"
    srs_copy = srs.Clone()
    try:
        srs_copy.AutoIdentifyEPSG()
    except RuntimeError:
        pass
    code = srs_copy.GetAuthorityCode(None)
    name = srs.GetName() or "unnamed CRS"
    return f"EPSG:{code}" if code else name


def transform_xy(x, y, src_wkt, dst_wkt):
    """Transform coordinate arrays from one CRS to another (x = easting/longitude)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if same_crs(src_wkt, dst_wkt) or not src_wkt or not dst_wkt:
        return x.copy(), y.copy()
    transform = osr.CoordinateTransformation(spatial_reference(src_wkt), spatial_reference(dst_wkt))
    if x.size == 0:
        return x.copy(), y.copy()
    try:
        points = np.array(transform.TransformPoints(np.column_stack([x, y]).tolist()), dtype=np.float64)
    except RuntimeError:
        # Points that cannot be transformed (outside the CRS's domain) become NaN, one by one.
        points = np.full((x.size, 3), np.nan)
        for index, (px, py) in enumerate(zip(x, y)):
            try:
                points[index] = transform.TransformPoint(float(px), float(py))
            except RuntimeError:
                pass
    result_x, result_y = points[:, 0], points[:, 1]
    bad = ~np.isfinite(result_x) | ~np.isfinite(result_y) | (np.abs(result_x) > 1e30)
    result_x[bad] = np.nan
    result_y[bad] = np.nan
    return result_x, result_y


_RESAMPLING = {"nearest": "near", "near": "near", "bilinear": "bilinear", "cubic": "cubic",
               "average": "average"}


def warp_to_grid(src_path, dst_path, ref_info, resampling="bilinear", band=None, src_nodata=None):
    """Reproject/resample a raster onto exactly ref_info's grid (CRS, geotransform, size); NaN-free
    Float32 output with NODATA where there is no source data. dst_path may be '/vsimem/...'."""
    source = _open(src_path)
    if band:
        # GDAL 3.6's Warp has no band list: pick the band through an in-memory VRT first.
        source = gdal.Translate("", source, options=gdal.TranslateOptions(format="VRT", bandList=[band]))
    src_crs = source.GetProjection()
    if not src_crs or not ref_info.crs_wkt:
        raise SoilMetalError(f"Raster '{src_path}' or the reference raster has no CRS; assign one "
                             "(Raster > Projections > Assign Projection) and run again.")
    xmin, ymin, xmax, ymax = ref_info.extent
    options = gdal.WarpOptions(
        format="VRT" if str(dst_path).endswith(".vrt") else "GTiff",
        outputBounds=(xmin, ymin, xmax, ymax), width=ref_info.width, height=ref_info.height,
        dstSRS=ref_info.crs_wkt, resampleAlg=_RESAMPLING[resampling], outputType=gdal.GDT_Float32,
        dstNodata=NODATA, srcNodata=src_nodata,
        multithread=True, warpOptions=["NUM_THREADS=ALL_CPUS"],
        creationOptions=None if str(dst_path).endswith(".vrt") else CREATION_OPTIONS)
    try:
        result = gdal.Warp(str(dst_path), source, options=options)
    except RuntimeError as error:
        raise SoilMetalError(f"Cannot reproject '{src_path}' onto the reference grid: {error}.") from None
    if result is None:
        raise SoilMetalError(f"Cannot reproject '{src_path}' onto the reference grid.")
    # Copy band descriptions so factor names survive the warp.
    for index in range(1, source.RasterCount + 1):
        description = source.GetRasterBand(index).GetDescription()
        if description:
            result.GetRasterBand(index).SetDescription(description)
    result.FlushCache()
    result = None
    return str(dst_path)


def extents_overlap(info_a, info_b):
    """True when two rasters' extents intersect, after bringing b's corners into a's CRS."""
    xmin, ymin, xmax, ymax = info_b.extent
    corner_x = np.array([xmin, xmax, xmin, xmax, (xmin + xmax) / 2])
    corner_y = np.array([ymin, ymin, ymax, ymax, (ymin + ymax) / 2])
    tx, ty = transform_xy(corner_x, corner_y, info_b.crs_wkt, info_a.crs_wkt)
    if not np.any(np.isfinite(tx)):
        return False
    axmin, aymin, axmax, aymax = info_a.extent
    return not (np.nanmax(tx) < axmin or np.nanmin(tx) > axmax or
                np.nanmax(ty) < aymin or np.nanmin(ty) > aymax)


def delete_vsimem(path):
    """Free an in-memory GDAL file."""
    try:
        gdal.Unlink(str(path))
    except RuntimeError:
        pass


def temp_vsimem_path(suffix=".tif"):
    """A unique in-memory GDAL path."""
    return f"/vsimem/soilmetal_{uuid.uuid4().hex}{suffix}"


def pixel_size_metres(info):
    """(dx, dy) in metres for each row of the raster: arrays of length height.

    Projected grids: the pixel size times the CRS's linear unit. Geographic grids: the
    ellipsoid's metres per degree at each row's centre latitude, so slopes are in true metres.
    """
    gt = info.geotransform
    rows = np.arange(info.height, dtype=np.float64)
    srs = spatial_reference(info.crs_wkt)
    if srs is None or not srs.IsGeographic():
        unit = srs.GetLinearUnits() if srs is not None else 1.0
        return (np.full(info.height, abs(gt[1]) * unit), np.full(info.height, abs(gt[5]) * unit))
    semi_major = srs.GetSemiMajor()
    inverse_flattening = srs.GetInvFlattening()
    flattening = 1.0 / inverse_flattening if inverse_flattening else 0.0
    e2 = flattening * (2.0 - flattening)
    angular_unit = srs.GetAngularUnits()  # radians per CRS unit (degrees, grads, ...)
    latitude = (gt[3] + (rows + 0.5) * gt[5]) * angular_unit
    sin2 = np.sin(latitude) ** 2
    meridian_radius = semi_major * (1 - e2) / (1 - e2 * sin2) ** 1.5
    normal_radius = semi_major / np.sqrt(1 - e2 * sin2)
    dy = abs(gt[5]) * angular_unit * meridian_radius
    dx = abs(gt[1]) * angular_unit * normal_radius * np.cos(latitude)
    return dx, dy


def describe_window_extent(info):
    """A readable 'xmin, ymin : xmax, ymax (CRS)' string for messages."""
    xmin, ymin, xmax, ymax = info.extent
    digits = 6 if is_geographic(info.crs_wkt) else 1
    return (f"{xmin:.{digits}f}, {ymin:.{digits}f} : {xmax:.{digits}f}, {ymax:.{digits}f} "
            f"({crs_label(info.crs_wkt)})")



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
