"""Self-contained HTML reports, figures and atomic table/JSON writers shared by every algorithm.

A report is one UTF-8 HTML file: styles inline, figures embedded as base64 PNG, so it can be
mailed or archived alone. Every piece of text is HTML-escaped; there is no way to insert raw
HTML, so a factor or field name can never break the page.

Figures are drawn on ``matplotlib.figure.Figure`` with an Agg canvas attached explicitly,
never through pyplot, so no global figure state leaks into QGIS and nothing needs a display.
"""

import base64
import datetime
import html
import io
import json
import math
import os

import numpy as np

from .. import outputs

NOTE_KINDS = ("info", "warning")

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
h1 { font-size: 1.5em; border-bottom: 2px solid #456; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.5em; } h3 { font-size: 1.1em; }
table { border-collapse: collapse; margin: .5em 0 1em 0; }
div.wide { overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #bbb; padding: .25em .6em; }
th { background: #e8edf2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-style: italic; padding: .2em 0; }
.note { border-left: 6px solid; padding: .5em .8em; margin: .8em 0; border-radius: 3px; }
.note-info { background: #e7f1fb; border-color: #2a7ab9; }
.note-warning { background: #fff3cd; border-color: #d39e00; }
figure { margin: 1em 0; } figcaption { font-style: italic; color: #444; }
img { max-width: 100%; }
.footer { margin-top: 2em; color: #777; font-size: .85em; }
"""


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


def _cell_text(value, float_format):
    """Table cell text: numbers through float_format (None, "{:.3f}" or callable), rest str."""
    is_float = isinstance(value, (float, np.floating)) and not isinstance(value, bool)
    if is_float and float_format is not None and math.isfinite(float(value)):
        return float_format(value) if callable(float_format) else float_format.format(value)
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)) or value is None:
        return format_number(value)
    return str(value)


def _is_number(value):
    """True for numbers (not booleans): they are right-aligned."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


class HtmlReport:
    """An HTML report assembled piece by piece; every method returns self for chaining."""

    def __init__(self, title):
        """Start a report whose page title and first heading is title."""
        self.title = str(title)
        self._parts = [f"<h1>{_escape(self.title)}</h1>"]

    def heading(self, text, level=2):
        """Add a section heading, level 2-6."""
        level = min(max(int(level), 2), 6)
        self._parts.append(f"<h{level}>{_escape(text)}</h{level}>")
        return self

    def paragraph(self, text):
        """Add a paragraph of plain text (line breaks kept)."""
        body = "<br>".join(_escape(line) for line in str(text).split("\n"))
        self._parts.append(f"<p>{body}</p>")
        return self

    def bullets(self, items):
        """Add a bulleted list of plain-text items."""
        lines = "".join(f"<li>{_escape(item)}</li>" for item in items)
        self._parts.append(f"<ul>{lines}</ul>")
        return self

    def note(self, text, kind="info"):
        """Add a coloured box: kind "info" (blue) or "warning" (amber)."""
        if kind not in NOTE_KINDS:
            raise ValueError(f"note kind must be one of {NOTE_KINDS}")
        label = "Warning: " if kind == "warning" else "Note: "
        self._parts.append(f'<div class="note note-{kind}"><strong>{label}</strong>'
                           f"{_escape(text)}</div>")
        return self

    def table(self, data, float_format=None, caption=None, index=False):
        """Add a DataFrame / list-of-dicts table; float_format None, "{:.3f}", callable or dict."""
        import pandas as pd
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
        if index:
            frame = frame.reset_index()
        if isinstance(float_format, dict):
            formats = {str(k): v for k, v in float_format.items()}
        else:
            formats = {str(c): float_format for c in frame.columns}
        # A wide table scrolls inside its own box instead of running off the page.
        out = ['<div class="wide"><table>']
        if caption:
            out.append(f"<caption>{_escape(caption)}</caption>")
        out.append("<thead><tr>" + "".join(f"<th>{_escape(c)}</th>" for c in frame.columns)
                   + "</tr></thead><tbody>")
        for row in frame.itertuples(index=False, name=None):
            cells = []
            for column, value in zip(frame.columns, row):
                text = _escape(_cell_text(value, formats.get(str(column))))
                css = ' class="num"' if _is_number(value) else ""
                cells.append(f"<td{css}>{text}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table></div>")
        self._parts.append("".join(out))
        return self

    def key_values(self, mapping, float_format=None, caption=None):
        """Add a two-column table of a dict's keys and values."""
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{_escape(caption)}</caption>")
        for key, value in mapping.items():
            css = ' class="num"' if _is_number(value) else ""
            out.append(f"<tr><th>{_escape(key)}</th><td{css}>"
                       f"{_escape(_cell_text(value, float_format))}</td></tr>")
        out.append("</table>")
        self._parts.append("".join(out))
        return self

    def figure(self, fig, caption=None, dpi=100):
        """Embed a matplotlib Figure as a base64 PNG with an optional caption."""
        png = figure_png(fig, dpi=dpi)
        encoded = base64.b64encode(png).decode("ascii")
        alt = _escape(caption or "figure")
        parts = [f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">']
        if caption:
            parts.append(f"<figcaption>{_escape(caption)}</figcaption>")
        parts.append("</figure>")
        self._parts.append("".join(parts))
        return self

    def to_html(self):
        """The whole report as one HTML string."""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{_escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
                "<body>\n" + "\n".join(self._parts)
                + f'\n<p class="footer">Generated by soilmetal on {stamp}.</p>\n'
                "</body>\n</html>\n")

    def save(self, path):
        """Write the report to path as UTF-8, atomically (a temporary file renamed into place)."""
        write_text_atomic(path, self.to_html())
        return path


def _escape(text):
    """HTML-escape any value's text, quotes included."""
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------- atomic writers

def write_text_atomic(path, text, encoding="utf-8"):
    """Write text to path through a temporary file in the same folder, then rename it (inside a
    run's output transaction the path already is the temporary name: written directly)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    direct = outputs.is_temporary(path)
    text = outputs.final_names(text)
    # A plain open() (not mkstemp, which forces mode 0600) so the file gets the user's umask.
    temporary = path if direct else outputs.temporary_name(path)
    try:
        with open(temporary, "w" if direct else "x", encoding=encoding, newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if not direct:
            os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    return path


def write_table_csv(frame, path):
    """Write a DataFrame to a UTF-8 CSV (no index, full float precision), atomically."""
    return write_text_atomic(path, frame.to_csv(index=False))


def _json_ready(value):
    """Convert numpy scalars/arrays, DataFrames and non-finite floats for strict JSON."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return _json_ready(value.to_dict(orient="records"))
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_json(data, path):
    """Write a dict as indented UTF-8 JSON (NaN/inf -> null, numpy -> Python), atomically."""
    text = json.dumps(_json_ready(data), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


# ---------------------------------------------------------------- figures

# The smallest text a figure draws (points at the reports' 100 dpi: about 11 px on screen).
READABLE_POINTS = 8.0


def quantity_label(name, unit="mg/kg"):
    """The one way a mapped quantity is named in titles and axes: 'Cu' -> 'Cu (mg/kg)'."""
    text = str(name).strip()
    return f"{text} ({unit})" if unit and not text.endswith(f"({unit})") else text


def plain_number_formatter():
    """A matplotlib tick formatter writing ticks as format_number does (9, 20, 0.5; never
    9x10^0): use it on any axis, log or linear."""
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda value, _position: format_number(value))


def plain_log_axis(ax, which="y"):
    """Put an Axes' x or y axis on a log scale with plain tick labels at 1, 2, 5 x 10^k (and
    every integer multiple when the data span less than a decade), no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter
    getattr(ax, f"set_{which}scale")("log")
    axis = ax.yaxis if which == "y" else ax.xaxis
    low, high = (ax.get_ylim() if which == "y" else ax.get_xlim())
    narrow = low > 0 and high / low < 10
    subs = tuple(range(1, 10)) if narrow else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10.0, subs=subs))
    axis.set_major_formatter(plain_number_formatter())
    axis.set_minor_formatter(NullFormatter())


def new_figure(width=6.0, height=4.5):
    """A pyplot-free matplotlib Figure with its own Agg canvas (no global backend is set)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig, dpi=100):
    """PNG bytes of a Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def predicted_vs_measured(sets, unit="mg/kg", title=None):
    """Scatter of predicted vs measured for sets {name: (obs (n,), pred (n,))} with the 1:1 line."""
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    low, high = math.inf, -math.inf
    for name, (observed, predicted) in sets.items():
        observed = np.asarray(observed, dtype=float).ravel()
        predicted = np.asarray(predicted, dtype=float).ravel()
        keep = np.isfinite(observed) & np.isfinite(predicted)
        observed, predicted = observed[keep], predicted[keep]
        if observed.size == 0:
            continue
        rmse = float(np.sqrt(np.mean((predicted - observed) ** 2)))
        ax.scatter(observed, predicted, s=22, alpha=0.8,
                   label=f"{name} (n={observed.size}, RMSE {format_number(rmse)})")
        low = min(low, observed.min(), predicted.min())
        high = max(high, observed.max(), predicted.max())
    if math.isfinite(low):
        pad = 0.05 * (high - low) if high > low else 1.0
        line = [low - pad, high + pad]
        ax.plot(line, line, color="0.3", linestyle="--", linewidth=1, label="1:1")
        ax.set_xlim(line)
        ax.set_ylim(line)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"measured ({unit})" if unit else "measured")
    ax.set_ylabel(f"predicted ({unit})" if unit else "predicted")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def curves(series, xlabel, ylabel, logy=False, title=None, x_start=0):
    """Line plot of {name: sequence (m,)} against index + x_start (GA fitness, LM error, ...)."""
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for name, values in series.items():
        values = np.asarray(values, dtype=float).ravel()
        x = np.arange(values.size) + x_start
        if logy:
            values = np.where(values > 0, values, np.nan)
        ax.plot(x, values, marker="o" if values.size <= 30 else None, markersize=3,
                label=str(name))
    if logy:
        plain_log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize="small")
    return fig


def correlation_matrix_figure(matrix, title=None):
    """Heatmap of a square correlation DataFrame (names as index/columns), values annotated."""
    values = np.asarray(matrix, dtype=float)
    names = [str(c) for c in matrix.columns]
    k = len(names)
    # Cells big enough for "-0.52" at READABLE_POINTS: the text stays readable at 100 %.
    size = max(2.5 + 0.55 * k, 4.0)
    fig = new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticklabels(names)
    font = max(READABLE_POINTS, min(10.0, 120.0 / max(k, 1)))
    for i in range(k):
        for j in range(k):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=font,
                        color="white" if abs(values[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    if title:
        ax.set_title(title)
    return fig


def histogram_figure(bin_edges, counts, class_breaks=(), xlabel="content (mg/kg)",
                     ylabel="pixels", title=None):
    """Bars of counts (m,) on bin_edges (m+1,) with dashed lines at the class breaks."""
    edges = np.asarray(bin_edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#5b8db8",
           edgecolor="white", linewidth=0.5)
    for position in class_breaks:
        ax.axvline(float(position), color="#b03a2e", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def bar_figure(labels, values, xlabel=None, ylabel=None, title=None, colours=None):
    """Bar chart of values (m,) with text labels (m,) and the values written on the bars;
    colours: one colour per bar (e.g. the map's class colours), default one blue."""
    labels = [str(label) for label in labels]
    values = np.asarray(values, dtype=float)
    fig = new_figure(max(4.0, 0.6 * len(labels) + 2.0), 4.0)
    ax = fig.add_subplot()
    positions = np.arange(len(labels))
    ax.bar(positions, values, color=list(colours) if colours is not None else "#5b8db8",
           edgecolor="0.3" if colours is not None else None, linewidth=0.5)
    for position, value in zip(positions, values):
        if np.isfinite(value):
            ax.annotate(format_number(value, 3), (position, value), xytext=(0, 2),
                        textcoords="offset points", ha="center",
                        va="bottom" if value >= 0 else "top", fontsize="small")
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 6 else 0,
                       ha="right" if len(labels) > 6 else "center")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def map_figure(values, breaks, colours, title=None, unit="mg/kg", extent=None):
    """A map thumbnail of a 2-D array (NaN = nodata, drawn transparent) in the classes `breaks`
    with one hex colour per class (open below the first and above the last break, as the
    map's .qml legend), a colour bar labelled at the breaks, north up."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    values = np.asarray(values, dtype=float)
    rows, cols = values.shape
    width = 6.0
    height = min(max(width * rows / max(cols, 1), 2.5), 7.0) + 0.6
    fig = new_figure(width + 1.4, height)
    ax = fig.add_subplot()
    cmap = ListedColormap(list(colours))
    cmap.set_bad((0, 0, 0, 0))
    norm = BoundaryNorm([float(b) for b in breaks], cmap.N, clip=True)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, extent=extent,
                      interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, shrink=0.85, ticks=[float(b) for b in breaks],
                       label=unit)
    bar.ax.yaxis.set_major_formatter(plain_number_formatter())
    ax.set_xticks([])
    ax.set_yticks([])
    ax.annotate("N", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black"})
    if title:
        ax.set_title(title)
    return fig
