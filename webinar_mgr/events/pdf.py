"""The agenda PDF (WeasyPrint), cached by a hash of everything that is rendered.

Cache key choice: the HTML is rendered once WITHOUT the date of issue and hashed (SHA-256) with
the variant; that hash covers the event, agenda, speakers, convenors, the zones shown, the
template and its stylesheet (pdf/agenda.css) and the language. On a miss the PDF is rendered with
today's date (in the event's zone) as its date of issue and stored. So the date of issue is the
day this version of the agenda was first issued: an unchanged agenda keeps its date and is never
re-rendered, and any change makes a new version with a new date.
"""

from __future__ import annotations

import hashlib
import string
import unicodedata
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from webinar_mgr import clock, pdfs
from webinar_mgr.extensions import db
from webinar_mgr.i18n import canonical_zone, format_in_zone, is_valid_timezone, reader_timezone, zone_abbrev, zone_city
from webinar_mgr.persistence import unit_of_work

from . import photos
from .models import ITEM_KINDS, Event, RenderedPdf

FONT_STACK = (
    '"Noto Sans", "Noto Sans Thai", "Noto Sans Khmer", "Noto Sans Myanmar", "Noto Sans Lao", '
    '"Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans CJK KR", sans-serif'
)
ISSUE_PLACEHOLDER = "\u2063ISSUE-DATE\u2063"
CSS_FILE = "pdf/agenda.css"


def _zones(event: Event) -> list[str]:
    """The event's zone, the organiser's two others, and the reader's own (issue 13) when it is
    not one of them."""
    zones = [event.timezone]
    for z in event.pdf_zones or []:
        if z and z not in zones:
            zones.append(z)
    zones = zones[:3]
    mine = canonical_zone(reader_timezone())
    if mine and mine not in zones and is_valid_timezone(mine):
        zones.append(mine)
    return zones


def _rows(event: Event, zones: list[str]) -> list[dict]:
    rows = []
    for item in event.agenda_items:
        end = item.starts_at + timedelta(minutes=item.duration_minutes)
        times = []
        for z in zones:
            tz = ZoneInfo(z)
            s, e = item.starts_at.astimezone(tz), end.astimezone(tz)
            times.append(f"{s:%H:%M}–{e:%H:%M}")
        rows.append({"item": item, "times": times, "kind": kind_note(item)})
    return rows


# Openings, breaks, questions and closings say what they are in their titles ("Welcome and opening
# remarks", "Questions and discussion"): the kind beside them would only repeat it.
_SELF_EXPLAINING_KINDS = frozenset({"opening", "break", "qa", "closing"})


def kind_note(item) -> str:
    """The kind to print beside an item's title, or "" where the title already says it."""
    if item.kind in _SELF_EXPLAINING_KINDS:
        return ""
    label = str(ITEM_KINDS.get(item.kind, item.kind))
    return "" if label.casefold() in (item.title or "").casefold() else label


def _speaker_details(event: Event) -> list[dict]:
    """Each speaker with a biography or photo once (the organiser chose to print them), the photo
    as a data: URI (it is part of the content hash, so a new photo makes a new PDF)."""
    seen, out = set(), []
    for item in event.agenda_items:
        for s in item.speakers:
            if (s.bio or s.photo) and s.name not in seen:
                seen.add(s.name)
                out.append({"speaker": s, "photo_uri": photos.data_uri(s.photo)})
    return out


def _zone_heading(event: Event, zone: str) -> str:
    """ "Bangkok (UTC+07)", the city in the reader's language; the reader's own column says so."""
    moment = event.starts_at or clock.now()
    heading = f"{zone_city(zone)} ({zone_abbrev(moment, zone)})"
    if zone == canonical_zone(reader_timezone()) and zone != event.timezone:
        return _("%(zone)s, your time", zone=heading)
    return heading


# The agenda table is laid out with fixed widths (agenda.css: table-layout: fixed), so the time
# columns get their widths here: wide enough for their heading on one line (estimated from its
# characters at 8.5pt bold: East Asian wide ones 1 em, others about 0.68 em) and for a time range,
# all of them together at most TIME_COLUMNS_MAX_MM of the page's 178 mm (a heading wraps then), so
# that the items keep at least 90 mm: three zones' columns must not squeeze an item's title onto
# three lines (the automatic layout gave the item column the room before issue 19).
TIME_COLUMN_MIN_MM = 24.0
TIME_COLUMNS_MAX_MM = 88.0
_EM_MM = 8.5 * 25.4 / 72


def _time_column_widths(headings: list[str]) -> list[float]:
    widths = []
    for heading in headings:
        ems = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.68 for c in heading)
        widths.append(max(TIME_COLUMN_MIN_MM, ems * _EM_MM + 6.0))  # + the cell padding
    total = sum(widths)
    if total > TIME_COLUMNS_MAX_MM:
        widths = [max(TIME_COLUMN_MIN_MM, w * TIME_COLUMNS_MAX_MM / total) for w in widths]
    return [round(w, 1) for w in widths]


def _html(event: Event, *, with_link: bool, issued: str) -> str:
    zones = _zones(event)
    headings = [_zone_heading(event, z) for z in zones]
    return render_template(
        "pdf/agenda.html",
        event=event,
        text=event.shown(),
        zones=zones,
        zone_headings=headings,
        time_widths=_time_column_widths(headings),
        rows=_rows(event, zones) if event.starts_at else [],
        speaker_details=_speaker_details(event) if event.pdf_speaker_details else [],
        with_link=with_link,
        issued=issued,
        font_stack=FONT_STACK,
        org_name=current_app.config.get("ORGANISATION_NAME", ""),
    )


