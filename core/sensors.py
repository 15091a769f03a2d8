"""The sensor a model was trained on, and a warning when its factors come from another one.

spectralindices and topographiccorrection write SENSOR (e.g. 'Landsat 8 OLI', 'Sentinel-2A MSI')
into their outputs' metadata; traingabp and transfergabp record it in the model file
(model.sensor); predictcontent compares it with the factor rasters it is given. Landsat 8 and 9
share their bands and factor names, so only another sensor family (Landsat against Sentinel-2)
warns: Sentinel-2's B5 = B8 NIR, B6 = B11 and B7 = B12 are not Landsat's bands, and a model's
weights carry the sensor's band responses and scaling.
"""

from .raster_io import band_metadata_item


def factor_sensor(sources):
    """The sensor(s) recorded in the factor rasters ('' when none records one, e.g. only terrain
    factors); several different ones are joined with ' + '."""
    found = []
    for source in sources:
        value = (band_metadata_item(source.path, 1, "SENSOR") or "").strip()
        if value and value not in found:
            found.append(value)
    return " + ".join(found)


def sensor_family(sensor):
    """'Landsat' or 'Sentinel-2' (the part that decides the bands), else the text itself."""
    text = sensor.strip()
    for family in ("Landsat", "Sentinel-2"):
        if text.lower().startswith(family.lower()):
            return family
    return text


def sensor_mismatch(model_sensor, factors_sensor):
    """A warning when the model's sensor family differs from the factors', else None (also None
    when either is unknown: models from before the sensor was recorded, factors without it)."""
    if not model_sensor or not factors_sensor:
        return None
    model_families = {sensor_family(part) for part in model_sensor.split(" + ")}
    factor_families = {sensor_family(part) for part in factors_sensor.split(" + ")}
    if model_families == factor_families:
        return None
    return (f"The model was trained on {model_sensor} factors, but these factor rasters are "
            f"{factors_sensor}: the same factor names hold other bands (Sentinel-2's B5 is B8 NIR, "
            "B6 B11, B7 B12), so the map can be biased. Train or transfer the model on factors of "
            f"{factors_sensor} (transfergabp with a few samples), or give {model_sensor} factors.")
