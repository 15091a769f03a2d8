"""Tests of the synthetic demo survey (demo/generate_demo_data.py), read back with GDAL/OGR."""

import json
import os
import re

import numpy as np
import pytest

from osgeo import gdal, ogr, osr

from demo import generate_demo_data as generator

YEARS = (2017, 2019)
METALS = ("cu", "pb")
COUNTS = {2017: 44, 2019: 43}
LAND_USES = {"forest", "grassland", "cultivated", "mine", "slag", "road", "village"}
SCALE, OFFSET = 0.0000275, -0.2


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Generate the demo data once -> (paths dict, metadata dict)."""
    paths = generator.generate(tmp_path_factory.mktemp("demo"))
    with open(paths["metadata"], encoding="utf-8") as handle:
        metadata = json.load(handle)
    return paths, metadata


def _epsg(dataset_or_layer_srs):
    """EPSG code (int) of an osr.SpatialReference."""
    srs = dataset_or_layer_srs.Clone()
    srs.AutoIdentifyEPSG()
    return int(srs.GetAuthorityCode(None))


def _raster(path):
    """(dataset, band-1 array) of a raster file."""
    dataset = gdal.Open(str(path))
    return dataset, dataset.GetRasterBand(1).ReadAsArray()


def _transformer(src_epsg, dst_epsg):
    """osr transformation with traditional GIS (x = longitude/easting) axis order."""
    srs = []
    for code in (src_epsg, dst_epsg):
        ref = osr.SpatialReference()
        ref.ImportFromEPSG(code)
        ref.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        srs.append(ref)
    return osr.CoordinateTransformation(*srs)


def _samples(path):
    """List of dicts (fields + lon, lat) of the 'samples' layer, and the layer's EPSG code."""
    source = ogr.Open(str(path))
    layer = source.GetLayerByName("samples")
    assert layer is not None, "layer 'samples' missing"
    definition = layer.GetLayerDefn()
    types = {definition.GetFieldDefn(i).GetName(): definition.GetFieldDefn(i).GetType()
             for i in range(definition.GetFieldCount())}
    rows = []
    for feature in layer:
        geometry = feature.GetGeometryRef()
        row = {name: feature.GetField(name) for name in types}
        row["date_parts"] = feature.GetFieldAsDateTime("date")[:3]
        row["lon"], row["lat"] = geometry.GetX(), geometry.GetY()
        row["geometry_type"] = geometry.GetGeometryType()
        rows.append(row)
    return rows, types, _epsg(layer.GetSpatialRef())


def _sample_cells(rows, geotransform):
    """(row, col) arrays of the UTM grid cells holding the samples."""
    transform = _transformer(4326, 32649)
    xy = np.array(transform.TransformPoints([(r["lon"], r["lat"]) for r in rows]))
    col = np.floor((xy[:, 0] - geotransform[0]) / geotransform[1]).astype(int)
    row = np.floor((xy[:, 1] - geotransform[3]) / geotransform[5]).astype(int)
    return row, col


def _window_means(array, rows, cols):
    """3x3 window means of a (..., rows, cols) array at each (row, col) -> (..., n)."""
    return np.stack([array[..., r - 1:r + 2, c - 1:c + 2].mean(axis=(-2, -1))
                     for r, c in zip(rows, cols)], axis=-1)


def _reflectance(path):
    """Decoded reflectance (7, rows, cols) float64, NaN where DN is 0."""
    dn = gdal.Open(str(path)).ReadAsArray().astype(float)
    reflectance = dn * SCALE + OFFSET
    reflectance[dn == 0] = np.nan
    return reflectance


def _dem_on_grid(dem_path, reference_path):
    """DEM warped bilinearly onto the reference raster's grid -> float64, NaN for nodata."""
    reference = gdal.Open(str(reference_path))
    gt = reference.GetGeoTransform()
    bounds = (gt[0], gt[3] + reference.RasterYSize * gt[5],
              gt[0] + reference.RasterXSize * gt[1], gt[3])
    warped = gdal.Warp("", str(dem_path), format="MEM", dstSRS="EPSG:32649", outputBounds=bounds,
                       xRes=gt[1], yRes=-gt[5], resampleAlg="bilinear", dstNodata=-9999,
                       outputType=gdal.GDT_Float32)
    array = warped.GetRasterBand(1).ReadAsArray().astype(float)
    array[array == -9999] = np.nan
    return array


