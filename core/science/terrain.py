"""Terrain factors from a DEM: elevation, slope and aspect (Horn 1981), northness, eastness.

Slope is in degrees; aspect is the downslope direction in degrees clockwise from north (NaN
where flat); northness = cos(aspect) and eastness = sin(aspect), 0 where flat. Edge cells are
computed as `gdaldem -compute_edges` does: missing rows/columns are extrapolated linearly and
a nodata neighbour takes the centre cell's value. Arrays only: the raster pass over a DEM is
core/workflows/terrain_factors.py.
"""

import numpy as np

TERRAIN_FACTORS = ("ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS")


def pad_edges(z, top=True, bottom=True, left=True, right=True):
    """Grow z (rows, cols) by one linearly extrapolated row/column on each requested side.

    The new row is 2 * edge - next (a plane stays a plane); with a single row/column the edge
    is replicated. NaN in either source cell gives NaN.
    """
    z = np.asarray(z, dtype=np.float64)
    if top or bottom:
        parts = []
        if top:
            parts.append(2.0 * z[:1] - z[1:2] if z.shape[0] > 1 else z[:1])
        parts.append(z)
        if bottom:
            parts.append(2.0 * z[-1:] - z[-2:-1] if z.shape[0] > 1 else z[-1:])
        z = np.concatenate(parts, axis=0)
    if left or right:
        parts = []
        if left:
            parts.append(2.0 * z[:, :1] - z[:, 1:2] if z.shape[1] > 1 else z[:, :1])
        parts.append(z)
        if right:
            parts.append(2.0 * z[:, -1:] - z[:, -2:-1] if z.shape[1] > 1 else z[:, -1:])
        z = np.concatenate(parts, axis=1)
    return z


def horn_gradient(z_padded, dx, dy):
    """Horn (1981) gradient of a padded DEM (rows+2, cols+2) -> (dz/d east, dz/d north), each (rows, cols).

    dx, dy: cell width and height in the DEM's horizontal units (scalars, or arrays of length
    rows for grids whose cell size varies by row, such as geographic DEMs in metres). Rows run
    north to south. A NaN neighbour of a valid cell takes the cell's value; a NaN cell stays NaN.
    """
    zp = np.asarray(z_padded, dtype=np.float64)
    rows, cols = zp.shape[0] - 2, zp.shape[1] - 2
    if rows < 1 or cols < 1:
        raise ValueError("horn_gradient needs a padded array of at least 3 x 3")
    centre = zp[1:-1, 1:-1]

    def neighbour(dr, dc):
        window = zp[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
        return np.where(np.isnan(window), centre, window) if has_nan else window

    has_nan = bool(np.isnan(zp).any())
    a, b, c = neighbour(-1, -1), neighbour(-1, 0), neighbour(-1, 1)
    d, f = neighbour(0, -1), neighbour(0, 1)
    g, h, i = neighbour(1, -1), neighbour(1, 0), neighbour(1, 1)
    dx = _per_row(dx, rows)
    dy = _per_row(dy, rows)
    east = ((c + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * dx)
    north = ((a + 2.0 * b + c) - (g + 2.0 * h + i)) / (8.0 * dy)
    if has_nan:
        # Horn's stencil skips the centre, so a nodata cell must be masked explicitly.
        missing = np.isnan(centre)
        east[missing] = np.nan
        north[missing] = np.nan
    return east, north


def _per_row(spacing, rows):
    """A scalar, or a per-row array reshaped to broadcast over (rows, cols)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.ndim == 0:
        return spacing
    if spacing.shape != (rows,):
        raise ValueError(f"per-row cell size must have length {rows}, got {spacing.shape}")
    return spacing[:, None]


def factors_from_gradient(east, north):
    """(dz/d east, dz/d north) arrays -> dict SLOPE, ASPECT, NORTHNESS, EASTNESS (same shape)."""
    steepness = np.hypot(east, north)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.degrees(np.arctan(steepness))
        flat = steepness == 0
        # Downslope direction (-east, -north) as an azimuth clockwise from north.
        aspect = np.degrees(np.arctan2(-east, -north)) % 360.0
        aspect[flat] = np.nan
        safe = np.where(flat, 1.0, steepness)
        northness = np.where(flat, 0.0, -north / safe)
        eastness = np.where(flat, 0.0, -east / safe)
    return {"SLOPE": slope, "ASPECT": aspect, "NORTHNESS": northness, "EASTNESS": eastness}


def terrain_factors(z_padded, dx, dy):
    """All TERRAIN_FACTORS for the centre (rows, cols) of a padded DEM (rows+2, cols+2) -> dict."""
    east, north = horn_gradient(z_padded, dx, dy)
    factors = factors_from_gradient(east, north)
    factors["ELEVATION"] = np.asarray(z_padded, dtype=np.float64)[1:-1, 1:-1]
    return factors
