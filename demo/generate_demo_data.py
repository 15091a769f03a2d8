#!/usr/bin/env python3
"""Write the deterministic synthetic Daxigou-like survey used by the soilmetal demo and tests.

The paper's data (Yang et al. 2023) are not public, so this script simulates a study area like
the Daxigou mine (Zhashui County, Shaanxi): a 6.6 x 6.0 km mountain catchment in UTM zone 49N
with an open pit near a ridge top, slag heaps below it, a haul road and a valley road; two
Landsat 8 OLI surface-reflectance images (December 2017, November 2019), a 1 arc-second DEM as
users download it, the "true" Cu and Pb maps and the field samples of both surveys.

Usage:  /usr/bin/python3 demo/generate_demo_data.py [OUTPUT_DIR] [--seed N] [--force]
Without --force, an output directory that already holds a complete data set is left as it is.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from osgeo import gdal, ogr, osr
from scipy import ndimage, signal

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

DEFAULT_SEED = 20171201
GENERATOR_VERSION = 1

UTM_EPSG = 32649
GEOGRAPHIC_EPSG = 4326
CENTRE_LON, CENTRE_LAT = 109.1, 33.7
PIXEL_M = 30.0
WIDTH, HEIGHT = 220, 200
DEM_CELLS_PER_DEGREE = 3600
DEM_MARGIN_CELLS = 10
DEM_NODATA = -32768
ELEVATION_LIMITS = (800.0, 1800.0)
FLOAT_NODATA = -9999.0
LANDCOVER_NODATA = 0
LANDSAT_SCALE = 0.0000275
LANDSAT_OFFSET = -0.2
LANDSAT_BANDS = ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]

# value, class name, land-use label written in the sample tables, display colour
CLASSES = [
    (1, "forest", "forest", (38, 115, 0)),
    (2, "grassland", "grassland", (163, 204, 81)),
    (3, "cultivated land", "cultivated", (245, 222, 128)),
    (4, "open-pit mine", "mine", (168, 112, 0)),
    (5, "slag heap", "slag", (104, 104, 104)),
    (6, "road", "road", (230, 0, 0)),
    (7, "village", "village", (223, 115, 255)),
]
FOREST, GRASSLAND, CULTIVATED, MINE, SLAG, ROAD, VILLAGE = range(1, 8)
LAND_USE = {value: label for value, _, label, _ in CLASSES}

# Winter surface reflectance end-members, bands B1..B7 (coastal, blue, green, red, NIR, SWIR1,
# SWIR2). Canopies are winter canopies: mixed conifer/oak forest, dry grass, winter wheat.
CANOPY = {
    FOREST: [0.022, 0.028, 0.048, 0.034, 0.285, 0.150, 0.068],
    GRASSLAND: [0.034, 0.044, 0.074, 0.072, 0.255, 0.215, 0.125],
    CULTIVATED: [0.028, 0.038, 0.078, 0.052, 0.315, 0.180, 0.088],
}
SUBSTRATE = {
    "soil": [0.058, 0.072, 0.108, 0.148, 0.205, 0.285, 0.222],
    "rock": [0.105, 0.128, 0.170, 0.212, 0.252, 0.305, 0.258],
    "slag": [0.072, 0.082, 0.106, 0.130, 0.165, 0.226, 0.212],
    "asphalt": [0.082, 0.092, 0.112, 0.128, 0.158, 0.196, 0.178],
    "built": [0.088, 0.098, 0.122, 0.142, 0.188, 0.212, 0.188],
}
# class -> (canopy end-member, substrate, typical canopy fraction)
CLASS_MIXTURE = {
    FOREST: (FOREST, "soil", 0.70),
    GRASSLAND: (GRASSLAND, "soil", 0.45),
    CULTIVATED: (CULTIVATED, "soil", 0.22),
    MINE: (GRASSLAND, "rock", 0.0),
    SLAG: (GRASSLAND, "slag", 0.04),
    ROAD: (GRASSLAND, "asphalt", 0.08),
    VILLAGE: (FOREST, "built", 0.20),
}
# Relative change of soil reflectance per unit of contamination index (ore dust, Fe-oxide
# staining: brighter in the visible, SWIR2 up more than SWIR1 so the clay ratio drops).
CONTAMINATED_SOIL_GAIN = np.array([0.30, 0.30, 0.26, 0.20, 0.06, 0.04, 0.14])
# Relative darkening per unit of soil moisture (water absorbs most in the SWIR).
MOISTURE_DARKENING = np.array([0.10, 0.10, 0.12, 0.12, 0.16, 0.36, 0.30])
# Canopy stress (chlorosis) per unit of contamination index, absolute reflectance.
STRESSED_CANOPY_SHIFT = np.array([0.0, 0.002, 0.006, 0.018, -0.050, 0.012, 0.008])

IMAGES = {
    2017: {"name": "landsat8_20171215.tif", "date": "2017-12-15",
           "sun_elevation_deg": 30.4, "sun_azimuth_deg": 159.0,
           "gain": [1.0] * 7, "offset": [0.0] * 7, "canopy_change": 0.0},
    # November: a little more green canopy left, plus a sensor/atmosphere-correction shift.
    2019: {"name": "landsat8_20191118.tif", "date": "2019-11-18",
           "sun_elevation_deg": 35.2, "sun_azimuth_deg": 161.5,
           "gain": [1.040, 1.050, 1.045, 1.055, 1.030, 1.060, 1.050],
           "offset": [-0.004, -0.007, -0.005, -0.007, 0.006, 0.010, -0.004], "canopy_change": 0.06},
}
DUST_DECAY_M = 450.0
WASH_KEEP_PER_CELL = 0.99
ROAD_SPILL_DECAY_M = 90.0
# Metal content = background * exp(geogenic_sd * G + local_sd * L)
#                + amplitude * K ** exponent * exp(patchiness_sd * P),
# G, L, P unit-variance fields unrelated to the imagery, K the metal's contamination index;
# the sum then levels off smoothly towards `saturation` (soil sorption capacity).
METAL_MODELS = {
    "cu": {"background": {2017: 40.0, 2019: 46.0}, "geogenic_sd": 0.26, "local_sd": 0.05,
           "amplitude": {2017: 48.0, 2019: 55.0}, "exponent": 0.8, "patchiness_sd": 0.35,
           "saturation": 135.0,
           "mine_weight": 1.0, "road_weight": 0.35},
    "pb": {"background": {2017: 18.0, 2019: 19.5}, "geogenic_sd": 0.25, "local_sd": 0.05,
           "amplitude": {2017: 21.0, 2019: 25.0}, "exponent": 0.9, "patchiness_sd": 0.35,
           "saturation": 58.0,
           "mine_weight": 0.85, "road_weight": 0.7},
}
# Years of mining before 2017 left a legacy that the 2019 sources add to.
LEGACY_FACTOR_2019 = 1.08
# Empirical C-correction constant: FLAASH leaves the terrain illumination effect in the data.
ILLUMINATION_C = 0.8

SAMPLE_COUNTS = {2017: 44, 2019: 43}
SAMPLING_DAYS = {2017: ["2017-10-12", "2017-10-13", "2017-10-14", "2017-10-16", "2017-10-17"],
                 2019: ["2019-10-15", "2019-10-16", "2019-10-17", "2019-10-18", "2019-10-21"]}
MEASUREMENT_RELATIVE_SD = 0.07
# (year, metal) -> number of abnormal maxima (slag fragments caught in the composite sample)
ABNORMAL_COUNTS = {(2017, "cu"): 1, (2017, "pb"): 2, (2019, "cu"): 1, (2019, "pb"): 1}

# Baig et al. (2014) Landsat 8 tasseled cap coefficients on B2..B7.
TC_BRIGHTNESS = np.array([0.3029, 0.2786, 0.4733, 0.5599, 0.5080, 0.1872])
TC_GREENNESS = np.array([-0.2941, -0.2430, -0.5424, 0.7276, 0.0713, -0.1608])

FILE_NAMES = {
    "dem": "dem_1arcsec.tif",
    "landcover_2017": "landcover_2017.tif",
    "landcover_2019": "landcover_2019.tif",
    "landsat_2017": IMAGES[2017]["name"],
    "landsat_2019": IMAGES[2019]["name"],
    "true_cu_2017": "true_cu_2017.tif",
    "true_pb_2017": "true_pb_2017.tif",
    "true_cu_2019": "true_cu_2019.tif",
    "true_pb_2019": "true_pb_2019.tif",
    "samples_2017": "samples_2017.gpkg",
    "samples_2019": "samples_2019.gpkg",
    "readme": "README.md",
    "metadata": "demo_metadata.json",
}


# ----------------------------------------------------------------------------- geometry

def _spatial_reference(epsg):
    """osr.SpatialReference for an EPSG code with x = easting/longitude axis order."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _transform(x, y, src_epsg, dst_epsg):
    """Transform coordinate arrays (any equal shapes) between EPSG codes -> (x2, y2)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    transform = osr.CoordinateTransformation(_spatial_reference(src_epsg),
                                             _spatial_reference(dst_epsg))
    points = np.column_stack([x.ravel(), y.ravel()])
    out = np.asarray(transform.TransformPoints(points.tolist()), dtype=float)
    return out[:, 0].reshape(x.shape), out[:, 1].reshape(y.shape)


class Grid:
    """The 30 m UTM study-area grid: origin snapped to multiples of 30 m."""

    def __init__(self):
        centre_x, centre_y = _transform([CENTRE_LON], [CENTRE_LAT], GEOGRAPHIC_EPSG, UTM_EPSG)
        self.x0 = math.floor((centre_x[0] - WIDTH * PIXEL_M / 2) / PIXEL_M) * PIXEL_M
        self.y_top = math.floor((centre_y[0] + HEIGHT * PIXEL_M / 2) / PIXEL_M) * PIXEL_M
        self.width, self.height = WIDTH, HEIGHT
        self.geotransform = (self.x0, PIXEL_M, 0.0, self.y_top, 0.0, -PIXEL_M)
        self.x_centre = self.x0 + WIDTH * PIXEL_M / 2
        self.y_centre = self.y_top - HEIGHT * PIXEL_M / 2
        cols = np.arange(WIDTH)
        rows = np.arange(HEIGHT)
        self.x = np.broadcast_to(self.x0 + (cols + 0.5) * PIXEL_M, (HEIGHT, WIDTH))
        self.y = np.broadcast_to((self.y_top - (rows + 0.5) * PIXEL_M)[:, None], (HEIGHT, WIDTH))
        self.km_x, self.km_y = self.to_km(self.x, self.y)

    def to_km(self, x, y):
        """UTM metres -> local kilometres east/north of the study-area centre."""
        return (np.asarray(x) - self.x_centre) / 1000.0, (np.asarray(y) - self.y_centre) / 1000.0

    def from_km(self, kx, ky):
        """Local kilometres -> UTM metres."""
        return np.asarray(kx) * 1000.0 + self.x_centre, np.asarray(ky) * 1000.0 + self.y_centre

    def cell_of(self, x, y):
        """UTM metres -> (row, col) integer arrays of the containing cell."""
        col = np.floor((np.asarray(x) - self.x0) / PIXEL_M).astype(int)
        row = np.floor((self.y_top - np.asarray(y)) / PIXEL_M).astype(int)
        return row, col

    def bounds(self):
        """(xmin, ymin, xmax, ymax) in UTM metres."""
        return (self.x0, self.y_top - HEIGHT * PIXEL_M, self.x0 + WIDTH * PIXEL_M, self.y_top)


# ----------------------------------------------------------------------------- noise

class SmoothNoise:
    """Unit-variance random field as a sum of plane waves: evaluable at any (x, y) in km."""

    def __init__(self, rng, wavelength_km_min, wavelength_km_max, components=48):
        wavelength = np.exp(rng.uniform(math.log(wavelength_km_min), math.log(wavelength_km_max),
                                        components))
        direction = rng.uniform(0.0, 2.0 * math.pi, components)
        self.phase = rng.uniform(0.0, 2.0 * math.pi, components)
        self.kx = 2.0 * math.pi / wavelength * np.cos(direction)
        self.ky = 2.0 * math.pi / wavelength * np.sin(direction)
        # Longer waves carry more variance (red spectrum), total variance 1.
        self.amplitude = math.sqrt(2.0) * wavelength / np.sqrt(np.sum(wavelength ** 2))

    def __call__(self, kx, ky):
        """Field value at local-km coordinate arrays (any equal shapes)."""
        kx = np.asarray(kx, dtype=float)
        out = np.zeros(kx.shape)
        for i in range(len(self.phase)):
            out += self.amplitude[i] * np.cos(self.kx[i] * kx + self.ky[i] * ky + self.phase[i])
        return out


def _grid_noise(rng, shape, sigma_px):
    """Gaussian-smoothed white noise rescaled to mean 0, sd 1 (shape (rows, cols))."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="reflect")
    return (field - field.mean()) / field.std()