def _factors(paths, year):
    """Factors at the samples of a year from 3x3 window means -> ({name: (n,)}, sample rows)."""
    rows, _, _ = _samples(paths[f"samples_{year}"])
    landsat = paths[f"landsat_{year}"]
    geotransform = gdal.Open(str(landsat)).GetGeoTransform()
    r, c = _sample_cells(rows, geotransform)
    bands = _window_means(_reflectance(landsat), r, c)  # (7, n)
    elevation = _window_means(_dem_on_grid(paths["dem"], landsat), r, c)
    return generator.factors_from_bands(bands, elevation), rows


def _abnormal_ids(metadata, year, metal):
    """Sample ids the metadata lists as abnormal maxima."""
    return set(metadata["abnormal_samples"][str(year)][metal])


def _correlations(paths, metadata, year, metal):
    """{factor: Pearson r} between measured content (abnormal excluded) and factors."""
    factors, rows = _factors(paths, year)
    keep = np.array([row["sample_id"] not in _abnormal_ids(metadata, year, metal) for row in rows])
    values = np.array([row[f"{metal}_mg_kg"] for row in rows])
    return {name: float(np.corrcoef(column[keep], values[keep])[0, 1])
            for name, column in factors.items()}


# ----------------------------------------------------------------------------- tests

def test_all_files_written_and_readme_says_synthetic(demo):
    paths, metadata = demo
    for key, path in paths.items():
        assert os.path.isfile(path), key
    assert set(metadata["files"].values()) == {os.path.basename(p) for p in paths.values()}
    with open(paths["readme"], encoding="utf-8") as handle:
        assert "synthetic" in handle.read().lower()


def test_utm_grids_share_the_30m_study_area_grid(demo):
    paths, _ = demo
    keys = ["landcover_2017", "landcover_2019", "landsat_2017", "landsat_2019"] + \
        [f"true_{m}_{y}" for m in METALS for y in YEARS]
    geotransforms = set()
    for key in keys:
        dataset = gdal.Open(paths[key])
        assert _epsg(dataset.GetSpatialRef()) == 32649, key
        assert (dataset.RasterXSize, dataset.RasterYSize) == (220, 200), key
        gt = dataset.GetGeoTransform()
        assert gt[1] == 30.0 and gt[5] == -30.0 and gt[2] == 0.0 and gt[4] == 0.0, key
        assert gt[0] % 30.0 == 0.0 and gt[3] % 30.0 == 0.0, key
        geotransforms.add(gt)
    assert len(geotransforms) == 1
    gt = geotransforms.pop()
    lon, lat, _ = _transformer(32649, 4326).TransformPoint(gt[0] + 3300.0, gt[3] - 3000.0)
    assert abs(lon - 109.1) < 0.02 and abs(lat - 33.7) < 0.02
    assert 220 * 200 * 900 / 1e6 == pytest.approx(39.6)


def test_dem_is_a_1_arcsecond_int16_download_covering_the_grid(demo):
    paths, _ = demo
    dataset, dem = _raster(paths["dem"])
    band = dataset.GetRasterBand(1)
    assert _epsg(dataset.GetSpatialRef()) == 4326
    assert band.DataType == gdal.GDT_Int16
    assert band.GetNoDataValue() == -32768
    gt = dataset.GetGeoTransform()
    assert abs(gt[1] - 1.0 / 3600.0) < 1e-9 and abs(gt[5] + 1.0 / 3600.0) < 1e-9
    assert abs(gt[0] * 3600 - round(gt[0] * 3600)) < 1e-6  # snapped to whole arc-seconds
    valid = dem[dem != -32768]
    assert valid.min() >= 800 and valid.max() <= 1800
    assert valid.max() - valid.min() > 600
    # a few voids, all in the margin well outside the UTM study area
    void_rows, void_cols = np.nonzero(dem == -32768)
    assert 1 <= len(void_rows) <= 30
    grid_gt = gdal.Open(paths["landsat_2017"]).GetGeoTransform()
    xmin, ymax = grid_gt[0], grid_gt[3]
    xmax, ymin = xmin + 220 * 30.0, ymax - 200 * 30.0
    to_utm = _transformer(4326, 32649)
    for r, c in zip(void_rows, void_cols):
        x, y, _ = to_utm.TransformPoint(gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5])
        assert not (xmin - 60 < x < xmax + 60 and ymin - 60 < y < ymax + 60)
    # covers the grid with a margin: the warp has no gaps, and ridges/valleys are there
    on_grid = _dem_on_grid(paths["dem"], paths["landsat_2017"])
    assert np.isfinite(on_grid).all()
    assert np.nanmax(on_grid) - np.nanmin(on_grid) > 600
    to_lonlat = _transformer(32649, 4326)
    corners = [to_lonlat.TransformPoint(x, y) for x in (xmin, xmax) for y in (ymin, ymax)]
    lon_min = gt[0]
    lon_max = gt[0] + dataset.RasterXSize * gt[1]
    lat_max = gt[3]
    lat_min = gt[3] + dataset.RasterYSize * gt[5]
    margin = 5 / 3600.0
    for lon, lat, _ in corners:
        assert lon_min + margin < lon < lon_max - margin
        assert lat_min + margin < lat < lat_max - margin


