"""The PDFs in each language (issue 13): the agenda and the activity report rendered for a reader
of each language have every font embedded (pdffonts) and text in that language's script
(pdftotext); the agenda adds the reader's own zone as a column and shows the event's translation."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import pytest

from tests.factories import add_item, make_event
from webinar_mgr import clock
from webinar_mgr.events import services
from webinar_mgr.events import translations as event_translations

# A sign of each language in a PDF whatever the catalogue holds: Babel's dates and the app's
# translated labels are in the language's script (Vietnamese: its letters with two diacritics).
SCRIPTS = {
    "th": re.compile(r"[\u0e00-\u0e7f]{3}"),
    "zh_Hans": re.compile(r"[\u4e00-\u9fff]{2}"),
    "vi": re.compile(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]"),
    "id": re.compile(r"\b(Sen|Agenda|Waktu|Februari|Feb)\b"),
}


def _pdftotext(body: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _reading_order(body: bytes, tmp_path) -> str:
    """The PDF's text in reading order with its whitespace made single spaces (a wrapped table
    heading reads as one phrase)."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())


def _fonts(body: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture
def event(app, organiser):
    clock.freeze(datetime(2027, 2, 1, 3, 0, tzinfo=UTC))
    e = make_event(organiser, pdf_zones=["Australia/Sydney"])
    services.change_status(e, "scheduled", actor=organiser)
    add_item(organiser, e, 14, 0, 15, "Opening remarks", kind="opening")
    yield e
    clock.unfreeze()


@pytest.mark.parametrize("lang", ["th", "vi", "id", "zh_Hans"])
def test_agenda_pdf_in_each_language_fonts_embedded_and_script(app, event, lang, tmp_path):
    client = app.test_client()
    client.set_cookie("lang", lang)
    resp = client.get(f"/events/{event.id}/agenda.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = _pdftotext(resp.data, tmp_path)
    assert SCRIPTS[lang].search(text), (lang, text[:500])
    assert "2027" in text  # the Gregorian year, in Thai too
    rows = _fonts(resp.data, tmp_path)
    assert rows and all(r[-5] == "yes" for r in rows), rows  # every font embedded


@pytest.mark.parametrize("lang", ["th", "vi", "id", "zh_Hans"])
def test_activity_report_in_each_language(app, event, make_user, lang, tmp_path):
    reviewer = make_user("organiser", email=f"rev-{lang}@example.org", language=lang)
    client = app.test_client()
    assert client.post("/login", data={"email": reviewer.email, "password": "correct-horse-battery"}).status_code == 302
    resp = client.get("/review/activity-report.pdf", query_string={"from": "2027-01-01", "to": "2027-12-31"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = _pdftotext(resp.data, tmp_path)
    assert SCRIPTS[lang].search(text), (lang, text[:500])
    rows = _fonts(resp.data, tmp_path)
    assert rows and all(r[-5] == "yes" for r in rows), rows


def test_agenda_pdf_adds_the_readers_zone_and_shows_the_translation(app, event, organiser, tmp_path):
    event_translations.save_translation(
        event, "th", title="การย้ายถิ่นที่ปลอดภัย", item_titles={event.agenda_items[0].id: "กล่าวเปิด"}, actor=organiser
    )
    client = app.test_client()
    client.set_cookie("tz", "Asia%2FKathmandu")
    body = client.get(f"/events/{event.id}/agenda.pdf").data
    text = _pdftotext(body, tmp_path)
    # the reader's own column (its heading may wrap: the items keep the room, issue 19)
    assert "Kathmandu (UTC+05:45), your time" in _reading_order(body, tmp_path)
    assert "12:45–13:00" in text, text  # 14:00 Bangkok = 07:00 UTC = 12:45 Kathmandu
    assert "Sydney" in text
    client.set_cookie("lang", "th")
    text = _pdftotext(client.get(f"/events/{event.id}/agenda.pdf").data, tmp_path).replace(" ", "")
    assert "การย้ายถิ่นที่ปลอดภัย" in text and "กล่าวเปิด" in text
