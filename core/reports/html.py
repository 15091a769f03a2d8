"""Self-contained HTML reports and atomic table/JSON writers shared by every algorithm.

A report is one UTF-8 HTML file: styles inline, figures embedded as base64 PNG, so it can be
mailed or archived alone. Every piece of text is HTML-escaped; there is no way to insert raw
HTML, so a factor or field name can never break the page.

Figures (core/reports/figures.py) arrive as ``matplotlib.figure.Figure`` objects and are
rendered here through an explicit Agg canvas, never through pyplot.
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
from ..text import format_number

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


def figure_png(fig, dpi=100):
    """PNG bytes of a Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
