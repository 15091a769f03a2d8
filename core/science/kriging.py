"""Ordinary kriging of residuals with a local neighbourhood, vectorised over target points.

Each target point is kriged from its N nearest samples (a KD-tree query, optionally within a
maximum search distance). Targets that share the same neighbour set share one kriging matrix:
the targets of a batch are grouped by their (sorted) neighbour set, one (N+1) x (N+1) system
per group is inverted in a stacked call, and every target then needs only dot products:

    estimate  = b . (A^-1 [r; 0])          b = [C(target, neighbours); 1]
    variance  = C(0) - b' A^-1 b            (the ordinary kriging variance)

with A = [[C(samples, samples), 1], [1', 0]] and r the neighbours' residuals. A map of
millions of pixels over a thousand samples has only tens of thousands of distinct neighbour
sets, so the solves cost little; there is no Python loop over targets.

Conventions (as gstat's `krige`): C(0) is the full sill, so kriging at a sample's location
returns that sample's residual (variance 0). A target with fewer than N samples within the
search distance uses the ones it has; a target with none gets residual 0 and variance equal to
the sill (the model's prediction is kept, with the field's full uncertainty).

Samples at the same location make the system singular: they are merged into one (their
residuals averaged) with a warning. Coordinates must be in metres in a projected CRS;
`geographic_to_local_metres` maps longitude/latitude for a geographic map CRS.
"""

import math

import numpy as np
from scipy.spatial import cKDTree

from ..errors import SoilMetalError
from ..monitor import NULL_MONITOR

DEFAULT_NEIGHBOURS = 16
_QUERY_BATCH = 262144    # targets grouped together by neighbour set
_BATCH = 8192            # targets per inner step: bounds memory at ~ batch * N^2 * 8 bytes
_JITTER = 1e-10          # relative to the sill: C's diagonal without a nugget, and pivot floor
EARTH_RADIUS = 6371008.8  # mean Earth radius, m
_HASH_SEED = 20240611


def merge_duplicates(x, y, values, monitor=NULL_MONITOR):
    """(x, y, values) with samples at identical coordinates merged (values averaged).

    Warns through monitor when any were merged; SoilMetalError when fewer than 2 distinct
    locations remain.
    """
    x, y, values = (np.asarray(a, dtype=float).ravel() for a in (x, y, values))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(values)
    x, y, values = x[keep], y[keep], values[keep]
    coords, inverse, counts = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True,
                                        return_counts=True)
    inverse = inverse.ravel()
    if coords.shape[0] < 2:
        raise SoilMetalError(
            f"All {x.size} samples share one location, so nothing can be kriged between "
            "them: kriging needs samples at 2 or more distinct locations (check the points' "
            "coordinates and CRS).")
    if coords.shape[0] == x.size:
        return x, y, values
    merged = np.bincount(inverse, weights=values) / counts
    monitor.warning(
        f"{x.size - coords.shape[0]} samples share a location with another sample: each "
        f"group of co-located samples was merged into one with the mean residual for kriging "
        f"({coords.shape[0]} locations kept).")
    return coords[:, 0], coords[:, 1], merged