def test_dem_relief_matches_the_landsat_terrain_shading(demo):
    """The same terrain drives DEM and imagery: sun-facing slopes are brighter in NIR."""
    paths, metadata = demo
    sun = metadata["landsat"]["2017"]
    elevation = _dem_on_grid(paths["dem"], paths["landsat_2017"])
    dz_drow, dz_dcol = np.gradient(elevation, 30.0)
    slope = np.arctan(np.hypot(dz_dcol, dz_drow))
    aspect = np.arctan2(-dz_dcol, dz_drow)  # downslope azimuth clockwise from north
    zenith = np.radians(90.0 - sun["sun_elevation_deg"])
    azimuth = np.radians(sun["sun_azimuth_deg"])
    cos_i = (np.cos(zenith) * np.cos(slope)
             + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect))
    nir = _reflectance(paths["landsat_2017"])[4]
    _, cover = _raster(paths["landcover_2017"])
    forest = cover == 1
    assert np.corrcoef(cos_i[forest], nir[forest])[0, 1] > 0.5


def test_landcover_classes_and_growing_pit(demo):
    paths, metadata = demo
    classes = {entry["value"]: entry for entry in metadata["land_cover_classes"]}
    assert {entry["land_use"] for entry in classes.values()} == LAND_USES
    pit = {}
    for year in YEARS:
        dataset, cover = _raster(paths[f"landcover_{year}"])
        assert dataset.GetRasterBand(1).DataType == gdal.GDT_Byte
        assert set(np.unique(cover)) <= set(classes)
        pit[year] = int(np.sum(cover == 4))
        assert all(np.sum(cover == value) > 0 for value in classes), year
    assert pit[2019] > 1.2 * pit[2017] > 0
    _, cover17 = _raster(paths["landcover_2017"])
    _, cover19 = _raster(paths["landcover_2019"])
    changed_vegetation = np.isin(cover17, [1, 2, 3]) & np.isin(cover19, [1, 2, 3]) & \
        (cover17 != cover19)
    assert changed_vegetation.sum() > 50


def test_landsat_images_are_collection2_level2_uint16(demo):
    paths, _ = demo
    reflectances = {}
    for year in YEARS:
        dataset = gdal.Open(paths[f"landsat_{year}"])
        assert dataset.RasterCount == 7
        for index in range(1, 8):
            band = dataset.GetRasterBand(index)
            assert band.DataType == gdal.GDT_UInt16
            assert band.GetNoDataValue() == 0
            assert band.GetDescription() == f"B{index}"
            assert band.GetScale() == pytest.approx(SCALE)
            assert band.GetOffset() == pytest.approx(OFFSET)
        reflectance = _reflectance(paths[f"landsat_{year}"])
        valid = reflectance[np.isfinite(reflectance)]
        assert np.mean((valid > 0.0) & (valid < 0.6)) > 0.99
        reflectances[year] = reflectance
    masked = [int(np.isnan(reflectances[y][0]).sum()) for y in YEARS]
    assert min(masked) == 0 and 1 <= max(masked) <= 200  # a small masked patch in one image
    both = np.isfinite(reflectances[2017]) & np.isfinite(reflectances[2019])
    assert np.mean(np.abs(reflectances[2017][both] - reflectances[2019][both])) > 0.005


