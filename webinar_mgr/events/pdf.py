"""The agenda PDF (WeasyPrint), cached by a hash of everything that is rendered.

Cache key choice: the HTML is rendered once WITHOUT the date of issue and hashed (SHA-256) with
the variant; that hash covers the event, agenda, speakers, convenors, the zones shown, the
template itself and the language. On a miss the PDF is rendered with today's date (in the event's
zone) as its date of issue and stored. So the date of issue is the day this version of the agenda
was first issued: an unchanged agenda keeps its date and is never re-rendered, and any change
makes a new version with a new date.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
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


def _html(event: Event, *, with_link: bool, issued: str) -> str:
    zones = _zones(event)
    return render_template(
        "pdf/agenda.html",
        event=event,
        text=event.shown(),
        zones=zones,
        zone_headings=[_zone_heading(event, z) for z in zones],
        rows=_rows(event, zones) if event.starts_at else [],
        speaker_details=_speaker_details(event) if event.pdf_speaker_details else [],
        with_link=with_link,
        issued=issued,
        font_stack=FONT_STACK,
        org_name=current_app.config.get("ORGANISATION_NAME", ""),
    )


def render(html: str) -> bytes:
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF requests need it
    from weasyprint import HTML

    return HTML(string=html, base_url=pdfs.base_url(), url_fetcher=pdfs.url_fetcher()).write_pdf()


def _html_and_hash(event: Event, with_link: bool) -> tuple[str, str]:
    html = _html(event, with_link=with_link, issued=ISSUE_PLACEHOLDER)
    return html, hashlib.sha256(f"{str(get_locale() or 'en')}\n{html}".encode()).hexdigest()


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
    content = render(html.replace(ISSUE_PLACEHOLDER, issued))
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