def geographic_to_local_metres(lon, lat, lon0, lat0):
    """(x, y) in metres of lon, lat (degrees) on a local equirectangular plane about lon0, lat0.

    East-west scale is exact at lat0 and off by about tan(lat0) * (lat - lat0 in radians)
    elsewhere (under 1.5 % within half a degree of latitude at 60 degrees): ample for
    kriging neighbourhoods, which are local.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    k = math.pi / 180.0 * EARTH_RADIUS
    return (lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k


class OrdinaryKriging:
    """Ordinary kriging of values at sample points x, y (n,) with a VariogramModel.

    neighbours: samples per target (the nearest ones); max_distance: search radius (None:
    unlimited), in the coordinates' units.
    """

    def __init__(self, x, y, values, model, neighbours=DEFAULT_NEIGHBOURS, max_distance=None,
                 monitor=NULL_MONITOR):
        if int(neighbours) < 1:
            raise SoilMetalError(f"KRIGING_NEIGHBOURS is {neighbours}: use 1 or more "
                                 f"(the default is {DEFAULT_NEIGHBOURS}).")
        if max_distance is not None and not max_distance > 0:
            raise SoilMetalError(f"The kriging search distance is {max_distance}: give a "
                                 "distance above 0, or none for an unlimited search.")
        self.x, self.y, self.values = merge_duplicates(x, y, values, monitor)
        self.model = model
        self.k = min(int(neighbours), self.x.size)
        self.max_distance = None if max_distance is None else float(max_distance)
        self.tree = cKDTree(np.column_stack([self.x, self.y]))
        self._hash = np.random.default_rng(_HASH_SEED).integers(
            1, np.iinfo(np.int64).max, size=self.k, dtype=np.int64)

    def predict(self, tx, ty):
        """(estimate, variance), each (m,), at target points tx, ty (m,)."""
        return self._predict(tx, ty, with_variance=True)

    def estimate(self, tx, ty):
        """The estimate (m,) alone at target points tx, ty (m,): predict without the variance,
        whose C^-1 c product per target is most of the work."""
        return self._predict(tx, ty, with_variance=False)[0]

    def _predict(self, tx, ty, with_variance):
        """(estimate, variance or None), each (m,), batch by batch."""
        tx = np.asarray(tx, dtype=float).ravel()
        ty = np.asarray(ty, dtype=float).ravel()
        estimate = np.empty(tx.size)
        variance = np.empty(tx.size) if with_variance else None
        for start in range(0, tx.size, _QUERY_BATCH):
            part = slice(start, start + _QUERY_BATCH)
            estimate[part], batch_variance = self._predict_batch(tx[part], ty[part], with_variance)
            if with_variance:
                variance[part] = batch_variance
        return estimate, variance

    def _neighbour_sets(self, tx, ty):
        """Sorted neighbour indices (m, k), n where fewer than k lie within the search."""
        bound = np.inf if self.max_distance is None else self.max_distance
        _, index = self.tree.query(np.column_stack([tx, ty]), k=self.k, distance_upper_bound=bound)
        index = np.asarray(index).reshape(tx.size, self.k)
        index.sort(axis=1)          # missing neighbours (index n) sort to the end
        return index

    def _group(self, index):
        """(unique neighbour sets (g, k), group of each target (m,)), vectorised."""
        keys = index.astype(np.int64) @ self._hash      # wraps around: a hash of each row
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        groups = index[first]
        inverse = inverse.ravel()
        if not np.array_equal(groups[inverse], index):  # a hash collision: exact grouping
            groups, inverse = np.unique(index, axis=0, return_inverse=True)
        return groups, inverse.ravel()

    def _group_systems(self, groups):
        """Per neighbour set: Q = C^-1 (g, k, k), GLS mean, alpha = Q (r - mean), u = Q 1, 1'Q1.

        Unused slots (fewer samples than k within the search) are identity rows of C with
        zero in the ones-vector, so they get weight 0.
        """
        n, k = self.x.size, self.k
        valid = groups < n
        safe = np.where(valid, groups, 0)
        gx, gy = self.x[safe], self.y[safe]
        pair = np.hypot(gx[:, :, None] - gx[:, None, :], gy[:, :, None] - gy[:, None, :])
        both = valid[:, :, None] & valid[:, None, :]
        cov = np.where(both, self.model.covariance(pair), 0.0)
        diag = np.arange(k)
        # Without a nugget (a gaussian model above all) C can be numerically singular.
        jitter = _JITTER * self.model.sill if self.model.nugget == 0 else 0.0
        cov[:, diag, diag] += np.where(valid, jitter, 1.0)
        q = _spd_inverse(cov, _JITTER * self.model.sill)
        ones = valid.astype(float)
        r = np.where(valid, self.values[safe], 0.0)
        u = np.einsum("gij,gj->gi", q, ones)
        s = np.einsum("gi,gi->g", u, ones)
        empty = s <= 0                                   # no sample within the search
        s[empty] = 1.0
        y = np.einsum("gij,gj->gi", q, r)
        mean = np.einsum("gi,gi->g", y, ones) / s
        alpha = y - mean[:, None] * u
        return valid, gx, gy, q, mean, alpha, s, empty

    def _predict_batch(self, tx, ty, with_variance=True):
        index = self._neighbour_sets(tx, ty)
        groups, inverse = self._group(index)
        valid, gx, gy, q, mean, alpha, s, empty = self._group_systems(groups)
        estimate = np.empty(tx.size)
        variance = np.empty(tx.size) if with_variance else None
        sill = self.model.sill
        for start in range(0, tx.size, _BATCH):
            part = slice(start, start + _BATCH)
            g = inverse[part]
            d = np.hypot(tx[part, None] - gx[g], ty[part, None] - gy[g])
            c = np.where(valid[g], self.model.covariance(d), 0.0)
            estimate[part] = mean[g] + np.einsum("mi,mi->m", c, alpha[g])
            if with_variance:
                t = np.einsum("mij,mj->mi", q[g], c)                      # C^-1 c
                ones_t = np.einsum("mi,mi->m", t, valid[g])                # 1' C^-1 c
                variance[part] = sill - np.einsum("mi,mi->m", c, t) + (1.0 - ones_t) ** 2 / s[g]
        none = empty[inverse]
        estimate[none] = 0.0
        if with_variance:
            np.maximum(variance, 0.0, out=variance)
            variance[none] = sill
        return estimate, variance


def _spd_inverse(matrix, floor):
    """Inverses of a stack of symmetric positive definite matrices (g, k, k).

    Cholesky and triangular inversion written out, vectorised over the stack: for many tiny
    systems this beats LAPACK calls, whose BLAS threads stall on a busy machine. Pivots
    below `floor` (a numerically singular system) are raised to it.
    """
    g, k, _ = matrix.shape
    lower = np.zeros_like(matrix)
    for j in range(k):
        pivot = matrix[:, j, j] - np.einsum("gi,gi->g", lower[:, j, :j], lower[:, j, :j])
        root = np.sqrt(np.maximum(pivot, floor))
        lower[:, j, j] = root
        if j + 1 < k:
            below = matrix[:, j + 1:, j] - np.einsum("gri,gi->gr", lower[:, j + 1:, :j],
                                                     lower[:, j, :j])
            lower[:, j + 1:, j] = below / root[:, None]
    inverse_lower = np.zeros_like(matrix)                  # L^-1, lower triangular
    for j in range(k):
        row = -np.einsum("gi,gic->gc", lower[:, j, :j], inverse_lower[:, :j, :])
        row[:, j] += 1.0
        inverse_lower[:, j, :] = row / lower[:, j, j][:, None]
    return np.einsum("gki,gkj->gij", inverse_lower, inverse_lower)


def krige(x, y, values, tx, ty, model, neighbours=DEFAULT_NEIGHBOURS, max_distance=None,
          monitor=NULL_MONITOR):
    """(estimate, variance) (m,) of ordinary kriging from samples x, y, values (n,) at tx, ty."""
    return OrdinaryKriging(x, y, values, model, neighbours, max_distance, monitor).predict(tx, ty)


def node_step(kriging, pixel_size):
    """Pixels between the nodes where a map is kriged exactly (1: every pixel).

    The kriged surface varies on the scale of the sample spacing (the neighbour sets change
    there) and of the variogram's range; nodes a quarter of the median nearest-sample
    distance apart, and at most a tenth of the range, resolve both. Between nodes the
    estimate is interpolated bilinearly.
    """
    if kriging.x.size < 2:
        return 1
    distance, _ = kriging.tree.query(np.column_stack([kriging.x, kriging.y]), k=2)
    spacing = min(float(np.median(distance[:, 1])) / 4.0, kriging.model.practical_range / 10.0)
    return max(1, int(spacing // pixel_size))


class KrigedSurface:
    """An OrdinaryKriging evaluated on a raster grid window by window (block iterator windows).

    geotransform: the grid's GDAL geotransform; to_metres: None when the grid's CRS is
    projected in metres (the samples are in it), else a function (x, y) -> (x, y) in metres
    applied to pixel centres (geographic_to_local_metres about the samples' centre, which the
    samples went through too). step: node spacing in pixels (node_step); nodes sit on a
    grid fixed to the raster, so adjacent windows agree on their shared edge.
    """

    def __init__(self, kriging, geotransform, width, height, step=1, to_metres=None):
        self.kriging = kriging
        self.gt = tuple(float(v) for v in geotransform)
        self.width, self.height = int(width), int(height)
        self.step = max(1, int(step))
        self.to_metres = to_metres

    def _centres(self, cols, rows):
        """Map coordinates, in metres, of the centres of pixels (cols, rows) (same shape)."""
        gt = self.gt
        x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
        y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
        return (x, y) if self.to_metres is None else self.to_metres(x, y)

    def _krige_pixels(self, cols, rows):
        x, y = self._centres(cols.astype(float), rows.astype(float))
        return self.kriging.estimate(x, y)

    def window(self, window, valid=None):
        """The kriging estimate (ysize * xsize,) row-major for a blocks.Window.

        valid (ysize * xsize,) bool: pixels that need a value (others are NaN); with step 1
        only those are kriged.
        """
        size = window.xsize * window.ysize
        rows, cols = np.divmod(np.arange(size), window.xsize)
        rows += window.yoff
        cols += window.xoff
        if self.step == 1:
            estimate = np.full(size, np.nan)
            need = np.ones(size, dtype=bool) if valid is None else np.asarray(valid, bool)
            if need.any():
                estimate[need] = self._krige_pixels(cols[need], rows[need])
            return estimate
        node_cols, col_index, col_weight = self._axis(window.xoff, window.xsize, self.width)
        node_rows, row_index, row_weight = self._axis(window.yoff, window.ysize, self.height)
        grid_cols, grid_rows = np.meshgrid(node_cols, node_rows)
        nodes = self._krige_pixels(grid_cols.ravel(), grid_rows.ravel()).reshape(node_rows.size, node_cols.size)
        along = (nodes[:, col_index] * (1 - col_weight) + nodes[:, col_index + 1] * col_weight)
        full = (along[row_index] * (1 - row_weight)[:, None]
                + along[row_index + 1] * row_weight[:, None])
        full = full.ravel()
        if valid is not None:
            full[~np.asarray(valid, bool)] = np.nan
        return full

    def _axis(self, offset, size, extent):
        """Node positions covering pixels offset..offset+size-1 along one axis, and for each
        pixel the index of its left node and its weight towards the right one."""
        last = extent - 1
        first_node = (offset // self.step) * self.step
        end = offset + size - 1
        nodes = np.arange(first_node, end + self.step, self.step)
        nodes = np.unique(np.minimum(nodes, last))
        if nodes.size == 1:
            nodes = np.array([nodes[0], nodes[0]])
        pixels = np.arange(offset, offset + size)
        index = np.clip(np.searchsorted(nodes, pixels, side="right") - 1, 0, nodes.size - 2)
        span = nodes[index + 1] - nodes[index]
        weight = np.where(span > 0, (pixels - nodes[index]) / np.where(span > 0, span, 1), 0.0)
        return nodes, index, weight
