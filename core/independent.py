"""Which evaluation samples are independent of a model: not where it was trained or validated.

A version-2 model file lists every sample it was given (model.samples: coordinates, CRS, role
train/validation). An evaluation sample is "at a model sample" when it lies within a
tolerance of one, after bringing its coordinates into the model samples' CRS. The tolerance
is LOCATION_TOLERANCE times the diagonal of the extent of both point sets (5 mm over 5 km; the
same share in degrees): far below any sampling distance, well above the rounding of a
reprojection round trip. Matching is by location, not by id, because ids are rewritten between
surveys while a point measured twice is the same soil.
"""

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from . import raster_io

LOCATION_TOLERANCE = 1e-6
MIN_TOLERANCE = 1e-9


@dataclass
class Independence:
    """Outcome of matching evaluation samples against a model's samples."""

    known: bool               # False: the model file does not list its samples (version 1)
    at_model_sample: np.ndarray   # (n,) bool: the sample lies at a model sample
    role: list                # (n,) 'train', 'validation' or '' of the matched model sample
    tolerance: float          # distance used, in the model samples' CRS units

    @property
    def count(self):
        """Number of evaluation samples at a model sample."""
        return int(self.at_model_sample.sum())


def match_model_samples(model, x, y, crs_wkt):
    """Independence of evaluation points x, y (n,) in crs_wkt against model.samples."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = x.size
    if model.samples is None:
        return Independence(False, np.zeros(n, dtype=bool), [""] * n, float("nan"))
    samples = model.samples
    sx, sy = np.asarray(samples["x"], float), np.asarray(samples["y"], float)
    ex, ey = raster_io.transform_xy(x, y, crs_wkt, samples["crs"])
    both_x = np.concatenate([sx, ex[np.isfinite(ex)]])
    both_y = np.concatenate([sy, ey[np.isfinite(ey)]])
    diagonal = float(np.hypot(np.ptp(both_x), np.ptp(both_y))) if both_x.size else 0.0
    tolerance = max(LOCATION_TOLERANCE * diagonal, MIN_TOLERANCE)
    at = np.zeros(n, dtype=bool)
    roles = [""] * n
    finite = np.isfinite(ex) & np.isfinite(ey)
    if finite.any() and sx.size:
        distance, nearest = cKDTree(np.column_stack([sx, sy])).query(
            np.column_stack([ex[finite], ey[finite]]))
        rows = np.flatnonzero(finite)
        for row, dist, index in zip(rows, distance, nearest):
            if dist <= tolerance:
                at[row] = True
                roles[row] = samples["role"][int(index)]
    return Independence(True, at, roles, tolerance)