# ----------------------------------------------------------------------------- terrain

def _valley_line_km(kx):
    """Northing (km) of the main stream at local easting kx (km)."""
    return -0.55 + 0.35 * np.sin(0.9 * kx + 0.5)


def _valley_floor_m(kx):
    """Elevation of the main valley floor (m): the stream flows east."""
    return 955.0 - 18.0 * kx


def _north_crest_distance_km(kx):
    """Distance from the stream up to the northern main ridge crest (km)."""
    return 2.25 + 0.15 * np.sin(0.7 * kx)


def _south_crest_distance_km(kx):
    """Distance from the stream up to the southern ridge crest (km)."""
    return 1.95 + 0.15 * np.cos(0.6 * kx)


def _spur_line_km(ky):
    """Easting (km) of the spur ridge (third ridge) that runs north-south on the north slope."""
    return 1.30 + 0.12 * ky


NORTH_GULLIES_KM = (-2.30, -0.45, 2.45)
SOUTH_GULLIES_KM = (-1.60, 0.60, 2.35)


class Terrain:
    """Analytic mountain terrain: elevation (m) as a function of UTM metres."""

    def __init__(self, rng, grid):
        self.grid = grid
        self.broad = SmoothNoise(rng, 0.5, 3.0)
        self.fine = SmoothNoise(rng, 0.12, 0.45)

    def relative_position(self, kx, ky):
        """(signed km from stream, fraction of the way up to the crest on that side)."""
        d = ky - _valley_line_km(kx)
        dn = _north_crest_distance_km(kx)
        ds = _south_crest_distance_km(kx)
        flat = 0.12
        t = np.where(d >= 0, np.maximum(d - flat, 0) / (dn - flat),
                     np.maximum(-d - flat, 0) / (ds - flat))
        return d, t

    def elevation_km(self, kx, ky):
        """Elevation (m) at local-km coordinates."""
        d, t = self.relative_position(kx, ky)
        north = d >= 0
        crest_height = np.where(north, 650.0 + 95.0 * np.cos(0.8 * (kx + 0.4)),
                                470.0 + 80.0 * np.sin(0.7 * kx + 1.0))
        t_up = np.minimum(t, 1.0)
        rise = crest_height * np.sin(0.5 * math.pi * t_up) ** 1.45
        beyond = np.maximum(t - 1.0, 0.0)
        rise = rise - 0.45 * crest_height * (beyond / 0.6) ** 1.5
        z = _valley_floor_m(kx) + rise
        # third ridge: a spur descending from the northern crest to the valley
        spur = np.exp(-((kx - _spur_line_km(ky)) / 0.38) ** 2) * np.sin(math.pi * t_up) ** 0.8
        z = z + np.where(north, 150.0, 0.0) * spur
        # side gullies, deepest mid-slope, meandering a little
        envelope = np.sin(math.pi * t_up) ** 0.7
        for centres, side in ((NORTH_GULLIES_KM, north), (SOUTH_GULLIES_KM, ~north)):
            for i, centre in enumerate(centres):
                axis = centre + 0.08 * np.sin(3.0 * d + i)
                gully = np.exp(-((kx - axis) / 0.15) ** 2) * envelope
                z = z - np.where(side, 115.0 - 10.0 * i, 0.0) * gully
        z = z - 4.0 * np.exp(-(d / 0.04) ** 2)  # stream channel
        roughness = 0.25 + 0.75 * np.minimum(t, 1.0)
        z = z + roughness * (32.0 * self.broad(kx, ky) + 6.0 * self.fine(kx, ky))
        return np.clip(z, ELEVATION_LIMITS[0] + 5.0, ELEVATION_LIMITS[1] - 5.0)

    def elevation_utm(self, x, y):
        """Elevation (m) at UTM metre coordinates."""
        kx, ky = self.grid.to_km(x, y)
        return self.elevation_km(kx, ky)


