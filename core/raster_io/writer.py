"""The raster writer: tiled, compressed Float32 GeoTIFFs that appear only when complete."""

import os
import threading

import numpy as np
from osgeo import gdal

from .. import outputs
from ..errors import SoilMetalError

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


class _CommittedOnSuccess:
    """A `with` block commits what it wrote when it ends normally, and aborts on an exception."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


class RasterWriter(_CommittedOnSuccess):
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


def remove_raster(path):
    """Delete a raster and its sidecar files (.aux.xml, .ovr) if they exist."""
    for candidate in (path, path + ".aux.xml", path + ".ovr"):
        if os.path.exists(candidate):
            os.remove(candidate)


class RasterOutputs(_CommittedOnSuccess):
    """The one-band rasters a run writes, by kind ({kind: path}; an empty path is not written).

    `kind in outputs` says whether a kind is asked for; create() makes them all on the run's grid,
    write() writes a block to each; they appear together on commit(), and abort() (or an exception
    inside the `with` block) deletes every one of them.
    """

    def __init__(self, paths):
        self.paths = {kind: path for kind, path in paths.items() if path}
        self.writers = {}

    def __contains__(self, kind):
        return kind in self.paths

    def create(self, grid, bands):
        """Create each raster on grid (a RasterInfo); bands: {kind: (band name, band metadata)}."""
        for kind, path in self.paths.items():
            name, metadata = bands[kind]
            self.writers[kind] = RasterWriter(path, grid.width, grid.height, grid.geotransform,
                                              grid.crs_wkt, [name])
            if metadata:
                self.writers[kind].set_band_metadata(0, metadata)

    def write(self, window, blocks):
        """Write each open raster's block, blocks[kind] (ysize * xsize,) with NaN = nodata."""
        for kind, writer in self.writers.items():
            writer.write(0, window, blocks[kind].reshape(window.ysize, window.xsize))

    def commit(self):
        """Finish every raster and move it to its final name."""
        for writer in self.writers.values():
            writer.commit()

    def abort(self):
        """Delete every raster of the run."""
        for writer in self.writers.values():
            writer.abort()
