"""SVG charts for the review pages and the activity report (pygal, no JavaScript).

Each function takes a review object from :mod:`services` and returns an SVG document as text.
The same numbers are always shown in a table beside the chart. Pages show the charts with
``<img src="....svg">`` (so the page's Content-Security-Policy stays strict); the PDF embeds
them as data URIs.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re

import pygal
from flask_babel import gettext as _
from markupsafe import escape
from pygal.style import Style

from webinar_mgr.errors import NotFound

from .services import EventReview, PeriodReview, event_codes

FONT = (
    "'Noto Sans', 'Noto Sans Thai', 'Noto Sans Khmer', 'Noto Sans Lao', 'Noto Sans Myanmar', "
    "'Noto Sans CJK SC', sans-serif"
)
# Okabe-Ito's colour-blind-safe hues, each at least 3:1 against the white background (WCAG 1.4.11,
# non-text contrast; tests/test_pages.py checks them with contrast_ratio): orange, sky blue, grey
# and yellow are darkened (#E69F00 -> #B26B00, #56B4E9 -> #332288, #999999 -> #6B6B6B,
# #F0E442 -> #8A7A00), the others kept.
COLOURS = ("#0072B2", "#B26B00", "#009E73", "#CC79A7", "#332288", "#D55E00", "#6B6B6B", "#8A7A00")
BACKGROUND = "#ffffff"
# A white line between bars and between the segments of a stacked bar, so that two neighbours
# never depend on colour alone to be told apart (pygal colours each series with an id selector).
SEPARATORS = (
    "inline:.rect.reactive{stroke:#ffffff !important;stroke-width:1.5px !important;stroke-opacity:1 !important}"
)


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour."""
    value = colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str = BACKGROUND) -> float:
    """WCAG contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
# pygal's tooltip texts, one to three per bar: nothing shows them without its script.
_TOOLTIPS = re.compile(r'<desc class="(?:value|x_label|label|x centered|y centered)">[^<]*</desc>')

STYLE = Style(
    background=BACKGROUND,
    plot_background=BACKGROUND,
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#d0d0d0",
    colors=COLOURS,
    font_family=FONT,
    title_font_size=18,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=11,
    tooltip_font_size=12,
    opacity=".95",
    opacity_hover=".95",
)


def _config(chart_cls, title: str, *, width: int = 860, height: int = 380, **kw):
    options = dict(
        title=title,
        style=STYLE,
        width=width,
        height=height,
        js=[],
        disable_xml_declaration=True,
        explicit_size=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        print_values=False,
        show_y_guides=True,
        truncate_label=-1,
        truncate_legend=-1,
        margin=16,
        margin_bottom=30,
        spacing=14,
        print_values_position="top",
        no_data_text=_("No data for this period"),
        css=("file://style.css", "file://graph.css", SEPARATORS),
    )
    options.update(kw)
    return chart_cls(**options)


def _integer_axis(chart, values) -> None:
    """Counts are whole numbers: label the value axis 0, 1, 2... (or a whole step)."""
    top = max((int(v) for v in values if v is not None), default=0)
    if top <= 0:
        return
    chart.y_labels = _ticks(top)


def _render(chart, description: str) -> str:
    svg = chart.render(is_unicode=True)
    # pygal always embeds a configuration <script> for its (disabled) tooltips: drop it.
    svg = _TOOLTIPS.sub("", _SCRIPT.sub("", svg))
    # pygal names each chart with a random uuid; a name drawn from the content instead makes the
    # same chart the same bytes (the activity report's PDF store keys on them).
    stable = hashlib.sha256(svg.replace(chart.uuid, "").encode()).hexdigest()[:16]
    svg = svg.replace(chart.uuid, f"chart{stable}")
    # A description for assistive technology, next to pygal's <title>.
    return svg.replace("<defs>", f"<desc>{escape(description)}</desc><defs>", 1)


def event_funnel(review: EventReview) -> str:
    f = review.funnel
    chart = _config(
        pygal.HorizontalBar, _("From invitation to attendance"), height=300, print_values=True, show_legend=False
    )
    # Horizontal bars are drawn bottom-up: list the stages in reverse so "Invited" is on top.
    chart.x_labels = [_("Attended"), _("Confirmed"), _("Registered"), _("Invited")]
    chart.add(_("People"), [f.attended, f.confirmed, f.registered, f.invited])
    _integer_axis(chart, [f.invited, f.registered, f.confirmed, f.attended])
    return _render(
        chart,
        _(
            "Invited %(i)d, registered %(r)d, confirmed %(c)d, attended %(a)d.",
            i=f.invited,
            r=f.registered,
            c=f.confirmed,
            a=f.attended,
        ),
    )


def event_sectors(review: EventReview) -> str:
    chart = _config(pygal.Bar, _("By sector"), print_values=True)
    chart.x_labels = [label for label, _f in review.sector_funnels]
    chart.add(_("Invited"), [f.invited for _l, f in review.sector_funnels])
    chart.add(_("Registered"), [f.registered for _l, f in review.sector_funnels])
    chart.add(_("Attended"), [f.attended for _l, f in review.sector_funnels])
    _integer_axis(chart, [max(f.invited, f.registered, f.attended) for _l, f in review.sector_funnels])
    return _render(chart, _("Invited, registered and attended by sector; the table beside has the numbers."))


# A bar per event: past this many events only every n-th event is named under the bars (the
# table beside names them all). Each label is a text node that WeasyPrint shapes with Pango: with
# 53 events, the activity report's four charts held 244 of them (issue 19).
EVENT_LABELS_SHOWN = 16


def _event_axis(n: int) -> dict:
    if n <= EVENT_LABELS_SHOWN:
        return {}
    return {"x_labels_major_every": math.ceil(n / EVENT_LABELS_SHOWN), "show_minor_x_labels": False}


def period_attendance(review: PeriodReview) -> str:
    chart = _config(
        pygal.Bar, _("Registered and attended, per event"), x_label_rotation=0, **_event_axis(len(review.events))
    )
    chart.x_labels = event_codes(len(review.events))
    chart.add(_("Registered"), [f.registered for f in review.event_funnels])
    chart.add(_("Attended"), [f.attended for f in review.event_funnels])
    _integer_axis(chart, [max(f.registered, f.attended) for f in review.event_funnels])
    return _render(
        chart, _("Registered and attended for each event held in the period; event numbers as in the table of events.")
    )


def period_sectors(review: PeriodReview) -> str:
    title = _("People who attended, by sector")
    chart = _config(pygal.StackedBar, title, **_event_axis(len(review.sector_columns)))
    chart.x_labels = review.sector_columns
    for label, values in review.sector_series.items():
        chart.add(label, values)
    _integer_axis(chart, [sum(col) for col in zip(*review.sector_series.values(), strict=True)])
    return _render(chart, _("Attendance by sector over time, stacked; the table beside has the numbers."))


def period_commitments(review: PeriodReview) -> str:
    chart = _config(pygal.Bar, _("Commitments pledged and delivered, per event"), **_event_axis(len(review.events)))
    chart.x_labels = event_codes(len(review.events))
    pledged = [
        sum(c.get(s, 0) for s in ("pledged", "in_progress", "delivered", "withdrawn")) for c in review.event_commitments
    ]
    chart.add(_("All commitments"), pledged)
    chart.add(_("Delivered"), [c.get("delivered", 0) for c in review.event_commitments])
    _integer_axis(chart, pledged)
    return _render(chart, _("Commitments pledged (all) and delivered for each event."))


def period_members(review: PeriodReview) -> str:
    members = [m for m in review.members if m.events_attended or any(r for _a, r in m.cells)]
    height = max(260, 70 + 26 * len(members))
    chart = _config(
        pygal.HorizontalBar,
        _("Events attended by each member government (of %(n)d)", n=len(review.events)),
        height=height,
        show_legend=False,
    )
    ordered = sorted(members, key=lambda m: m.name.lower(), reverse=True)
    chart.x_labels = [m.name for m in ordered]
    chart.add(_("Events attended"), [m.events_attended for m in ordered])
    _integer_axis(chart, [len(review.events)])
    return _render(chart, _("Number of events each member government attended in the period."))


EVENT_CHARTS = {"funnel": event_funnel, "sectors": event_sectors}
PERIOD_CHARTS = {
    "attendance": period_attendance,
    "sectors": period_sectors,
    "commitments": period_commitments,
    "members": period_members,
}


def render(charts: dict, name: str, review) -> str:
    fn = charts.get(name)
    if fn is None:
        raise NotFound(_("There is no chart “%(name)s”.", name=name[:40]))
    return fn(review)


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# The activity report's charts (issue 19) ------------------------------------------------------------
#
# pygal's SVG for one chart is a few hundred elements and a stylesheet of several hundred rules, which
# WeasyPrint parses, cascades and draws element by element: about 0.5 s for the report's four charts.
# The PDF's charts are drawn here instead as a handful of elements: each series one <path> (its bars
# and its legend square), the guides one <path>, the labels <text> elements (so the PDF keeps them as
# text), no stylesheet (presentation attributes only, inherited from the <svg> element). Same
# colours, the same white line between neighbouring bars, the same titles and labels; the web pages
# keep pygal's charts (above).

LEAN_WIDTH = 860
_TITLE_SIZE = 16
_LABEL_SIZE = 12
_LEGEND_SIZE = 13
_GUIDE = "#d0d0d0"
_AXIS = "#6B6B6B"
_TEXT = "#222"


def _n(value: float) -> str:
    """A coordinate with at most one decimal (shorter SVG, the same drawing at this scale)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_width(text: str, size: float) -> float:
    """A generous estimate of a label's width (no font metrics here): 0.62 em a character."""
    return len(text) * size * 0.62


