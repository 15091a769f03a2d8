"""Progress, cancellation and log messages for long core runs, without any QGIS import."""

import signal
import threading
from contextlib import contextmanager

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

    def note(self, message, kind="info"):
        """Log a report note (text, kind): a warning when kind is "warning", else information."""
        (self.warning if kind == "warning" else self.info)(message)

    def child(self, start, end):
        """A monitor whose 0-100 maps onto [start, end] of this one's range."""
        span = self._end - self._start
        return Monitor(self._progress, self._is_cancelled, self._info, self._warning,
                       self._start + span * start / 100.0, self._start + span * end / 100.0)


NULL_MONITOR = Monitor()


class SignalGuard:
    """What cancel_on_signals yields: the signals received, and held() for a section (moving
    finished outputs into place) that a signal must not interrupt."""

    def __init__(self, cancel):
        self.received = []
        self._cancel = cancel
        self._held = 0

    def handle(self, number, frame):
        """Signal handler: cancel the run, and stop it at once unless in a held section."""
        self.received.append(number)
        self._cancel()
        if not self._held and len(self.received) == 1:
            raise Cancelled(f"Stopped by {signal.Signals(number).name}: the run was cancelled and no "
                            "output was written.")

    @contextmanager
    def held(self):
        """A section a signal does not interrupt (it is still recorded in received)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1


@contextmanager
def cancel_on_signals(cancel, names=("SIGTERM", "SIGINT")):
    """While the block runs, SIGTERM and SIGINT call cancel() and raise Cancelled at once (so the
    run's outputs are cleaned up) instead of killing the process; yields a SignalGuard. The
    previous handlers come back afterwards.

    Only in the main thread (Python delivers signals there only; runs in a QGIS task thread
    are cancelled through their feedback), and only for signals whose current handler was set
    from Python and can therefore be restored.
    """
    guard = SignalGuard(cancel)
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is None:
            continue
        current = signal.getsignal(number)
        if current is None:
            continue
        signal.signal(number, guard.handle)
        previous[number] = current
    try:
        yield guard
    finally:
        for number, current in previous.items():
            signal.signal(number, current)