@pytest.mark.parametrize("year", YEARS)
def test_samples_layer_schema_and_positions(demo, year):
    paths, _ = demo
    rows, types, epsg = _samples(paths[f"samples_{year}"])
    assert epsg == 4326
    assert len(rows) == COUNTS[year]
    assert types == {"sample_id": ogr.OFTString, "date": ogr.OFTDate, "cu_mg_kg": ogr.OFTReal,
                     "pb_mg_kg": ogr.OFTReal, "land_use": ogr.OFTString}
    ids = [row["sample_id"] for row in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(rf"S{year % 100}-\d\d", i) for i in ids)
    for row in rows:
        assert row["geometry_type"] == ogr.wkbPoint
        assert row["date_parts"][:2] == [year, 10] or tuple(row["date_parts"][:2]) == (year, 10)
        assert row["cu_mg_kg"] > 0 and row["pb_mg_kg"] > 0
        assert row["land_use"] in LAND_USES
    # inside the grid, with a whole 3x3 window of valid pixels, land use as mapped
    geotransform = gdal.Open(paths[f"landsat_{year}"]).GetGeoTransform()
    r, c = _sample_cells(rows, geotransform)
    assert (r >= 1).all() and (r < 199).all() and (c >= 1).all() and (c < 219).all()
    windows = _window_means(_reflectance(paths[f"landsat_{year}"]), r, c)
    assert np.isfinite(windows).all()
    _, cover = _raster(paths[f"landcover_{year}"])
    names = {1: "forest", 2: "grassland", 3: "cultivated", 4: "mine", 5: "slag", 6: "road",
             7: "village"}
    assert [names[int(cover[i, j])] for i, j in zip(r, c)] == [row["land_use"] for row in rows]
    assert len(set(zip(r.tolist(), c.tolist()))) == len(rows)


def test_2019_survey_resampled_at_other_positions(demo):
    paths, _ = demo
    positions = {}
    for year in YEARS:
        rows, _, _ = _samples(paths[f"samples_{year}"])
        geotransform = gdal.Open(paths[f"landsat_{year}"]).GetGeoTransform()
        r, c = _sample_cells(rows, geotransform)
        positions[year] = np.column_stack([r, c]).astype(float)
    distance = np.hypot(*(positions[2019][:, None, :] - positions[2017][None, :, :]).T)
    nearest_m = distance.min(axis=0) * 30.0
    assert np.median(nearest_m) > 60.0
    assert np.mean(nearest_m == 0.0) < 0.1


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("metal", METALS)
def test_abnormal_maxima_present_and_listed(demo, year, metal):
    paths, metadata = demo
    rows, _, _ = _samples(paths[f"samples_{year}"])
    values = np.array([row[f"{metal}_mg_kg"] for row in rows])
    q1, q3 = np.percentile(values, [25, 75])
    outliers = {row["sample_id"] for row, v in zip(rows, values) if v > q3 + 3.0 * (q3 - q1)}
    listed = _abnormal_ids(metadata, year, metal)
    assert 1 <= len(listed) <= 2
    assert outliers == listed


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("metal", METALS)
def test_measured_values_are_noisy_3x3_means_of_the_true_map(demo, year, metal):
    paths, metadata = demo
    rows, _, _ = _samples(paths[f"samples_{year}"])
    dataset, true_map = _raster(paths[f"true_{metal}_{year}"])
    r, c = _sample_cells(rows, dataset.GetGeoTransform())
    truth = _window_means(true_map.astype(float), r, c)
    measured = np.array([row[f"{metal}_mg_kg"] for row in rows])
    ratio = measured / truth
    abnormal = np.array([row["sample_id"] in _abnormal_ids(metadata, year, metal)
                         for row in rows])
    assert (np.abs(ratio[~abnormal] - 1.0) < 0.25).all()
    assert 0.03 < np.std(ratio[~abnormal]) < 0.12
    assert (ratio[abnormal] >= 2.5).all() and (ratio[abnormal] <= 5.5).all()


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("metal", METALS)
def test_factor_correlations_have_the_papers_magnitudes(demo, year, metal):
    paths, metadata = demo
    correlations = _correlations(paths, metadata, year, metal)
    magnitudes = np.abs(np.array(list(correlations.values())))
    assert 0.35 <= magnitudes.max() <= 0.75, correlations
    assert (magnitudes <= 0.8).all(), correlations
    assert np.sum((magnitudes >= 0.2) & (magnitudes <= 0.6)) >= 3, correlations
    reported = metadata["correlations_at_samples"][str(year)][metal]
    for name, value in correlations.items():
        assert reported[name] == pytest.approx(value, abs=0.01), name