def _css_path() -> Path:
    return Path(current_app.root_path).parent / "templates" / CSS_FILE


def render(html: str) -> bytes:
    """A PDF of a page in the app's templates/pdf (the certificates use it too), with the
    process's fonts (pdfs.render)."""
    return pdfs.render(html)


def render_agenda(html: str) -> bytes:
    """The PDF of an agenda's HTML, with its stylesheet parsed once per process."""
    return pdfs.render(html, stylesheets=[pdfs.stylesheet(_css_path(), __FONT_STACK__=FONT_STACK)])


# What an agenda prints besides the region's scripts (pdfs.WARM_UP_TEXT): every Latin letter,
# digit and the punctuation of titles, times and zones.
WARM_UP_LATIN = string.ascii_letters + string.digits + " .,:;!?'\"()[]/&+-–—·@#%*"


def _warm_up_html() -> str:
    """A two-page sample with the agenda's elements (title block, summary, objectives, a table of
    20 items with three zones' times, speakers, the margin boxes) in the region's scripts and all
    of Latin."""
    text = f"{pdfs.WARM_UP_TEXT} {WARM_UP_LATIN}"

    def row(title: str, more: str, desc: str = "") -> str:
        desc = f'<p class="desc">{desc}</p>' if desc else ""
        return (
            '<tr><td class="time main">09:00–09:20</td><td class="time">13:00–13:20</td>'
            f'<td class="time">15:00–15:20</td><td><strong>{title}</strong> <span class="kind">· {more}</span>'
            f'{desc}<ul class="speakers"><li>{more}</li></ul></td></tr>'
        )

    footer = f"font-family: {FONT_STACK}; font-size: 8pt; color: #555"
    return (
        f"<html><head><style>@page {{ size: A4; margin: 18mm 16mm 20mm 16mm; "
        f'@bottom-left {{ content: "{pdfs.WARM_UP_TEXT} {string.ascii_letters} {string.digits}"; {footer} }} '
        f'@bottom-right {{ content: "Page " counter(page) " / " counter(pages); {footer} }} }}'
        f'</style></head><body><div class="titleblock"><p class="org">{text}</p><h1>{text}</h1>'
        '<table class="meta"><colgroup><col class="label"><col></colgroup>'
        f"<tr><th>{text}</th><td>{text}</td></tr></table></div>"
        f'<p>{text}</p><h2>{text}</h2><ol class="objectives"><li>{text}</li></ol>'
        '<table class="agenda"><colgroup><col class="time" style="width: 30mm"><col class="time" '
        'style="width: 30mm"><col class="time" style="width: 28mm"><col></colgroup><thead><tr>'
        f"<th>Bangkok (UTC+07)</th><th>Sydney (UTC+11)</th><th>Apia (UTC+13)</th><th>{text}</th></tr></thead>"
        f"<tbody>{row(text, text, text)}{row(WARM_UP_LATIN, WARM_UP_LATIN[:30]) * 19}</tbody></table>"
        f'<p class="note">{text}</p><div class="link"><strong>{text}</strong> https://meet.example.org/x</div>'
        "</body></html>"
    )


@pdfs.on_warm_up
def _warm_up() -> None:
    """At worker start (pdfs.warm_up): the template compiled, the stylesheet parsed, and a sample
    agenda rendered, so that the worker's first agenda does not pay for what any first render
    does: Pango and HarfBuzz loading each glyph and size they shape (the Latin letters in
    particular), WeasyPrint's code run for the first time on a page of tables (measured in a new
    process: the first agenda after a warm-up of a few lines took about twice the CPU of the
    next)."""
    current_app.jinja_env.get_template("pdf/agenda.html")
    render_agenda(_warm_up_html())


@lru_cache(maxsize=8)
def _css_digest(path: Path, mtime: float) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def _html_and_hash(event: Event, with_link: bool) -> tuple[str, str]:
    html = _html(event, with_link=with_link, issued=ISSUE_PLACEHOLDER)
    css = _css_path()
    digest = hashlib.sha256(f"{str(get_locale() or 'en')}\n{html}".encode() + _css_digest(css, css.stat().st_mtime))
    return html, digest.hexdigest()


def content_hash(event: Event, *, with_link: bool = False) -> str:
    return _html_and_hash(event, with_link)[1]


def agenda_pdf(event: Event, *, with_link: bool = False) -> bytes:
    """The agenda as PDF bytes; rendered once per distinct content and variant."""
    variant = "registrant" if with_link else "public"
    html, digest = _html_and_hash(event, with_link)
    cached = db.session.scalar(
        sa.select(RenderedPdf.content).where(
            RenderedPdf.event_id == event.id, RenderedPdf.variant == variant, RenderedPdf.content_hash == digest
        )
    )
    if cached is not None:
        return cached
    issued = format_in_zone(clock.now(), event.timezone, "date")  # in the reader's language
    content = render_agenda(html.replace(ISSUE_PLACEHOLDER, issued))
    try:
        with unit_of_work():
            # Older versions of this variant are of no use any more.
            db.session.execute(
                sa.delete(RenderedPdf).where(RenderedPdf.event_id == event.id, RenderedPdf.variant == variant)
            )
            db.session.add(RenderedPdf(event_id=event.id, variant=variant, content_hash=digest, content=content))
    except sa.exc.IntegrityError:
        pass  # another request stored the same version a moment ago: theirs is as good as ours
    return content