def _ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 to at least ``top``, about 8 of them in steps of 1, 2, 5, 10, 20,
    25, 50... (the web pages' pygal charts and the PDF's lean ones alike)."""
    if top <= 0:
        return [0, 1]
    raw = top / 8
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        step = candidate
        if candidate >= raw:
            break
    else:
        step = max(1, math.ceil(raw))
    return list(range(0, top + step, step))


class _Svg:
    """A lean SVG document: attributes only, inherited from the root."""

    def __init__(self, width: int, height: int, title: str, description: str) -> None:
        self.width, self.height = width, height
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" font-size="{_LABEL_SIZE}" '
            f'fill="{_TEXT}">',
            f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
            f'<rect width="{width}" height="{height}" fill="{BACKGROUND}"/>',
            f'<text x="{width / 2:.0f}" y="26" font-size="{_TITLE_SIZE}" text-anchor="middle" '
            f'fill="#111">{escape(title)}</text>',
        ]

    def text(self, x: float, y: float, label: str, anchor: str = "start", size: int | None = None) -> None:
        extra = f' font-size="{size}"' if size else ""
        self.parts.append(f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{escape(label)}</text>')

    def path(self, d: list[str], **attrs: str) -> None:
        if d:
            more = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
            self.parts.append(f'<path d="{"".join(d)}"{more}/>')

    def done(self) -> str:
        return "".join(self.parts) + "</svg>"


def _legend(svg: _Svg, names: list[str], top: float, squares: list[list[str]]) -> None:
    """Legend entries in rows of up to four below the plot; each series' square goes into its own
    path (``squares``), so a legend entry is one <text> more."""
    column = (svg.width - 32) / 4
    for i, name in enumerate(names):
        x = 16 + (i % 4) * column
        y = top + (i // 4) * 22
        squares[i].append(f"M{_n(x)} {_n(y)}h13v13h-13z")
        svg.text(x + 19, y + 11, name, size=_LEGEND_SIZE)


def _legend_height(names: list[str]) -> float:
    return 0 if not names else 12 + 22 * math.ceil(len(names) / 4)


def _no_data(svg: _Svg) -> str:
    svg.text(svg.width / 2, svg.height / 2, _("No data for this period"), anchor="middle", size=_TITLE_SIZE)
    return svg.done()


def lean_columns(
    title: str,
    description: str,
    labels: list[str],
    series: list[tuple[str, list[int]]],
    *,
    stacked: bool = False,
    height: int = 380,
    legend: bool = True,
) -> str:
    """Vertical bars, one group (or stack) per label, as a few SVG elements."""
    svg = _Svg(LEAN_WIDTH, height, title, description)
    totals = [sum(col) for col in zip(*(v for _n_, v in series), strict=True)] if series else []
    top = max(totals if stacked else [max(v, default=0) for _s, v in series], default=0)
    if not labels or not series or top <= 0:
        return _no_data(svg)
    ticks = _ticks(top)
    names = [name for name, _v in series] if legend else []
    left = 16 + 8 + max(_text_width(str(t), _LABEL_SIZE) for t in ticks)
    right = svg.width - 16
    plot_top = 44
    plot_bottom = height - 30 - _legend_height(names) - 8
    scale = (plot_bottom - plot_top) / ticks[-1]

    guides = []
    for t in ticks:
        y = plot_bottom - t * scale
        guides.append(f"M{_n(left)} {_n(y)}H{_n(right)}")
        svg.text(left - 6, y + 4, str(t), anchor="end")
    svg.path(guides, stroke=_GUIDE, stroke_width="1", fill="none")

    step = (right - left) / len(labels)
    every = math.ceil(len(labels) / EVENT_LABELS_SHOWN) if len(labels) > EVENT_LABELS_SHOWN else 1
    group = step * 0.8
    bar = group if stacked else group / len(series)
    paths: list[list[str]] = [[] for _s in series]
    bases = [0] * len(labels)
    for s, (_name, values) in enumerate(series):
        for i, value in enumerate(values):
            if not value:
                continue
            x = left + i * step + step * 0.1 + (0 if stacked else s * bar)
            y0 = plot_bottom - bases[i] * scale
            h = value * scale
            paths[s].append(f"M{_n(x)} {_n(y0)}v{_n(-h)}h{_n(bar)}v{_n(h)}z")
            if stacked:
                bases[i] += value
    for i, label in enumerate(labels):
        if i % every == 0:
            svg.text(left + (i + 0.5) * step, plot_bottom + 17, label, anchor="middle")
    if names:
        _legend(svg, names, plot_bottom + 30, paths)
    for s, d in enumerate(paths):
        # the white line between neighbours (WCAG 1.4.1: colour is not the only difference)
        svg.path(d, fill=COLOURS[s % len(COLOURS)], stroke=BACKGROUND, stroke_width="1")
    svg.path([f"M{_n(left)} {_n(plot_bottom)}H{_n(right)}"], stroke=_AXIS, stroke_width="1", fill="none")
    return svg.done()


def lean_rows(title: str, description: str, labels: list[str], values: list[int], top: int) -> str:
    """Horizontal bars, one per label (top to bottom as given), no legend."""
    height = max(260, 70 + 26 * len(labels))
    svg = _Svg(LEAN_WIDTH, height, title, description)
    if not labels:
        return _no_data(svg)
    ticks = _ticks(max(top, max(values, default=0)))
    left = 16 + 10 + max(_text_width(label, _LABEL_SIZE) for label in labels)
    left = min(left, svg.width / 2)
    right = svg.width - 24
    plot_top = 44
    plot_bottom = height - 30
    scale = (right - left) / ticks[-1]
    guides = []
    for t in ticks:
        x = left + t * scale
        guides.append(f"M{_n(x)} {_n(plot_top)}V{_n(plot_bottom)}")
        svg.text(x, plot_bottom + 17, str(t), anchor="middle")
    svg.path(guides, stroke=_GUIDE, stroke_width="1", fill="none")
    step = (plot_bottom - plot_top) / len(labels)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = plot_top + i * step
        svg.text(left - 8, y + step / 2 + 4, label, anchor="end")
        if value:
            bars.append(f"M{_n(left)} {_n(y + step * 0.1)}h{_n(value * scale)}v{_n(step * 0.8)}h{_n(-value * scale)}z")
    svg.path(bars, fill=COLOURS[0], stroke=BACKGROUND, stroke_width="1")
    svg.path([f"M{_n(left)} {_n(plot_top)}V{_n(plot_bottom)}"], stroke=_AXIS, stroke_width="1", fill="none")
    return svg.done()


def pdf_attendance(review: PeriodReview) -> str:
    return lean_columns(
        _("Registered and attended, per event"),
        _("Registered and attended for each event held in the period; event numbers as in the table of events."),
        event_codes(len(review.events)),
        [
            (_("Registered"), [f.registered for f in review.event_funnels]),
            (_("Attended"), [f.attended for f in review.event_funnels]),
        ],
    )


def pdf_sectors(review: PeriodReview) -> str:
    return lean_columns(
        _("People who attended, by sector"),
        _("Attendance by sector over time, stacked; the table beside has the numbers."),
        list(review.sector_columns),
        list(review.sector_series.items()),
        stacked=True,
    )


def pdf_commitments(review: PeriodReview) -> str:
    pledged = [
        sum(c.get(s, 0) for s in ("pledged", "in_progress", "delivered", "withdrawn")) for c in review.event_commitments
    ]
    return lean_columns(
        _("Commitments pledged and delivered, per event"),
        _("Commitments pledged (all) and delivered for each event."),
        event_codes(len(review.events)),
        [(_("All commitments"), pledged), (_("Delivered"), [c.get("delivered", 0) for c in review.event_commitments])],
    )


def pdf_members(review: PeriodReview) -> str:
    members = sorted(
        (m for m in review.members if m.events_attended or any(r for _a, r in m.cells)), key=lambda m: m.name.lower()
    )
    return lean_rows(
        _("Events attended by each member government (of %(n)d)", n=len(review.events)),
        _("Number of events each member government attended in the period."),
        [m.name for m in members],
        [m.events_attended for m in members],
        len(review.events),
    )


# The activity report's charts, by the names its template uses.
PDF_CHARTS = {
    "attendance": pdf_attendance,
    "sectors": pdf_sectors,
    "commitments": pdf_commitments,
    "members": pdf_members,
}
