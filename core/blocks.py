"""The one block iterator: every raster pass walks its windows here, so progress and
cancellation are handled in one place."""

from dataclasses import dataclass

from .monitor import NULL_MONITOR


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels: column/row offset and size."""

    xoff: int
    yoff: int
    xsize: int
    ysize: int

    def expanded(self, halo, width, height):
        """This window grown by `halo` pixels on each side, clipped to a width x height raster."""
        x0 = max(self.xoff - halo, 0)
        y0 = max(self.yoff - halo, 0)
        x1 = min(self.xoff + self.xsize + halo, width)
        y1 = min(self.yoff + self.ysize + halo, height)
        return Window(x0, y0, x1 - x0, y1 - y0)


def iter_blocks(width, height, monitor=NULL_MONITOR, block_size=1024):
    """Yield Windows covering a width x height raster; set progress and honour cancel per block."""
    if width <= 0 or height <= 0:
        return
    # Full-width strips when the raster is narrow enough keep reads sequential; otherwise
    # square tiles aligned to multiples of 256 (the output tile size) bound the memory.
    block_w = width if width <= 2 * block_size else block_size
    block_h = max(1, min(height, (block_size * block_size) // block_w))
    if block_h >= 256:
        block_h -= block_h % 256
    windows = [Window(x, y, min(block_w, width - x), min(block_h, height - y))
               for y in range(0, height, block_h) for x in range(0, width, block_w)]
    total = len(windows)
    for done, window in enumerate(windows):
        monitor.check_cancelled()
        yield window
        monitor.set_progress(100.0 * (done + 1) / total)
    monitor.check_cancelled()
