"""HTML report builder, figures and atomic writers."""

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.reports.html import HtmlReport, write_json, write_table_csv
from core.text import format_number
from core.reports.figures import (
    bar_figure,
    correlation_matrix_figure,
    curves,
    histogram_figure,
    predicted_vs_measured,
)

MAIN = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def small_table():
    return pd.DataFrame({"factor": ["B2", "<NDVI>"], "r": [0.518123, -0.371],
                         "selected": [True, False], "n": [44, 40]})


def test_html_contains_table_values_escaped_text_and_png(tmp_path):
    report = HtmlReport("Cu & Pb <report>")
    report.heading("Factors").paragraph("a < b & c").note("negative transfer: <beta> = 0",
                                                          kind="warning")
    report.table(small_table(), float_format="{:.3f}", caption="Table 2")
    report.key_values({"RMSE": 9.078, "model": "Tr-GA-BP"})
    report.figure(bar_figure(["0-30", "30-50"], [2.6, 2.4]), caption="Area <share>")
    path = report.save(tmp_path / "report.html")
    text = Path(path).read_text(encoding="utf-8")
    assert "<title>Cu &amp; Pb &lt;report&gt;</title>" in text
    assert "a &lt; b &amp; c" in text
    assert "&lt;NDVI&gt;" in text and "<NDVI>" not in text
    assert "negative transfer: &lt;beta&gt; = 0" in text
    assert 'class="note note-warning"' in text
    assert "0.518" in text and "-0.371" in text and ">44<" in text
    assert ">yes<" in text and ">no<" in text
    assert "9.08" in text and "Tr-GA-BP" in text
    assert "Area &lt;share&gt;" in text
    match = re.search(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert match
    assert base64.b64decode(match.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["report.html"]  # no temporary file left behind


def test_table_from_list_of_dicts_and_nan():
    report = HtmlReport("t").table([{"a": 1.5, "b": float("nan")}, {"a": 2.25, "b": 3.0}])
    html = report.to_html()
    assert ">1.5<" in html and ">2.25<" in html and "\u2014" in html


def test_save_is_utf8_and_overwrites(tmp_path):
    path = tmp_path / "sub" / "r.html"
    HtmlReport("first").save(path)
    HtmlReport("Cu \u2265 43.6 mg/kg, \u00b5").save(path)
    raw = path.read_bytes()
    assert "Cu \u2265 43.6 mg/kg, \u00b5".encode("utf-8") in raw
    assert b"first" not in raw


def test_bad_note_kind():
    with pytest.raises(ValueError):
        HtmlReport("t").note("x", kind="error")


def test_write_table_csv_round_trip(tmp_path):
    frame = small_table()
    frame["vif"] = [1.23456789012345, np.inf]
    path = write_table_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(frame.columns)
    assert back.loc[0, "vif"] == frame.loc[0, "vif"]
    assert back.loc[1, "factor"] == "<NDVI>"
    assert os.listdir(tmp_path) == ["t.csv"]


def test_write_json_converts_numpy_and_nan(tmp_path):
    data = {"rmse": np.float64(9.078), "n": np.int64(16), "weights": np.arange(3.0),
            "missing": float("nan"), "flag": np.bool_(True), "nested": {"x": [np.inf]}}
    path = write_json(data, tmp_path / "m.json")
    back = json.loads(Path(path).read_text(encoding="utf-8"))
    assert back == {"rmse": 9.078, "n": 16, "weights": [0.0, 1.0, 2.0], "missing": None,
                    "flag": True, "nested": {"x": [None]}}


def test_predicted_vs_measured_has_one_to_one_line():
    obs = np.array([10.0, 20.0, 30.0, 40.0])
    fig = predicted_vs_measured({"train": (obs, obs * 1.1), "validation": (obs, obs - 2)})
    ax = fig.axes[0]
    one_to_one = [line for line in ax.lines if line.get_label() == "1:1"]
    assert len(one_to_one) == 1
    xdata, ydata = one_to_one[0].get_data()
    np.testing.assert_allclose(xdata, ydata)
    assert min(xdata) <= 8.0 and max(xdata) >= 44.0
    assert len(ax.collections) == 2


def test_curves_logy_and_lengths():
    fig = curves({"GA best": [5.0, 3.0, 2.0], "LM": [4.0, 1.0, 0.5, 0.0]}, "epoch", "MSE",
                 logy=True, x_start=1)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [len(line.get_xdata()) for line in ax.lines] == [3, 4]
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]


def test_correlation_matrix_figure_annotates_values():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["B2", "NDVI", "Cu"])
    matrix = frame.corr()
    fig = correlation_matrix_figure(matrix)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 9
    assert f"{matrix.iloc[0, 1]:.2f}" in texts
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["B2", "NDVI", "Cu"]


def test_histogram_figure_bars_and_break_lines():
    edges = np.linspace(0, 110, 45)
    counts = np.arange(44)
    fig = histogram_figure(edges, counts, [0, 30, 50, 70, 90, 110])
    ax = fig.axes[0]
    assert len(ax.patches) == 44
    np.testing.assert_allclose([p.get_height() for p in ax.patches], counts)
    positions = sorted(line.get_xdata()[0] for line in ax.lines)
    assert positions == [0, 30, 50, 70, 90, 110]


def test_bar_figure_values():
    fig = bar_figure(["0-30", "30-50", "50-70"], [2.6, 2.4, 80.1])
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, [2.6, 2.4, 80.1])


def test_figures_leave_matplotlib_backend_alone():
    # QGIS or another plugin may use pyplot with its own backend: a report must not switch it.
    code = ("import matplotlib; before = matplotlib.rcParams._get_backend_or_none(); "
            "from core.reports.figures import bar_figure; from core.reports.html import HtmlReport; "
            "HtmlReport('t').figure(bar_figure(['a'], [1.0])); "
            "after = matplotlib.rcParams._get_backend_or_none(); "
            "assert after == before, (before, after)")
    completed = subprocess.run([sys.executable, "-c", code], cwd=MAIN, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr


def test_figures_do_not_import_pyplot():
    code = ("import sys; from core.reports.figures import bar_figure; from core.reports.html import HtmlReport; "
            "HtmlReport('t').figure(bar_figure(['a'], [1.0])); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    completed = subprocess.run([sys.executable, "-c", code], cwd=MAIN, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("value, text", [
    (52.1, "52.1"), (0.518123, "0.518"), (12345.6, "12346"), (1e-7, "1.00e-07"),
    (float("nan"), "\u2014"), (float("inf"), "inf"), (True, "yes"), (np.int64(44), "44"),
    (None, "\u2014"), (3.0, "3"),
])
def test_format_number(value, text):
    assert format_number(value) == text
