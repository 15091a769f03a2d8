"""Progress, cancellation and log messages for long core runs, without any QGIS import."""

from .errors import Cancelled


class Monitor:
    """Forwards progress (0-100), cancellation checks and messages to optional callables."""

    def __init__(self, progress=None, is_cancelled=None, info=None, warning=None,
                 start=0.0, end=100.0):
        self._progress = progress
        self._is_cancelled = is_cancelled
        self._info = info
        self._warning = warning
        self._start = float(start)
        self._end = float(end)

    def set_progress(self, percent):
        """Report progress of this stage, 0-100, mapped into the parent's range."""
        if self._progress is not None:
            clipped = min(max(float(percent), 0.0), 100.0)
            self._progress(self._start + (self._end - self._start) * clipped / 100.0)

    def is_cancelled(self):
        """True when the user asked to stop."""
        return bool(self._is_cancelled is not None and self._is_cancelled())

    def check_cancelled(self):
        """Raise Cancelled if the user asked to stop."""
        if self.is_cancelled():
            raise Cancelled()

    def info(self, message):
        """Log an informational message."""
        if self._info is not None:
            self._info(str(message))

    def warning(self, message):
        """Log a warning the user should read."""
        if self._warning is not None:
            self._warning(str(message))
        elif self._info is not None:
            self._info("Warning: " + str(message))

    def child(self, start, end):
        """A monitor whose 0-100 maps onto [start, end] of this one's range."""
        span = self._end - self._start
        return Monitor(self._progress, self._is_cancelled, self._info, self._warning,
                       self._start + span * start / 100.0, self._start + span * end / 100.0)


NULL_MONITOR = Monitor()