def _design(factors, names):
    """Design matrix (n, 1 + k) with an intercept column."""
    return np.column_stack([np.ones(len(factors[names[0]]))] + [factors[n] for n in names])


@pytest.mark.parametrize("metal", METALS)
def test_a_2017_linear_model_does_not_fit_2019_as_it_is(demo, metal):
    """The radiometric shift and higher 2019 levels make the 2017 model clearly worse in 2019."""
    paths, metadata = demo
    names = ["B2", "B4", "NDVI", "MNDWI", "CMR", "Elevation"]
    data = {}
    for year in YEARS:
        factors, rows = _factors(paths, year)
        keep = np.array([row["sample_id"] not in _abnormal_ids(metadata, year, metal)
                         for row in rows])
        x = _design(factors, names)[keep]
        y = np.array([row[f"{metal}_mg_kg"] for row in rows])[keep]
        data[year] = (x, y)
    x17, y17 = data[2017]
    loo = []
    for i in range(len(y17)):
        mask = np.arange(len(y17)) != i
        coef = np.linalg.lstsq(x17[mask], y17[mask], rcond=None)[0]
        loo.append(y17[i] - x17[i] @ coef)
    rmse_2017 = float(np.sqrt(np.mean(np.square(loo))))
    coef = np.linalg.lstsq(x17, y17, rcond=None)[0]
    x19, y19 = data[2019]
    rmse_2019 = float(np.sqrt(np.mean(np.square(y19 - x19 @ coef))))
    assert rmse_2019 > 1.3 * rmse_2017, (rmse_2017, rmse_2019)


def test_true_maps_have_plausible_levels_and_peak_near_the_pit(demo):
    paths, _ = demo
    maps = {}
    for year in YEARS:
        for metal in METALS:
            dataset, array = _raster(paths[f"true_{metal}_{year}"])
            band = dataset.GetRasterBand(1)
            assert band.DataType == gdal.GDT_Float32
            assert band.GetNoDataValue() == -9999
            assert (array > 0).all()
            maps[(year, metal)] = array.astype(float)
    cu, pb = maps[(2019, "cu")], maps[(2019, "pb")]
    assert np.mean((cu >= 30) & (cu <= 90)) > 0.85 and 90 <= cu.max() <= 140
    assert np.mean(pb < 30) > 0.7 and 35 <= pb.max() <= 65 and pb.min() > 5
    for metal in METALS:
        assert maps[(2019, metal)].mean() > maps[(2017, metal)].mean()
    _, cover = _raster(paths["landcover_2019"])
    distance_m = np.full(cover.shape, np.inf)
    pit_rows, pit_cols = np.nonzero(cover == 4)
    rows, cols = np.indices(cover.shape)
    for r, c in zip(pit_rows[::7], pit_cols[::7]):
        distance_m = np.minimum(distance_m, np.hypot(rows - r, cols - c) * 30.0)
    near, far = distance_m < 300, distance_m > 2500
    for metal in METALS:
        assert maps[(2019, metal)][near].mean() > 1.5 * maps[(2019, metal)][far].mean()


def test_existing_complete_data_are_kept_unless_forced(demo):
    paths, _ = demo
    before = {key: os.path.getmtime(path) for key, path in paths.items()}
    again = generator.generate(os.path.dirname(paths["metadata"]), force=False)
    assert again == paths
    assert {key: os.path.getmtime(path) for key, path in paths.items()} == before


def test_generation_is_deterministic(demo, tmp_path):
    paths, _ = demo
    second = generator.generate(tmp_path / "again")
    for key, path in paths.items():
        if path.endswith(".tif"):
            first_array = gdal.Open(path).ReadAsArray()
            second_array = gdal.Open(second[key]).ReadAsArray()
            assert first_array.dtype == second_array.dtype
            assert np.array_equal(first_array, second_array), key
        elif path.endswith(".gpkg"):
            first_rows = _samples(path)[0]
            second_rows = _samples(second[key])[0]
            assert first_rows == second_rows, key
    with open(second["metadata"], encoding="utf-8") as handle:
        assert json.load(handle) == demo[1]
