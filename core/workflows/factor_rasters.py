"""What the factor workflows (spectral indices, terrain factors, topographic correction) share:
the run's warning log and the per-band statistics of the rasters they stream out.

A factor raster is too large to hold until the run ends, so these workflows write it block by
block through raster_io.RasterWriter at the output paths they are given (inside an algorithm,
the output transaction's staged names) and nothing else; their reports are written from the
Run by core/reports/ once the run has returned.
"""

import numpy as np


class WarningLog(list):
    """The warnings of one run; calling it with a message keeps it and sends it to the monitor."""

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor

    def __call__(self, message):
        """Keep `message` and show it as a warning."""
        self.append(message)
        self.monitor.warning(message)


class BandStatistics:
    """Running count, minimum, maximum and mean of the finite values written to each band."""

    def __init__(self, names):
        self.names = list(names)
        self.valid = [0] * len(self.names)
        self.minimum = [np.inf] * len(self.names)
        self.maximum = [-np.inf] * len(self.names)
        self.total = [0.0] * len(self.names)

    def add(self, index, values):
        """Add one block (any shape, NaN = nodata) of band `index` (0-based)."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return
        self.valid[index] += int(finite.size)
        self.minimum[index] = min(self.minimum[index], float(finite.min()))
        self.maximum[index] = max(self.maximum[index], float(finite.max()))
        self.total[index] += float(finite.sum())

    def rows(self):
        """[{band, valid, min, max, mean}] in band order; NaN statistics for a band without data."""
        rows = []
        for index, name in enumerate(self.names):
            valid = self.valid[index]
            rows.append({"band": name, "valid": valid,
                         "min": self.minimum[index] if valid else float("nan"),
                         "max": self.maximum[index] if valid else float("nan"),
                         "mean": self.total[index] / valid if valid else float("nan")})
        return rows
