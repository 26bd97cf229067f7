"""Organiser pages as a new organiser meets them (issue 16): a draft is published (or deleted),
never "cancelled"; convenors are ticked, not Ctrl-clicked; summaries keep their line breaks on
the page and in the agenda PDF; the agenda PDF does not repeat an item's kind after its title."""

from __future__ import annotations

import re
import subprocess

import sqlalchemy as sa

from tests.factories import add_item, make_event
from webinar_mgr import text
from webinar_mgr.directory.models import Organisation
from webinar_mgr.events import pdf
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db


def _buttons(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", b).strip() for b in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]


def test_a_draft_is_published_or_deleted_and_a_published_event_is_cancelled(app, client, organiser, login):
    login(organiser)
    event = make_event(organiser)
    buttons = _buttons(client.get(f"/events/{event.id}").get_data(as_text=True))
    assert "Publish" in buttons and "Publish with the date to be confirmed" in buttons
    assert "Delete draft" in buttons
    assert not any("Cancel" in b for b in buttons)  # nobody has seen a draft: nothing to cancel
    resp = client.post(f"/events/{event.id}/status", data={"status": "scheduled"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    buttons = _buttons(page)
    assert "Cancel the event" in buttons and "Mark the date as to be confirmed" in buttons
    assert "Publish" not in buttons and "Delete draft" not in buttons
    assert "Calendar sequence" not in page
    assert f'href="/audit/?type=Event&amp;id={event.id}"' in page


def test_convenors_are_a_list_of_checkboxes_with_a_filter(app, client, organiser, login):
    login(organiser)
    db.session.add_all(
        [Organisation(name="Malaysia", sector="member_government"), Organisation(name="RSO", sector="support_office")]
    )
    db.session.commit()
    form = client.get("/events/new").get_data(as_text=True)
    ul = re.search(r'<ul[^>]*id="convenor_ids"[^>]*>', form).group(0)
    assert "data-filterable" in ul
    boxes = re.findall(r'<input[^>]*name="convenor_ids"[^>]*>', form)
    assert len(boxes) == 2 and all('type="checkbox"' in b for b in boxes)
    assert "Ctrl" not in form


def test_paragraphs_keep_line_breaks_and_escape():
    html = text.paragraphs("First line\nsecond line\n\n<script>x</script> next")
    assert str(html) == "<p>First line<br>\nsecond line</p>\n<p>&lt;script&gt;x&lt;/script&gt; next</p>"
    assert str(text.paragraphs("  ")) == ""


def test_summary_line_breaks_on_the_page_and_in_the_pdf(app, client, organiser, login, tmp_path):
    login(organiser)
    event = make_event(organiser, summary="Why we meet.\n\nWhat we expect:\nexchange of practice")
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "<p>Why we meet.</p>" in page and "What we expect:<br>" in page
    path = tmp_path / "agenda.pdf"
    path.write_bytes(client.get(f"/events/{event.id}/agenda.pdf").get_data())
    lines = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Why we meet.\n" in lines and "What we expect:\nexchange of practice" in lines


def test_the_agenda_pdf_names_a_kind_only_where_the_title_does_not(app, organiser):
    event = make_event(organiser)
    opening = add_item(organiser, event, 14, 0, 10, "Welcome and opening remarks", kind="opening")
    talk = add_item(organiser, event, 14, 10, 20, "Online recruitment", kind="presentation")
    panel = add_item(organiser, event, 14, 30, 30, "Panel of focal points", kind="panel")
    qa = add_item(organiser, event, 15, 0, 20, "Questions and discussion", kind="qa")
    assert [pdf.kind_note(i) for i in (opening, talk, panel, qa)] == ["", "Presentation", "", ""]


def test_no_kind_of_event_is_chosen_for_the_organiser(app, client, organiser, login):
    login(organiser)
    form = client.get("/events/new").get_data(as_text=True)
    select = re.search(r'<select[^>]*id="kind_id"[^>]*>(.*?)</select>', form, re.S).group(1)
    assert re.search(r'<option selected value="0">Choose the kind of event</option>', select)
    data = {
        "title": "Open session",
        "timezone": "Pacific/Fiji",
        "starts_local": "2027-05-05T09:00",
        "ends_local": "2027-05-05T10:30",
        "audience": "open",
    }
    resp = client.post("/events/new", data={**data, "kind_id": "0"})
    assert resp.status_code == 400 and "Choose the kind of event." in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0
