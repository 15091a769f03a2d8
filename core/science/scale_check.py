"""Does SCALE fit the band values? A wrong SCALE writes factors that are not reflectance, so a
mismatch stops the run with the SCALE that fits, unless the user says they know better.

The test looks at the median of the first block with data: 0-1 reflectance has a median
between about -0.05 and 1.2 (dark water to snow); values whose scaled median falls outside
that range are not reflectance under that SCALE, and an integer SCALE needs values above 2
(0-1 reflectance read as integers would otherwise pass as very dark). Collection 2 Level-2 integers are told from
integers x 0.0001 by their floor: reflectance 0 is DN 7273 there, so nearly every pixel is
above 6000, which integers x 0.0001 only reach on snow or cloud.
"""

import numpy as np

from ..errors import SoilMetalError

PLAUSIBLE_MEDIAN = (-0.05, 1.2)
_C2_FLOOR = 6000.0


def _sample(values):
    """Finite values of a block (any shape) as a 1-D float64 array, thinned to ~100 000."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size > 200_000:
        values = values[:: values.size // 100_000]
    return values[np.isfinite(values)]


def fitting_scales(values, coefficients):
    """The scales (keys of `coefficients`, {scale: (gain, offset)}) under which the values look
    like reflectance, most likely first; [] when none fits."""
    sample = _sample(values)
    positive = sample[sample > 0]
    if sample.size == 0:
        return list(coefficients)
    low, high = PLAUSIBLE_MEDIAN
    median = float(np.median(sample))
    floor = float(np.percentile(positive, 2)) if positive.size else 0.0
    fits = []
    for scale, (gain, offset) in coefficients.items():
        scaled = median * gain + offset
        if gain < 1.0 and median <= 2.0:
            continue  # scaled integers are not this small: the values are reflectance already
        if offset == 0.0 and gain < 1.0 and floor > _C2_FLOOR:
            continue  # integers x 0.0001 never sit this high everywhere: Collection 2 instead
        if low <= scaled <= high:
            fits.append(scale)
    return fits


def check_scale(values, scale, coefficients, labels, accept=False, warn=None):
    """Raise a SoilMetalError naming the SCALE that fits when `scale` does not fit the values.

    values: raw band values of one block (any shape, NaN = nodata); coefficients: {scale:
    (gain, offset)}; labels: {scale: text}. With accept=True the mismatch is only passed to
    `warn`. Returns True once a block with data was checked (False: check the next block).
    """
    sample = _sample(values)
    if sample.size == 0:
        return False
    fits = fitting_scales(sample, coefficients)
    if scale in fits:
        return True
    median = float(np.median(sample))
    gain, offset = coefficients[scale]
    if fits:
        best = fits[0]
        advice = (f"Set SCALE={int(best)} ({labels[best]}), which gives a median reflectance of "
                  f"{median * coefficients[best][0] + coefficients[best][1]:.3g}")
    else:
        advice = ("No SCALE fits: check that INPUT holds reflectance bands (not a DEM, an index "
                  "or thermal bands), or convert them to 0-1 reflectance and use SCALE=0")
    message = (f"SCALE={int(scale)} ({labels[scale]}) does not fit the band values: their median "
               f"{median:.6g} becomes reflectance {median * gain + offset:.6g}, outside any "
               f"reflectance ({PLAUSIBLE_MEDIAN[0]} to {PLAUSIBLE_MEDIAN[1]}). {advice}.")
    if not accept:
        raise SoilMetalError(message + " If you know the values are right as they are, set the "
                             "advanced option ACCEPT_SCALE.")
    if warn is not None:
        warn(message + " Kept as asked (ACCEPT_SCALE): the factors may not be reflectance.")
    return True