def _slope_aspect(elevation):
    """(slope, aspect) radians of a 30 m grid (rows, cols); aspect: downslope azimuth from north."""
    dz_drow, dz_dcol = np.gradient(elevation, PIXEL_M)
    dz_dx = dz_dcol
    dz_dy = -dz_drow  # rows run southwards
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.mod(np.arctan2(-dz_dx, -dz_dy), 2.0 * math.pi)
    return slope, aspect


def _illumination(slope, aspect, sun_elevation_deg, sun_azimuth_deg):
    """Terrain illumination factor (C-correction form) for a sun position, shape of slope."""
    zenith = math.radians(90.0 - sun_elevation_deg)
    azimuth = math.radians(sun_azimuth_deg)
    cos_i = (math.cos(zenith) * np.cos(slope)
             + math.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect))
    return (np.maximum(cos_i, 0.0) + ILLUMINATION_C) / (math.cos(zenith) + ILLUMINATION_C)


_D8 = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _d8_receivers(elevation):
    """Index (flat) of each cell's steepest-descent neighbour, -1 for pits and edge outlets."""
    rows, cols = elevation.shape
    padded = np.pad(elevation, 1, mode="constant", constant_values=np.inf)
    flat_index = np.arange(rows * cols).reshape(rows, cols)
    padded_index = np.pad(flat_index, 1, mode="constant", constant_values=-1)
    best_drop = np.zeros(elevation.shape)
    receiver = -np.ones(elevation.shape, dtype=np.int64)
    for dr, dc in _D8:
        neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
        drop = (elevation - neighbour) / math.hypot(dr, dc)
        better = drop > best_drop
        best_drop[better] = drop[better]
        receiver[better] = padded_index[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols][better]
    return receiver.ravel()


def _route_downslope(load, elevation, receiver, keep):
    """Pass each cell's load (plus what it received) downslope, keeping `keep` per step."""
    values = load.astype(float).ravel().tolist()
    targets = receiver.tolist()
    for cell in np.argsort(-elevation.ravel(), kind="stable").tolist():
        target = targets[cell]
        if target >= 0:
            values[target] += keep * values[cell]
    return np.asarray(values).reshape(load.shape)


# ----------------------------------------------------------------------------- land cover

def _ellipse(kx, ky, centre, semi_axes, rotation_deg=0.0, edge=None):
    """Boolean mask of an ellipse in local km, edge roughened by a noise field if given."""
    angle = math.radians(rotation_deg)
    dx, dy = kx - centre[0], ky - centre[1]
    u = dx * math.cos(angle) + dy * math.sin(angle)
    v = -dx * math.sin(angle) + dy * math.cos(angle)
    r = np.sqrt((u / semi_axes[0]) ** 2 + (v / semi_axes[1]) ** 2)
    if edge is not None:
        r = r + 0.18 * edge
    return r <= 1.0


