"""Topographic (terrain illumination) correction of reflectance bands.

The local solar incidence angle i of a slope s (degrees) facing aspect A (degrees clockwise
from north, downslope), under a sun at zenith Z = 90 - elevation and azimuth phi:

    cos i = cos Z cos s + sin Z sin s cos(phi - A)

Methods (rho_T: observed reflectance, rho_H: reflectance of the same surface if horizontal):
- cosine (Teillet et al. 1982):         rho_H = rho_T cos Z / cos i
- C-correction (Teillet et al. 1982):   rho_H = rho_T (cos Z + c) / (cos i + c), c = a / b of the
                                        per-band regression rho_T = a + b cos i
- SCS+C (Soenen et al. 2005):           rho_H = rho_T (cos Z cos s + c) / (cos i + c), same c
- Minnaert (Minnaert 1941; Smith et al. 1980, without the slope term):
                                        rho_H = rho_T (cos Z / cos i)^k, k the slope of the
                                        per-band regression ln rho_T = ln rho_H + k ln(cos i / cos Z)
Parameters are fitted per band on the valid pixels with cos i > MIN_COS_I (optionally only
inside a mask). The cosine and Minnaert corrections divide by cos i, so pixels with
cos i <= MIN_COS_I (self-shadowed or grazing light) become nodata for them.
"""

import numpy as np

from ..errors import SoilMetalError
from ..guards import MIN_STATISTIC_SAMPLES

METHODS = ("cosine", "c", "scs_c", "minnaert")
METHOD_LABELS = {"cosine": "Cosine", "c": "C-correction", "scs_c": "SCS+C", "minnaert": "Minnaert"}
MIN_COS_I = 0.05
MIN_FIT_PIXELS = 30


def check_sun(azimuth, elevation):
    """Refuse a sun below the horizon or an azimuth that is not a number."""
    if elevation is None or azimuth is None or not np.isfinite(elevation) or not np.isfinite(azimuth):
        raise SoilMetalError(
            "The sun's position is unknown: give SUN_AZIMUTH and SUN_ELEVATION (degrees, from the "
            "scene's metadata: SUN_AZIMUTH / SUN_ELEVATION in a Landsat MTL, Mean_Sun_Angle in a "
            "Sentinel-2 MTD_TL.xml), or give the product's metadata file as INPUT.")
    if not 0.0 < elevation <= 90.0:
        raise SoilMetalError(
            f"The sun elevation is {elevation:g} degrees: at or below the horizon nothing is lit, "
            "so there is no illumination to correct. Give the elevation of the scene's sun "
            "(0 < SUN_ELEVATION <= 90; the zenith angle is 90 - elevation).")


def cos_incidence(slope, aspect, sun_azimuth, sun_elevation):
    """cos i (same shape as slope) from slope and aspect in degrees (aspect NaN = flat)."""
    zenith = np.radians(90.0 - sun_elevation)
    s = np.radians(np.asarray(slope, dtype=np.float64))
    azimuth_term = np.cos(np.radians(sun_azimuth - np.asarray(aspect, dtype=np.float64)))
    azimuth_term = np.where(np.isnan(aspect) & np.isfinite(s), 0.0, azimuth_term)
    return np.cos(zenith) * np.cos(s) + np.sin(zenith) * np.sin(s) * azimuth_term


