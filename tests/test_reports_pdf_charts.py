"""The activity report's lean charts and fixed tables (issue 19): what WeasyPrint is given is small
(no stylesheet in the charts, a series one path, every table with its columns' widths), and the
charts still draw the report's numbers, with their labels as text in the reader's language."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from tests.review_dataset import build_dataset
from webinar_mgr.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def data(app):
    return build_dataset()


def _bars(path_d: str) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of each bar in a series' path ``M x y v -h h w v h z`` (legend
    squares ``M x y h13v13h-13z`` left out)."""
    bars = []
    for x, y, h, w in re.findall(r"M([\d.]+) ([\d.]+)v-([\d.]+)h([\d.]+)v[\d.]+z", path_d):
        bars.append((float(x), float(y), float(w), float(h)))
    return bars


def test_columns_are_one_path_a_series_with_heights_in_proportion():
    svg = charts.lean_columns("Title", "Description", ["A", "B", "C"], [("One", [10, 20, 0]), ("Two", [5, 0, 40])])
    root = ET.fromstring(svg)
    assert "<style" not in svg and "class=" not in svg and "<script" not in svg
    assert root.find(f"{SVG}title").text == "Title" and root.find(f"{SVG}desc").text == "Description"
    fills = [p for p in root.iter(f"{SVG}path") if p.get("fill") in charts.COLOURS]
    assert [p.get("fill") for p in fills] == list(charts.COLOURS[:2])  # one path per series
    assert all(p.get("stroke") == charts.BACKGROUND for p in fills)  # the white line between bars
    one, two = (_bars(p.get("d")) for p in fills)
    assert len(one) == 2 and len(two) == 2  # zeros draw no bar
    unit = one[0][3] / 10
    assert [round(b[3] / unit, 3) for b in one + two] == [10, 20, 5, 40]
    # each series' legend square is in its path, the names are text
    assert all("h13v13h-13z" in p.get("d") for p in fills)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Title", "A", "B", "C", "One", "Two", "0", "40"} <= set(texts)


def test_stacked_columns_stack():
    svg = charts.lean_columns("T", "D", ["Q1"], [("a", [3]), ("b", [2])], stacked=True)
    root = ET.fromstring(svg)
    a, b = (_bars(p.get("d"))[0] for p in root.iter(f"{SVG}path") if p.get("fill") in charts.COLOURS)
    assert a[0] == b[0]  # same column
    assert b[1] == pytest.approx(a[1] - a[3], abs=0.15)  # b starts where a ends
    assert b[3] / a[3] == pytest.approx(2 / 3, abs=0.01)


def test_no_data_says_so():
    svg = charts.lean_columns("T", "D", ["Q1"], [("a", [0])])
    assert "No data for this period" in svg and "<path" not in svg


def test_rows_name_every_label():
    svg = charts.lean_rows("T", "D", ["Fiji", "Lao PDR & co"], [3, 0], 4)
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Fiji" in texts and "Lao PDR & co" in texts and "4" in texts
    (bars,) = [p for p in root.iter(f"{SVG}path") if p.get("fill") == charts.COLOURS[0]]
    assert bars.get("d").count("M") == 1  # the zero draws nothing


def test_the_report_charts_and_tables_are_lean_and_translated(app, data):
    from webinar_mgr.reports import pdf, services

    with app.test_request_context(headers={"Accept-Language": "vi"}):
        from flask_babel import refresh

        refresh()
        report = services.activity_report(date(2026, 1, 1), date(2026, 6, 30))
        svgs = {name: fn(report.review) for name, fn in charts.PDF_CHARTS.items()}
        html = pdf.activity_report_html(report)
        from flask_babel import gettext as _

        titles = {
            "attendance": _("Registered and attended, per event"),
            "sectors": _("People who attended, by sector"),
            "commitments": _("Commitments pledged and delivered, per event"),
            "members": _("Events attended by each member government (of %(n)d)", n=len(report.review.events)),
        }
    assert titles["attendance"] != "Registered and attended, per event"  # translated
    for name, svg in svgs.items():
        root = ET.fromstring(svg)
        assert "<style" not in svg and "class=" not in svg, name
        assert sum(1 for _e in root.iter()) < 120, name  # pygal's: several hundred
        assert titles[name] in [t.text for t in root.iter(f"{SVG}text")], name
        assert charts.data_uri(svg) in html
    # Every table of the report but a short list of events ("auto") has a <col> for each of its
    # columns (fixed layout).
    tables = re.findall(r"<table\b.*?</table>", html, re.DOTALL)
    fixed = [t for t in tables if "auto" not in t[: t.index(">")]]
    assert len(fixed) >= 6 and len(tables) - len(fixed) <= 2
    for table in fixed:
        cols = re.search(r"<colgroup>(.*?)</colgroup>", table, re.DOTALL)
        assert cols, table[:200]
        head = re.search(r"<thead><tr>(.*?)</tr></thead>", table, re.DOTALL).group(1)
        assert cols.group(1).count("<col") == head.count("<th"), table[:200]


def test_the_report_pdf_keeps_the_figures_as_text(app, data, tmp_path):
    from webinar_mgr.reports import pdf, services

    with app.test_request_context():
        report = services.activity_report(date(2026, 1, 1), date(2026, 6, 30))
        body = pdf._render(pdf.activity_report_html(report))
    path = tmp_path / "report.pdf"
    path.write_bytes(body)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True).stdout
    # the charts' titles and legends are text in the PDF
    for needle in ("Registered and attended, per event", "People who attended, by sector", "All commitments"):
        assert needle in text, needle
    review = report.review
    for f in review.event_funnels:
        assert str(f.registered) in text and str(f.attended) in text
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(r.split()[-5] == "yes" for r in rows)
