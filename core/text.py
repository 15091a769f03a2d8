"""Number formatting for every text soilmetal writes: reports, logs, table captions, legends and
figure labels all show a number the same way. A foundation: any layer may import it."""

import math

import numpy as np

SIGNIFICANT_DIGITS = 3


def format_number(value, digits=SIGNIFICANT_DIGITS):
    """A number as the reports show it: three significant digits (integers whole, 12346 not
    1.23e+04), an exponent only below 1e-4 or from 1e7 up. The one number format of every
    report, table caption and figure label."""
    if value is None:
        return "\u2014"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "\u2014"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-4):
        return f"{value:.{digits - 1}e}"
    if abs(value) >= 10 ** digits:
        return f"{value:.0f}"
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.0f}"