def _polyline_distance_km(kx, ky, vertices):
    """Distance (km) from every point to a polyline given as [(x, y), ...] in local km."""
    best = np.full(np.shape(kx), np.inf)
    for (ax, ay), (bx, by) in zip(vertices[:-1], vertices[1:]):
        vx, vy = bx - ax, by - ay
        t = np.clip(((kx - ax) * vx + (ky - ay) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
        best = np.minimum(best, np.hypot(kx - ax - t * vx, ky - ay - t * vy))
    return best


PIT_2017 = ((-0.40, 1.50), (0.40, 0.22), 8.0)
PIT_2019 = ((-0.37, 1.51), (0.46, 0.26), 8.0)
NEW_WORKINGS_2019 = ((0.32, 1.60), (0.24, 0.14), -10.0)
SLAG_2017 = [((-0.47, 1.00), (0.12, 0.32), 5.0), ((-0.02, 1.12), (0.09, 0.14), 0.0)]
SLAG_2019 = [((-0.47, 0.97), (0.13, 0.36), 5.0), ((-0.02, 1.10), (0.10, 0.16), 0.0),
             ((0.34, 1.27), (0.08, 0.15), 0.0)]
HAUL_ROAD_KM = [(-0.22, 1.38), (-0.05, 1.05), (-0.30, 0.75), (-0.02, 0.45), (-0.28, 0.12),
                (-0.12, -0.20)]
VILLAGES = [((1.95, None), (0.24, 0.14), 15.0), ((-2.25, None), (0.13, 0.09), -10.0)]
CLOUD_CENTRE_KM = (2.75, -2.55)


def _landcover(grid, terrain_parts, fields, year):
    """Land-cover class grid (rows, cols) uint8 for a survey year from terrain and noise fields."""
    kx, ky = grid.km_x, grid.km_y
    elevation, slope, aspect, d, t = terrain_parts
    northness = np.cos(aspect)
    above_floor = elevation - _valley_floor_m(kx)
    cover = np.full(kx.shape, GRASSLAND, dtype=np.uint8)
    forest_score = (0.75 * northness + 0.9 * fields["forest"] + 0.5 * (t > 0.45)
                    + 0.3 * np.sin(slope * 2.0))
    cover[forest_score > 0.15] = FOREST
    cultivated = ((above_floor + 45.0 * fields["fields"] < 150.0)
                  & (np.degrees(slope) < 15.0 + 4.0 * fields["fields"]))
    cover[cultivated] = CULTIVATED
    if year == 2019:
        # "Grain for Green": some steep fields abandoned to grass, some grass planted to forest
        cover[(cover == CULTIVATED) & (fields["change"] > 0.9)] = GRASSLAND
        cover[(cover == GRASSLAND) & (fields["change"] < -0.85)] = FOREST
        cover[(cover == FOREST) & (fields["change"] > 1.5)] = GRASSLAND
    for (cx, _), axes, rotation in VILLAGES:
        cy = float(_valley_line_km(cx)) + 0.12
        cover[_ellipse(kx, ky, (cx, cy), axes, rotation, fields["edge"])] = VILLAGE
    road_km = np.abs(d - 0.07)  # valley road on the north bank of the stream
    cover[road_km < 0.016] = ROAD
    cover[_polyline_distance_km(kx, ky, HAUL_ROAD_KM) < 0.017] = ROAD
    slags = SLAG_2017 if year == 2017 else SLAG_2019
    for centre, axes, rotation in slags:
        cover[_ellipse(kx, ky, centre, axes, rotation, fields["edge"])] = SLAG
    pits = [PIT_2017] if year == 2017 else [PIT_2019, NEW_WORKINGS_2019]
    for centre, axes, rotation in pits:
        mask = _ellipse(kx, ky, centre, axes, rotation, fields["edge"])
        if year == 2019:
            # new workings strip the forest around them too
            ring = _ellipse(kx, ky, centre, (axes[0] + 0.12, axes[1] + 0.10), rotation) & ~mask
            cover[ring & (cover == FOREST)] = GRASSLAND
        cover[mask] = MINE
    return cover


# ----------------------------------------------------------------------------- contamination

def _source_strength(cover, kx, haul_junction_kx):
    """Per-cell emission strength (rows, cols): pit > slag > haul road > ore-carrying road."""
    strength = np.zeros(cover.shape)
    strength[cover == MINE] = 1.0
    strength[cover == SLAG] = 0.85
    road = cover == ROAD
    # ore is trucked east along the valley road from the haul-road junction
    downstream = kx >= haul_junction_kx - 0.2
    strength[road & downstream] = 0.45
    strength[road & ~downstream] = 0.12
    strength[cover == VILLAGE] = 0.05
    return strength


def _contamination_parts(strength, elevation, receiver):
    """(dust, washed) raw contamination fields (rows, cols) of an emission-strength grid."""
    radius = 50
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    kernel = np.exp(-np.hypot(xx, yy) * PIXEL_M / DUST_DECAY_M)
    dust = signal.fftconvolve(strength, kernel, mode="same")
    washed = _route_downslope(strength, elevation, receiver, keep=WASH_KEEP_PER_CELL)
    washed = ndimage.gaussian_filter(washed, 2.0, mode="nearest")
    return dust, washed


def _ore_road_spill(cover, kx, ky, haul_junction_kx):
    """Contamination index (rows, cols) from ore fallen along the haul road and the valley road."""
    road = cover == ROAD
    haul_road = _polyline_distance_km(kx, ky, HAUL_ROAD_KM) < 0.03
    ore_road = road & ((kx >= haul_junction_kx - 0.2) | haul_road)
    distance_m = ndimage.distance_transform_edt(~ore_road) * PIXEL_M
    spill = np.exp(-distance_m / ROAD_SPILL_DECAY_M)
    # less traffic far downstream of the junction
    return spill * np.clip(1.0 - 0.18 * (kx - haul_junction_kx), 0.45, 1.0)


def _contamination_index(parts, reference, spill, model):
    """Contamination index (rows, cols) of a metal, about 1 in the 2017 pit for Cu."""
    dust, washed = parts
    dust_ref, washed_ref = reference
    mine = 0.6 * dust / dust_ref + 0.4 * (1.0 - np.exp(-washed / washed_ref))
    return model["mine_weight"] * mine + model["road_weight"] * spill


def _saturate(values, ceiling):
    """Smooth monotone ceiling: nearly the identity below 0.6 * ceiling, never above ceiling."""
    return values / (1.0 + (values / ceiling) ** 4) ** 0.25


# ----------------------------------------------------------------------------- imagery

def _reflectance(cover, contamination, moisture, slope, aspect, fields, image, rng):
    """Surface reflectance (7, rows, cols) float64 for one image of the given land cover."""
    rows, cols = cover.shape
    stress = np.clip(contamination, 0.0, 1.2)
    reflectance = np.zeros((7, rows, cols))
    brightness_variation = 1.0 + 0.10 * fields["soil_brightness"]
    for value, (canopy_class, substrate_name, canopy_fraction) in CLASS_MIXTURE.items():
        mask = cover == value
        if not mask.any():
            continue
        substrate = np.array(SUBSTRATE[substrate_name])[:, None]
        k = stress[mask]
        m = moisture[mask]
        if substrate_name == "soil":
            substrate = substrate * (1.0 + CONTAMINATED_SOIL_GAIN[:, None] * k)
        substrate = substrate * (1.0 - MOISTURE_DARKENING[:, None] * m) * brightness_variation[mask]
        fraction = canopy_fraction + image["canopy_change"] * (canopy_fraction > 0)
        fraction = fraction * (1.0 + 0.30 * fields["canopy"][mask]) * (1.0 - 0.45 * k)
        fraction = np.clip(fraction, 0.0, 0.95)
        canopy = np.array(CANOPY[canopy_class])[:, None] + STRESSED_CANOPY_SHIFT[:, None] * k
        reflectance[:, mask] = fraction * canopy + (1.0 - fraction) * substrate
    illumination = _illumination(slope, aspect, image["sun_elevation_deg"],
                                 image["sun_azimuth_deg"])
    reflectance *= illumination[None]
    reflectance *= 1.0 + 0.025 * rng.standard_normal((1, rows, cols))
    reflectance += 0.003 * rng.standard_normal((7, rows, cols))
    gain = np.array(image["gain"])[:, None, None]
    offset = np.array(image["offset"])[:, None, None]
    return gain * reflectance + offset


def _encode_landsat(reflectance):
    """Collection 2 Level-2 digital numbers (uint16, 0 kept for nodata) of reflectance."""
    dn = np.rint((reflectance - LANDSAT_OFFSET) / LANDSAT_SCALE)
    return np.clip(dn, 1, 65535).astype(np.uint16)


def _decode_landsat(dn):
    """Reflectance (float64, NaN where DN is 0) of Collection 2 Level-2 digital numbers."""
    reflectance = dn.astype(float) * LANDSAT_SCALE + LANDSAT_OFFSET
    reflectance[dn == 0] = np.nan
    return reflectance


# ----------------------------------------------------------------------------- samples

ROUTES = ("mine area", "north ridge", "south ridge", "spur ridge", "valley")
MINE_AREA_SITES_KM = [(-0.05, 1.40), (-0.47, 1.02), (-0.52, 0.60), (-0.25, 0.80)]


def _planned_sites(rng, year):
    """Planned sample sites [(kx, ky, route)] in local km: mine area, three ridges, valley."""
    count = SAMPLE_COUNTS[year]
    per_route = {"north ridge": 11, "south ridge": 9, "spur ridge": 8}
    per_route["valley"] = count - len(MINE_AREA_SITES_KM) - sum(per_route.values())
    shift = 0.0 if year == 2017 else 0.5  # the 2019 survey re-sampled between the 2017 sites
    sites = [(x + rng.uniform(-0.07, 0.07), y + rng.uniform(-0.07, 0.07), "mine area")
             for x, y in MINE_AREA_SITES_KM]
    for route, n in per_route.items():
        along = (np.arange(n) + shift + rng.uniform(-0.25, 0.25, n)) / n
        valley_side = rng.uniform(size=n) < 0.75
        height = rng.uniform(0.25, 0.6, n)  # mid-hillside, where it was possible to reach
        for p, towards_valley, h in zip(along, valley_side, height):
            if route == "north ridge":
                kx = -2.9 + 5.6 * p
                crest = float(_valley_line_km(kx) + _north_crest_distance_km(kx))
                ky = crest - h * 1.6 if towards_valley else min(crest + 0.5 * h, 2.85)
            elif route == "south ridge":
                kx = -2.9 + 5.8 * p
                crest = float(_valley_line_km(kx) - _south_crest_distance_km(kx))
                ky = crest + h * 1.4 if towards_valley else max(crest - 0.5 * h, -2.85)
            elif route == "spur ridge":
                ky = float(_valley_line_km(1.3)) + 0.4 + 1.5 * p
                side = 1.0 if towards_valley else -1.0
                kx = float(_spur_line_km(ky)) + side * (0.05 + 0.3 * h)
            else:
                kx = -2.95 + 5.9 * p
                ky = float(_valley_line_km(kx)) + rng.uniform(-0.1, 0.18)
            sites.append((kx, ky, route))
    return sites


def _sample_plan(grid, rng, year, blocked):
    """Sample cells [(row, col, route)]: planned sites moved to a free cell if needed."""
    cells = []
    taken = np.zeros((grid.height, grid.width), dtype=bool)
    for kx, ky, route in _planned_sites(rng, year):
        x, y = grid.from_km(kx, ky)
        row, col = (int(v) for v in grid.cell_of(x, y))
        row = min(max(row, 3), grid.height - 4)
        col = min(max(col, 3), grid.width - 4)
        # the nearest cell off the cloud patch and at least 4 cells from other samples
        for radius in range(0, 10):
            options = [(row + dr, col + dc) for dr in range(-radius, radius + 1)
                       for dc in range(-radius, radius + 1) if max(abs(dr), abs(dc)) == radius]
            options = [(r, c) for r, c in options
                       if 3 <= r < grid.height - 3 and 3 <= c < grid.width - 3
                       and not blocked[r, c] and not taken[r - 3:r + 4, c - 3:c + 4].any()]
            if options:
                row, col = options[0]
                break
        else:
            raise RuntimeError("no free sample cell near a planned site")
        taken[row, col] = True
        cells.append((row, col, route))
    return cells


def _window_mean(array, row, col):
    """Mean of the 3x3 window centred on (row, col) of a 2-D or (bands, rows, cols) array."""
    return array[..., row - 1:row + 2, col - 1:col + 2].mean(axis=(-2, -1))


def _choose_abnormal(rng, true_values, measured, land_use, count):
    """Indices of samples made abnormal (slag fragments) and their multipliers."""
    preferred = [i for i, use in enumerate(land_use) if use in ("slag", "mine", "road")]
    others = [i for i in np.argsort(-true_values) if i not in preferred]
    pool = (preferred + [int(i) for i in others])[:max(count + 2, 4)]
    chosen = [int(i) for i in rng.choice(pool, size=count, replace=False)]
    normal = np.delete(measured, chosen)
    q1, q3 = np.percentile(normal, [25, 75])
    limit = q3 + 3.6 * (q3 - q1)
    multipliers = []
    for i in chosen:
        factor = rng.uniform(3.2, 4.6)
        factor = max(factor, min(limit / measured[i], 5.0))
        multipliers.append(float(factor))
    return chosen, multipliers


def _sample_factors(reflectance, elevation_grid, cells):
    """Factor table {name: (n,) array} at sample cells from 3x3 window means."""
    bands = np.array([_window_mean(reflectance, r, c) for r, c, _ in cells]).T  # (7, n)
    return factors_from_bands(bands, np.array([_window_mean(elevation_grid, r, c) for r, c, _ in cells]))


def factors_from_bands(bands, elevation):
    """The demo's factor table {name: (n,) array} from reflectance bands B1-B7 (7, n) and the
    elevation (n,) at the samples (tests/core/test_demo_data.py computes it from the files)."""
    b2, b3, b4, b5, b6, b7 = bands[1:7]
    factors = {f"B{i}": bands[i - 1] for i in range(2, 8)}
    factors["NDVI"] = (b5 - b4) / (b5 + b4)
    factors["MNDWI"] = (b3 - b6) / (b3 + b6)
    factors["CMR"] = b6 / b7
    factors["Brightness"] = TC_BRIGHTNESS @ bands[1:7]
    factors["Greenness"] = TC_GREENNESS @ bands[1:7]
    factors["Elevation"] = np.asarray(elevation, dtype=float)
    return factors


# ----------------------------------------------------------------------------- writing

def _create_raster(path, grid_info, bands, data_type, nodata):
    """Create a DEFLATE GeoTIFF (bands count) for grid_info = (width, height, gt, epsg)."""
    width, height, geotransform, epsg = grid_info
    if os.path.exists(path):
        gdal.GetDriverByName("GTiff").Delete(path)
    dataset = gdal.GetDriverByName("GTiff").Create(
        path, width, height, bands, data_type, options=["COMPRESS=DEFLATE", "TILED=YES"])
    dataset.SetGeoTransform(geotransform)
    dataset.SetProjection(_spatial_reference(epsg).ExportToWkt())
    for index in range(1, bands + 1):
        dataset.GetRasterBand(index).SetNoDataValue(nodata)
    return dataset


def _write_float(path, grid, array, description):
    """Write a Float32 single-band map on the UTM grid, nodata -9999."""
    dataset = _create_raster(path, (grid.width, grid.height, grid.geotransform, UTM_EPSG), 1,
                             gdal.GDT_Float32, FLOAT_NODATA)
    band = dataset.GetRasterBand(1)
    band.SetDescription(description)
    band.WriteArray(np.where(np.isfinite(array), array, FLOAT_NODATA).astype(np.float32))
    dataset = None


def _write_landcover(path, grid, cover):
    """Write the Byte land-cover map with colour table and class names."""
    dataset = _create_raster(path, (grid.width, grid.height, grid.geotransform, UTM_EPSG), 1,
                             gdal.GDT_Byte, LANDCOVER_NODATA)
    band = dataset.GetRasterBand(1)
    band.SetDescription("land_cover")
    table = gdal.ColorTable()
    names = [""] * (max(value for value, *_ in CLASSES) + 1)
    for value, name, _, colour in CLASSES:
        table.SetColorEntry(value, colour + (255,))
        names[value] = name
    band.SetRasterColorTable(table)
    band.SetCategoryNames(names)
    band.WriteArray(cover)
    dataset = None


def _write_landsat(path, grid, dn, image):
    """Write a 7-band UInt16 Collection 2 Level-2 style image, nodata 0, scale/offset set."""
    dataset = _create_raster(path, (grid.width, grid.height, grid.geotransform, UTM_EPSG), 7,
                             gdal.GDT_UInt16, 0)
    dataset.SetMetadata({"ACQUISITION_DATE": image["date"], "SENSOR": "Landsat 8 OLI (synthetic)",
                         "PROCESSING_LEVEL": "L2SP-like surface reflectance",
                         "SUN_ELEVATION": str(image["sun_elevation_deg"]),
                         "SUN_AZIMUTH": str(image["sun_azimuth_deg"])})
    for index, name in enumerate(LANDSAT_BANDS):
        band = dataset.GetRasterBand(index + 1)
        band.SetDescription(name)
        band.SetScale(LANDSAT_SCALE)
        band.SetOffset(LANDSAT_OFFSET)
        band.WriteArray(dn[index])
    dataset = None


def _write_dem(path, dem_info, dem):
    """Write the Int16 EPSG:4326 1 arc-second DEM, nodata -32768."""
    dataset = _create_raster(path, dem_info, 1, gdal.GDT_Int16, DEM_NODATA)
    band = dataset.GetRasterBand(1)
    band.SetDescription("elevation_m")
    band.WriteArray(dem)
    dataset = None


def _write_samples(path, survey):
    """Write a survey's points (EPSG:4326) to a GeoPackage layer named 'samples'."""
    driver = ogr.GetDriverByName("GPKG")
    if os.path.exists(path):
        driver.DeleteDataSource(path)
    source = driver.CreateDataSource(path)
    layer = source.CreateLayer("samples", _spatial_reference(GEOGRAPHIC_EPSG), ogr.wkbPoint)
    for name, kind in (("sample_id", ogr.OFTString), ("date", ogr.OFTDate),
                       ("cu_mg_kg", ogr.OFTReal), ("pb_mg_kg", ogr.OFTReal),
                       ("land_use", ogr.OFTString)):
        layer.CreateField(ogr.FieldDefn(name, kind))
    lon, lat = survey["lonlat"]
    layer.StartTransaction()
    for i in range(len(survey["cells"])):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("sample_id", survey["ids"][i])
        feature.SetField("date", survey["dates"][i])
        feature.SetField("cu_mg_kg", float(survey["measured"]["cu"][i]))
        feature.SetField("pb_mg_kg", float(survey["measured"]["pb"][i]))
        feature.SetField("land_use", survey["land_use"][i])
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(lon[i]), float(lat[i]))
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    source = None


def sample_id(year, index):
    """Identifier of the index-th (0-based) sample of a survey year, e.g. 'S17-01'."""
    return f"S{year % 100:02d}-{index + 1:02d}"


# ----------------------------------------------------------------------------- DEM grid

def _dem_grid(grid):
    """(width, height, geotransform) of the 1 arc-second DEM covering the study area + margin."""
    xmin, ymin, xmax, ymax = grid.bounds()
    edge = np.linspace(0.0, 1.0, 41)
    xs = np.concatenate([xmin + (xmax - xmin) * edge, np.full(41, xmax),
                         xmax - (xmax - xmin) * edge, np.full(41, xmin)])
    ys = np.concatenate([np.full(41, ymin), ymin + (ymax - ymin) * edge,
                         np.full(41, ymax), ymax - (ymax - ymin) * edge])
    lon, lat = _transform(xs, ys, UTM_EPSG, GEOGRAPHIC_EPSG)
    per = DEM_CELLS_PER_DEGREE
    col0 = math.floor(lon.min() * per) - DEM_MARGIN_CELLS
    col1 = math.ceil(lon.max() * per) + DEM_MARGIN_CELLS
    row0 = math.ceil(lat.max() * per) + DEM_MARGIN_CELLS  # top edge, in arc-seconds
    row1 = math.floor(lat.min() * per) - DEM_MARGIN_CELLS
    width, height = col1 - col0, row0 - row1
    geotransform = (col0 / per, 1.0 / per, 0.0, row0 / per, 0.0, -1.0 / per)
    return width, height, geotransform


def _dem(grid, terrain):
    """(Int16 DEM array, geotransform, void cells [(row, col)]) in EPSG:4326."""
    width, height, geotransform = _dem_grid(grid)
    lon = geotransform[0] + (np.arange(width) + 0.5) * geotransform[1]
    lat = geotransform[3] + (np.arange(height) + 0.5) * geotransform[5]
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    x, y = _transform(lon_grid, lat_grid, GEOGRAPHIC_EPSG, UTM_EPSG)
    dem = np.rint(terrain.elevation_utm(x, y)).astype(np.int16)
    # voids like a real download, in the north-west corner of the margin, far outside the grid
    xmin, ymin, xmax, ymax = grid.bounds()
    outside = np.maximum.reduce([xmin - x, x - xmax, ymin - y, y - ymax])
    voids = [(1, 2), (1, 3), (2, 2), (2, 3), (2, 4), (3, 3), (5, 1)]
    for row, col in voids:
        if outside[row, col] < 120.0:
            raise RuntimeError("DEM void planned inside the study area")
        dem[row, col] = DEM_NODATA
    return dem, (width, height, geotransform), voids


def _warp_dem_to_grid(dem_path, grid):
    """DEM resampled (bilinear) onto the UTM grid -> float64 (rows, cols), NaN for nodata."""
    xmin, ymin, xmax, ymax = grid.bounds()
    warped = gdal.Warp("", dem_path, format="MEM", dstSRS=f"EPSG:{UTM_EPSG}",
                       outputBounds=(xmin, ymin, xmax, ymax), xRes=PIXEL_M, yRes=PIXEL_M,
                       resampleAlg="bilinear", dstNodata=FLOAT_NODATA, outputType=gdal.GDT_Float32)
    array = warped.GetRasterBand(1).ReadAsArray().astype(float)
    array[array == FLOAT_NODATA] = np.nan
    return array


# ----------------------------------------------------------------------------- main

def _is_complete(output_dir, seed):
    """True when output_dir holds every file of a finished run with this seed."""
    metadata_path = os.path.join(output_dir, FILE_NAMES["metadata"])
    try:
        with open(metadata_path, "r", encoding="utf-8") as handle:
            metadata = json.load(handle)
    except (OSError, ValueError):
        return False
    if metadata.get("seed") != seed or metadata.get("generator_version") != GENERATOR_VERSION:
        return False
    return all(os.path.isfile(os.path.join(output_dir, name)) for name in FILE_NAMES.values())


def generate(output_dir, seed=DEFAULT_SEED, force=True):
    """Write the synthetic survey to output_dir -> {key: path}; force=False keeps finished data."""
    output_dir = os.path.abspath(str(output_dir))
    paths = {key: os.path.join(output_dir, name) for key, name in FILE_NAMES.items()}
    if not force and _is_complete(output_dir, seed):
        return paths
    os.makedirs(output_dir, exist_ok=True)
    if os.path.exists(paths["metadata"]):
        os.remove(paths["metadata"])  # a run stopped half-way must not look complete

    rng = np.random.default_rng(seed)
    grid = Grid()
    scene = _simulate_scene(rng, grid)

    dem, dem_grid, voids = _dem(grid, scene["terrain"])
    _write_dem(paths["dem"], dem_grid + (GEOGRAPHIC_EPSG,), dem)
    for year in (2017, 2019):
        _write_landcover(paths[f"landcover_{year}"], grid, scene["covers"][year])
        _write_landsat(paths[f"landsat_{year}"], grid, scene["dns"][year], IMAGES[year])
        for metal in ("cu", "pb"):
            _write_float(paths[f"true_{metal}_{year}"], grid, scene["metals"][(year, metal)],
                         f"true_{metal}_mg_kg")

    elevation_on_grid = _warp_dem_to_grid(paths["dem"], grid)
    sample_info, correlations = {}, {}
    for year in (2017, 2019):
        survey = _simulate_survey(rng, grid, scene, year)
        _write_samples(paths[f"samples_{year}"], survey)
        correlations[str(year)] = _survey_correlations(scene["dns"][year], elevation_on_grid,
                                                       survey)
        land_use = survey["land_use"]
        sample_info[str(year)] = {
            "count": len(survey["cells"]), "abnormal": survey["abnormal"],
            "land_use_counts": {use: land_use.count(use) for use in sorted(set(land_use))},
            "routes": {route: sum(1 for *_, r in survey["cells"] if r == route)
                       for route in ROUTES}}

    metadata = _metadata(grid, dem_grid, voids, scene, sample_info, correlations, seed)
    with open(paths["readme"], "w", encoding="utf-8") as handle:
        handle.write(_readme(metadata))
    with open(paths["metadata"], "w", encoding="utf-8") as handle:
        json.dump(metadata, handle, indent=2)
        handle.write("\n")
    return paths


def _simulate_scene(rng, grid):
    """Terrain, land cover, contamination, true metal maps and Landsat DN of both years (dict)."""
    terrain = Terrain(rng, grid)
    kx, ky = grid.km_x, grid.km_y
    elevation = terrain.elevation_km(kx, ky)
    slope, aspect = _slope_aspect(elevation)
    d, t = terrain.relative_position(kx, ky)
    receiver = _d8_receivers(elevation)

    shape = (grid.height, grid.width)
    fields = {"forest": _grid_noise(rng, shape, 6), "fields": _grid_noise(rng, shape, 4),
              "change": _grid_noise(rng, shape, 5), "edge": _grid_noise(rng, shape, 2),
              "canopy": _grid_noise(rng, shape, 2.5), "soil_brightness": _grid_noise(rng, shape, 3)}
    covers = {year: _landcover(grid, (elevation, slope, aspect, d, t), fields, year)
              for year in (2017, 2019)}
    moisture = _soil_moisture(rng, elevation, slope, receiver, kx)
    contamination = _contamination(grid, covers, elevation, receiver)
    metals = _metal_maps(rng, contamination, shape)

    dns = {}
    for year in (2017, 2019):
        # plants and soil respond to the whole metal load; Cu dominates it
        reflectance = _reflectance(covers[year], contamination[(year, "cu")], moisture, slope,
                                   aspect, fields, IMAGES[year], rng)
        dns[year] = _encode_landsat(reflectance)
    cloud = _ellipse(kx, ky, CLOUD_CENTRE_KM, (0.09, 0.065), 30.0, fields["edge"])
    dns[2019][:, cloud] = 0
    return {"terrain": terrain, "covers": covers, "metals": metals, "dns": dns, "cloud": cloud}


def _soil_moisture(rng, elevation, slope, receiver, kx):
    """Relative soil moisture 0..1 (rows, cols): wet valley floor and converging hollows."""
    catchment = _route_downslope(np.ones(elevation.shape), elevation, receiver, keep=1.0)
    wetness = np.log(catchment * PIXEL_M / np.maximum(np.tan(slope), 0.02))
    wetness = ndimage.gaussian_filter(wetness, 1.0)
    low, high = np.percentile(wetness, [5, 99])
    wetness = np.clip((wetness - low) / (high - low), 0.0, 1.0)
    floor_wetness = np.exp(-np.maximum(elevation - _valley_floor_m(kx), 0) / 60.0)
    return np.clip(0.5 * wetness + 0.5 * floor_wetness
                   + 0.1 * _grid_noise(rng, elevation.shape, 3), 0.0, 1.0)


def _contamination(grid, covers, elevation, receiver):
    """Contamination index {(year, metal): (rows, cols)} from the sources of each year."""
    kx, ky = grid.km_x, grid.km_y
    haul_junction_kx = HAUL_ROAD_KM[-1][0]
    parts = {year: _contamination_parts(_source_strength(covers[year], kx, haul_junction_kx),
                                        elevation, receiver) for year in (2017, 2019)}
    # one reference for both years, so 2019's larger sources give a larger index
    in_pit = covers[2017] == MINE
    reference = (float(np.median(parts[2017][0][in_pit])),
                 float(np.percentile(parts[2017][1], 97)))
    spills = {year: _ore_road_spill(covers[year], kx, ky, haul_junction_kx)
              for year in (2017, 2019)}
    contamination = {}
    for metal, model in METAL_MODELS.items():
        for year in (2017, 2019):
            contamination[(year, metal)] = _contamination_index(parts[year], reference,
                                                                spills[year], model)
        contamination[(2019, metal)] = np.maximum(contamination[(2019, metal)],
                                                  LEGACY_FACTOR_2019 * contamination[(2017, metal)])
    return contamination


def _metal_maps(rng, contamination, shape):
    """True content (mg/kg) {(year, metal): (rows, cols)}: background plus contamination."""
    # Geogenic background (ore-rich bedrock) and short-range variation: invisible to the sensor.
    geogenic = {"cu": _grid_noise(rng, shape, 12)}
    geogenic["pb"] = 0.5 * geogenic["cu"] + math.sqrt(0.75) * _grid_noise(rng, shape, 12)
    local = {"cu": _grid_noise(rng, shape, 1.5), "pb": _grid_noise(rng, shape, 1.5)}
    # uneven spread of ore fragments and tailings within the contaminated ground
    patches = {"cu": _grid_noise(rng, shape, 4)}
    patches["pb"] = 0.6 * patches["cu"] + 0.8 * _grid_noise(rng, shape, 4)
    metals = {}
    for metal, model in METAL_MODELS.items():
        variation = np.exp(model["geogenic_sd"] * geogenic[metal]
                           + model["local_sd"] * local[metal])
        patchiness = np.exp(model["patchiness_sd"] * np.clip(patches[metal], -2.0, 2.0))
        for year in (2017, 2019):
            k = np.clip(contamination[(year, metal)], 0.0, 1.3)
            content = (model["background"][year] * variation
                       + model["amplitude"][year] * k ** model["exponent"] * patchiness)
            metals[(year, metal)] = _saturate(content, model["saturation"])
    return metals


def _simulate_survey(rng, grid, scene, year):
    """One field survey: cells, lon/lat, land use, dates, measured content, abnormal maxima."""
    blocked = ndimage.binary_dilation(scene["cloud"], iterations=5)
    cells = _sample_plan(grid, rng, year, blocked)
    rows = np.array([r for r, _, _ in cells])
    cols = np.array([c for _, c, _ in cells])
    # the recorded GPS position is near, not at, the cell centre
    x = grid.x0 + (cols + 0.5 + rng.uniform(-0.3, 0.3, len(cells))) * PIXEL_M
    y = grid.y_top - (rows + 0.5 + rng.uniform(-0.3, 0.3, len(cells))) * PIXEL_M
    lonlat = _transform(x, y, UTM_EPSG, GEOGRAPHIC_EPSG)
    land_use = [LAND_USE[int(scene["covers"][year][r, c])] for r, c in zip(rows, cols)]
    days = SAMPLING_DAYS[year]
    dates = [days[min(i * len(days) // len(cells), len(days) - 1)] for i in range(len(cells))]
    measured, abnormal = {}, {}
    for metal in ("cu", "pb"):
        true_at = np.array([_window_mean(scene["metals"][(year, metal)], r, c)
                            for r, c in zip(rows, cols)])
        noise = np.clip(rng.standard_normal(len(cells)), -2.5, 2.5)
        values = true_at * (1.0 + MEASUREMENT_RELATIVE_SD * noise)
        chosen, multipliers = _choose_abnormal(rng, true_at, values, land_use,
                                               ABNORMAL_COUNTS[(year, metal)])
        for i, factor in zip(chosen, multipliers):
            values[i] = true_at[i] * factor
        measured[metal] = np.round(values, 2)
        abnormal[metal] = [{"sample_id": sample_id(year, i), "multiplier": round(f, 3),
                            "true_mg_kg": round(float(true_at[i]), 2),
                            "measured_mg_kg": float(measured[metal][i])}
                           for i, f in zip(chosen, multipliers)]
    return {"cells": cells, "ids": [sample_id(year, i) for i in range(len(cells))],
            "lonlat": lonlat, "land_use": land_use, "dates": dates, "measured": measured,
            "abnormal": abnormal}


def _survey_correlations(dn, elevation_on_grid, survey):
    """{metal: {factor: Pearson r}} at the samples, abnormal maxima left out."""
    factors = _sample_factors(_decode_landsat(dn), elevation_on_grid, survey["cells"])
    correlations = {}
    for metal in ("cu", "pb"):
        abnormal = {entry["sample_id"] for entry in survey["abnormal"][metal]}
        keep = np.array([i not in abnormal for i in survey["ids"]])
        content = survey["measured"][metal][keep]
        correlations[metal] = {name: round(float(np.corrcoef(column[keep], content)[0, 1]), 3)
                               for name, column in factors.items()}
    return correlations


def _metadata(grid, dem_grid, voids, scene, sample_info, correlations, seed):
    """The demo_metadata.json content as a dict."""
    covers, metals, cloud = scene["covers"], scene["metals"], scene["cloud"]
    width, height, dem_gt = dem_grid
    statistics = {}
    for (year, metal), array in metals.items():
        statistics[f"{metal}_{year}"] = {
            "min": round(float(array.min()), 2), "max": round(float(array.max()), 2),
            "mean": round(float(array.mean()), 2), "sd": round(float(array.std()), 2),
            "p5": round(float(np.percentile(array, 5)), 2),
            "p95": round(float(np.percentile(array, 95)), 2)}
    class_share = {str(year): {LAND_USE[v]: round(float(np.mean(cover == v)), 4)
                               for v, *_ in CLASSES} for year, cover in covers.items()}
    return {
        "description": (
            "Synthetic survey of a Daxigou-like mining area (Zhashui County, Shaanxi): open pit "
            "near the northern ridge top, slag heaps in the gully below it, a haul road down to "
            "the valley road. Two Landsat 8 OLI Level-2-like images (2017-12-15, 2019-11-18), a "
            "1 arc-second DEM, true Cu/Pb maps (mg/kg) and 44 + 43 field samples (October 2017 "
            "and October 2019). Not real data: made by demo/generate_demo_data.py."),
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "grid": {"crs": f"EPSG:{UTM_EPSG}", "width": grid.width, "height": grid.height,
                 "pixel_size_m": PIXEL_M, "geotransform": list(grid.geotransform),
                 "bounds": list(grid.bounds()), "area_km2": grid.width * grid.height * 900 / 1e6},
        "dem": {"crs": f"EPSG:{GEOGRAPHIC_EPSG}", "width": width, "height": height,
                "pixel_size_deg": 1.0 / DEM_CELLS_PER_DEGREE, "geotransform": list(dem_gt),
                "data_type": "Int16", "nodata": DEM_NODATA,
                "void_cells_row_col": [list(v) for v in voids]},
        "files": dict(FILE_NAMES),
        "land_cover_classes": [{"value": v, "name": n, "land_use": u, "colour": list(c)}
                               for v, n, u, c in CLASSES],
        "land_cover_nodata": LANDCOVER_NODATA,
        "land_cover_share": class_share,
        "landsat": {
            str(year): {"file": image["name"], "date": image["date"],
                        "sun_elevation_deg": image["sun_elevation_deg"],
                        "sun_azimuth_deg": image["sun_azimuth_deg"],
                        "radiometric_gain": image["gain"], "radiometric_offset": image["offset"]}
            for year, image in IMAGES.items()},
        "landsat_encoding": {"bands": LANDSAT_BANDS, "data_type": "UInt16", "nodata": 0,
                             "scale": LANDSAT_SCALE, "offset": LANDSAT_OFFSET,
                             "formula": "reflectance = DN * 0.0000275 - 0.2"},
        "cloud_masked_pixels": {"image": IMAGES[2019]["name"], "count": int(cloud.sum())},
        "true_maps": {"unit": "mg/kg", "nodata": FLOAT_NODATA, "statistics": statistics},
        "samples": {"layer": "samples", "crs": f"EPSG:{GEOGRAPHIC_EPSG}",
                    "measurement_relative_sd": MEASUREMENT_RELATIVE_SD,
                    "measured_value": "3x3-window mean of the true map x (1 + noise)",
                    **sample_info},
        "abnormal_samples": {year: {metal: [e["sample_id"] for e in info["abnormal"][metal]]
                                    for metal in ("cu", "pb")}
                             for year, info in sample_info.items()},
        "correlations_at_samples": {
            "note": ("Pearson r between measured content (abnormal maxima excluded) and factors "
                     "from 3x3 window means of the decoded Landsat bands and the DEM warped "
                     "bilinearly to the 30 m grid; tasseled cap after Baig et al. (2014)."),
            **correlations},
    }


def _readme(metadata):
    """README.md text for the output directory."""
    stats = metadata["true_maps"]["statistics"]
    lines = [
        "# soilmetal demo data (synthetic)",
        "",
        "These files are **synthetic**. The survey of Yang et al. (2023) is not public, so "
        "`demo/generate_demo_data.py` simulates a study area like the Daxigou mine (Zhashui "
        "County, Shaanxi) with a fixed random seed "
        f"({metadata['seed']}); every run gives the same data.",
        "",
        "How it was made:",
        "- Terrain: an analytic function of UTM x/y (three ridges, a main valley with a stream, "
        "side gullies, smooth noise), sampled at each 1 arc-second cell centre for "
        "`dem_1arcsec.tif` (EPSG:4326, Int16, nodata -32768, a few voids in the north-west "
        "margin).",
        "- Land cover on a 220 x 200 grid of 30 m cells in EPSG:32649: forest, grassland, "
        "cultivated land, open-pit mine, slag heaps, roads, villages; the pit grows by 2019.",
        "- Landsat 8 OLI: class end-member spectra mixed with canopy fraction, soil moisture, "
        "contamination (stressed canopy, stained soil) and winter terrain illumination, encoded "
        "as Collection 2 Level-2 DN (reflectance = DN x 0.0000275 - 0.2, nodata 0). The 2019 "
        "image has a radiometric gain/offset shift and a small cloud-masked patch.",
        "- True Cu/Pb (mg/kg): geogenic background (invisible to the sensor) plus contamination "
        "from the pit, slag heaps and ore roads, carried as dust and washed downslope.",
        "- Samples: 3x3-window means of the true maps with 7 % measurement noise; a few "
        "abnormal maxima (slag fragments) listed in `demo_metadata.json`.",
        "",
        "True map ranges (mg/kg): " + "; ".join(
            f"{key} {value['min']:.0f}-{value['max']:.0f} (mean {value['mean']:.1f})"
            for key, value in stats.items()),
        "",
        "Files:",
    ]
    lines += [f"- `{name}`" for key, name in metadata["files"].items()]
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?",
                        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true",
                        help="regenerate even if the directory already holds complete data")
    args = parser.parse_args(argv)
    if not args.force and _is_complete(args.output_dir, args.seed):
        print(f"Demo data already complete in {args.output_dir} (use --force to regenerate).")
        return 0
    paths = generate(args.output_dir, seed=args.seed, force=True)
    print(f"Wrote {len(paths)} files to {os.path.abspath(args.output_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
