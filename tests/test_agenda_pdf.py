"""The agenda PDF: real text (pdftotext), real fonts (pdffonts), the link only for registrants,
and the cache."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import add_item, event_input, make_event, register
from webinar_mgr import clock, pdfs
from webinar_mgr.events import agenda, pdf, services
from webinar_mgr.events.models import RenderedPdf
from webinar_mgr.extensions import db

NAMES = {
    "thai": "สมชาย ใจดี",
    "vietnamese": "Nguyễn Thị Lan",
    "khmer": "សុខ ដារ៉ា",
    "myanmar": "ပန်းဖြူ",
    "chinese": "李明",
    "lao": "ສົມພອນ",
}


def _text(body: bytes, tmp_path) -> str:
    path = tmp_path / "agenda.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _fonts(body: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture
def event(app, organiser):
    clock.freeze(datetime(2027, 2, 1, 3, 0, tzinfo=UTC))
    e = make_event(organiser, pdf_zones=["Australia/Sydney", "Pacific/Apia"])
    services.change_status(e, "scheduled", actor=organiser)
    opening = add_item(organiser, e, 14, 0, 15, "Opening remarks", kind="opening")
    agenda.add_speaker(
        e,
        opening,
        agenda.SpeakerInput(name=NAMES["thai"], title="Director", organisation_name="Thailand"),
        actor=organiser,
    )
    talk = add_item(organiser, e, 14, 15, 30, "Presentations by members")
    for key in ("vietnamese", "khmer", "myanmar", "chinese", "lao"):
        agenda.add_speaker(
            e, talk, agenda.SpeakerInput(name=NAMES[key], organisation_name=f"Org {key}"), actor=organiser
        )
    return e


def test_pdf_text_times_scripts_and_footer(app, event, tmp_path):
    text = _text(pdf.agenda_pdf(event), tmp_path)
    assert "Regional webinar on technology" in text
    assert "Understand the risks" in text and "Share good practice" in text
    for name in ("Nguyễn Thị Lan", "李明", "สมชาย", "ใจดี"):
        assert name in text, name
    flat = text.replace(" ", "")
    assert "សុខ" in flat and "ដារ៉ា" in flat
    assert "ပန်း" in flat
    # 14:00 Bangkok = 18:00 Sydney (UTC+11) = 20:00 Apia (UTC+13)
    assert "14:00–14:15" in text and "18:00–18:15" in text and "20:00–20:15" in text
    assert "Org chinese" in text
    assert "Page 1 / 1" in text
    assert "Date of issue: Mon, Feb 1, 2027" in text
    assert "secret-room" not in text


def test_pdf_fonts_are_embedded_noto_and_none_missing(app, event, tmp_path):
    rows = _fonts(pdf.agenda_pdf(event), tmp_path)
    names = " ".join(r[0] for r in rows)
    for family in ("Noto-Sans-Thai", "Noto-Sans-Khmer", "Noto-Sans-Myanmar", "Noto-Sans-CJK", "Noto-Sans-Lao"):
        assert family in names, (family, names)
    # columns: name type... emb sub uni object ID; every font embedded (no fallback to a missing font)
    for row in rows:
        emb = row[-5]
        assert emb == "yes", row


def test_link_only_in_the_registrants_copy(app, client, event, organiser, make_user, login, tmp_path):
    assert "secret-room" not in _text(client.get(f"/events/{event.id}/agenda.pdf").get_data(), tmp_path)
    login(organiser)
    resp = client.get(f"/events/{event.id}/agenda.pdf")
    assert resp.mimetype == "application/pdf"
    assert "meet.example.org/secret-room" in _text(resp.get_data(), tmp_path)
    client.post("/logout")
    participant = make_user("participant", email="reg@example.org")
    login(participant)
    register(event, "someone-else@example.org")
    assert "secret-room" not in _text(client.get(f"/events/{event.id}/agenda.pdf").get_data(), tmp_path)
    register(event, "reg@example.org", status="confirmed")
    assert "secret-room" in _text(client.get(f"/events/{event.id}/agenda.pdf").get_data(), tmp_path)


def test_cache_renders_once_and_any_change_makes_a_new_one(app, event, organiser, tmp_path, monkeypatch):
    first = pdf.agenda_pdf(event)
    renders = []
    real_render = pdf.render_agenda
    monkeypatch.setattr(pdf, "render_agenda", lambda html: renders.append(1) or real_render(html))
    clock.advance(timedelta(days=3))
    assert pdf.agenda_pdf(event) == first  # same agenda: served from the cache, same date of issue
    assert renders == []
    item = event.agenda_items[0]
    agenda.update_item(
        event,
        item,
        agenda.AgendaInput(
            title="Welcome", starts_local=datetime(2027, 3, 10, 14, 0), duration_minutes=10, kind="opening"
        ),
        actor=organiser,
    )
    second = pdf.agenda_pdf(event)
    assert renders == [1] and second != first
    assert "Welcome" in _text(second, tmp_path) and "Date of issue: Thu, Feb 4, 2027" in _text(second, tmp_path)
    services.update_event(event, event_input(pdf_zones=["Pacific/Fiji"]), actor=organiser)
    third = pdf.agenda_pdf(event)
    assert renders == [1, 1] and "Fiji" in _text(third, tmp_path)
    # only the current version of each variant is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RenderedPdf)) == 1


def test_tbc_event_pdf(app, organiser, tmp_path):
    from datetime import date

    e = make_event(organiser, title="Annual meeting", date_tbc=True, tentative_month=date(2027, 9, 1))
    services.change_status(e, "tbc", actor=organiser)
    text = _text(pdf.agenda_pdf(e), tmp_path)
    assert "To be confirmed (tentatively September 2027)" in text


# Speed (issue 19): fonts and stylesheet once per process, fixed table widths, warm-up -----------


def test_stylesheet_parsed_once_and_fonts_kept(app):
    first = pdfs.stylesheet(pdf._css_path(), __FONT_STACK__=pdf.FONT_STACK)
    assert pdfs.stylesheet(pdf._css_path(), __FONT_STACK__=pdf.FONT_STACK) is first
    assert pdfs.font_config() is pdfs.font_config()
    css = pdf._css_path().read_text()
    assert css.count("; table-layout: fixed; }") == 2  # both tables


def test_time_columns_fit_their_headings_within_the_page():
    one = pdf._time_column_widths(["Bangkok (UTC+07)"])
    assert one[0] >= pdf.TIME_COLUMN_MIN_MM
    wide = pdf._time_column_widths(["曼谷 (UTC+07)"])[0]
    assert wide > pdf._time_column_widths(["ab (UTC+07)"])[0]  # East Asian characters are wider
    many = pdf._time_column_widths(["Kathmandu (UTC+05:45), your time"] * 4)
    assert sum(many) <= max(pdf.TIME_COLUMNS_MAX_MM, 4 * pdf.TIME_COLUMN_MIN_MM) + 0.5


def test_glyph_arrays_are_the_same_without_new_cffi_types(app):
    pdfs.font_config()  # installs the array helper
    from weasyprint.text.ffi import ffi

    known = set(ffi._parsed_types) if hasattr(ffi, "_parsed_types") else None
    array = ffi.new("hb_codepoint_t[3]", [7, 8, 9])
    assert list(array) == [7, 8, 9] and len(array) == 3
    assert list(ffi.new("hb_codepoint_t[2]")) == [0, 0]  # no values: as before
    if known is not None:
        assert "hb_codepoint_t[3]" not in ffi._parsed_types


def test_warm_up_then_an_agenda_with_every_script(app, event, tmp_path):
    import gc

    try:
        with app.test_request_context():
            pdfs.warm_up()
            body = pdf.agenda_pdf(event)
    finally:
        gc.unfreeze()  # warm_up froze the test process's objects
    flat = _text(body, tmp_path).replace(" ", "")
    for part in ("NguyễnThịLan", "李明", "สมชาย", "សុខ", "ပန်း", "ສົມພອນ", "14:00–14:15"):
        assert part in flat, part
    rows = _fonts(body, tmp_path)
    assert rows and all(r[-5] == "yes" for r in rows)


def test_no_full_collection_while_a_pdf_renders(app, monkeypatch):
    """Issue 19: CPython's full collections walked the whole heap inside renders (0.3-1 s each in a
    worker); pdfs.render holds them off while it renders and gives the threshold back after, also
    when the render fails, and two renders at once give it back when the last one ends."""
    import gc

    import weasyprint  # import here: as pdfs does, only the PDF tests load it

    before = gc.get_threshold()
    seen = []
    real_write = weasyprint.HTML.write_pdf

    def write_pdf(self, *args, **kwargs):
        seen.append(gc.get_threshold())
        if len(seen) == 1:  # a second render inside the first: held until both end
            pdfs.render("<p>inner</p>")
            seen.append(gc.get_threshold())
        if len(seen) == 4:
            raise RuntimeError("render failed")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)
    with app.test_request_context():
        assert pdfs.render("<p>outer</p>")[:4] == b"%PDF"
        assert gc.get_threshold() == before
        with pytest.raises(RuntimeError):
            pdfs.render("<p>fails</p>")
    assert gc.get_threshold() == before
    assert seen[:3] == [(before[0], before[1], pdfs.NO_FULL_COLLECTION)] * 3
    assert seen[3][2] == pdfs.NO_FULL_COLLECTION


def test_warm_up_freezes_what_the_process_loaded(app):
    import gc

    try:
        with app.test_request_context():
            pdfs.warm_up()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the test process's objects go back to the collector


def test_warm_up_sample_prints_the_agendas_elements_and_all_of_latin(app, tmp_path):
    """Issue 19: a worker's first agenda took about twice the CPU of the next after a warm-up of a
    few lines; the warm-up now renders two pages of the agenda's elements in every script and all
    Latin letters and digits (Pango shapes and measures each glyph and size the first time)."""
    import string

    html = pdf._warm_up_html()
    for part in ('class="agenda"', 'class="meta"', 'class="speakers"', 'class="kind"', 'class="desc"'):
        assert part in html, part
    for part in ('class="time main"', 'class="note"', 'class="link"', "@bottom-left", "counter(pages)"):
        assert part in html, part
    with app.test_request_context():
        body = pdf.render_agenda(html)
    text = _text(body, tmp_path)
    flat = text.replace(" ", "")
    assert string.ascii_letters in flat and string.digits in flat
    assert text.count("\f") >= 2  # two pages at least, as an agenda of 20 items