class Moments:
    """Running sums for a linear regression and Pearson correlation of y on x, shifted for accuracy."""

    def __init__(self):
        self.n = 0
        self.shift = None
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0

    def add(self, x, y):
        """Add paired 1-D float64 arrays (already filtered to valid pairs)."""
        if x.size == 0:
            return
        if self.shift is None:
            self.shift = (float(np.mean(x)), float(np.mean(y)))
        dx, dy = x - self.shift[0], y - self.shift[1]
        self.n += x.size
        self.sx += float(dx.sum())
        self.sy += float(dy.sum())
        self.sxx += float(np.dot(dx, dx))
        self.syy += float(np.dot(dy, dy))
        self.sxy += float(np.dot(dx, dy))

    def _centred(self):
        """(Sxx, Syy, Sxy) about the means."""
        return (self.sxx - self.sx * self.sx / self.n, self.syy - self.sy * self.sy / self.n,
                self.sxy - self.sx * self.sy / self.n)

    def correlation(self):
        """Pearson r of y with x (NaN with fewer than 3 pairs or no variance)."""
        if self.n < MIN_STATISTIC_SAMPLES:
            return float("nan")
        sxx, syy, sxy = self._centred()
        if sxx <= 0 or syy <= 0:
            return float("nan")
        return float(sxy / np.sqrt(sxx * syy))

    def line(self):
        """(intercept a, slope b) of the least-squares line y = a + b x."""
        if self.n < 2:
            return float("nan"), float("nan")
        sxx, _, sxy = self._centred()
        if sxx <= 0:
            return float("nan"), float("nan")
        slope = sxy / sxx
        mean_x = self.shift[0] + self.sx / self.n
        mean_y = self.shift[1] + self.sy / self.n
        return float(mean_y - slope * mean_x), float(slope)


def fit_pixels(values, cos_i, use=None):
    """Bool array: pixels usable for fitting (finite value and cos i > MIN_COS_I, inside `use`)."""
    ok = np.isfinite(values) & np.isfinite(cos_i) & (cos_i > MIN_COS_I)
    if use is not None:
        ok &= use
    return ok


def add_fit_sample(method, moments, values, cos_i, cos_zenith, ok):
    """Add one block's fitting pixels of one band to its Moments (the regression of the method)."""
    if method == "minnaert":
        ok = ok & (values > 0)
        moments.add(np.log(cos_i[ok] / cos_zenith), np.log(values[ok]))
    elif method in ("c", "scs_c"):
        moments.add(cos_i[ok], values[ok])


def fitted_parameter(method, moments, band_name, warn):
    """c (C, SCS+C), k (Minnaert) or None (cosine) from a band's fitting Moments.

    A band without a positive dependence on illumination is left uncorrected (parameter None,
    with a warning), rather than 'corrected' by a meaningless c or k.
    """
    if method == "cosine":
        return None
    if moments.n < MIN_FIT_PIXELS:
        raise SoilMetalError(
            f"Band {band_name}: only {moments.n} valid pixels with cos(i) > {MIN_COS_I} to fit the "
            f"{METHOD_LABELS[method]} parameter (at least {MIN_FIT_PIXELS} are needed). Check that "
            "the DEM covers the image and that the mask leaves enough pixels, or use METHOD=0 (cosine).")
    intercept, slope = moments.line()
    if method == "minnaert":
        if not np.isfinite(slope) or slope <= 0:
            warn(f"Band {band_name}: no positive dependence of ln(reflectance) on illumination "
                 f"(Minnaert k = {slope:.3g}); the band is left uncorrected.")
            return None
        return slope
    if not np.isfinite(slope) or slope <= 0 or intercept / slope <= -MIN_COS_I:
        warn(f"Band {band_name}: reflectance does not rise with cos(i) (regression slope "
             f"{slope:.3g}, intercept {intercept:.3g}); the band is left uncorrected.")
        return None
    return intercept / slope


def correct(method, values, cos_i, slope, cos_zenith, parameter):
    """Corrected reflectance (values' shape); NaN where the method cannot correct the pixel."""
    values = np.asarray(values, dtype=np.float64)
    if method != "cosine" and parameter is None:
        return values.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "cosine":
            result = values * cos_zenith / cos_i
        elif method == "c":
            result = values * (cos_zenith + parameter) / (cos_i + parameter)
        elif method == "scs_c":
            result = values * (cos_zenith * np.cos(np.radians(slope)) + parameter) / (cos_i + parameter)
        else:
            result = values * np.power(cos_zenith / cos_i, parameter)
    if method in ("cosine", "minnaert"):
        result[~(cos_i > MIN_COS_I)] = np.nan
    result[~np.isfinite(cos_i)] = np.nan
    return result
