"""The work plan and outputs (issue 17): the read services the statement uses, the pages per role,
the old tags' migration, and bad input."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel import Locale

from tests.factories import make_event_row, webinar_kind
from tests.pseudolocale import WORD, english_outside_catalogue, pseudo  # noqa: F401 (a fixture)
from tests.support import QueryCounter
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.cli import run_seed
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events import services as events
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.workplan import seed, services
from webinar_mgr.workplan.models import (
    OUTPUT_LANGUAGES,
    ActionItem,
    Output,
    OutputVersion,
    Priority,
    ProgressNote,
    WorkPlan,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def _plan(name="Forward Work Plan 2021-23", start=date(2021, 1, 1), end=date(2023, 12, 31), current=True):
    plan = WorkPlan(name=name, period_start=start, period_end=end, current=current)
    db.session.add(plan)
    db.session.flush()
    p1 = Priority(plan_id=plan.id, number=1, title="Law and justice responses")
    p4 = Priority(plan_id=plan.id, number=4, title="New and emerging priorities")
    db.session.add_all([p1, p4])
    db.session.flush()
    a1 = ActionItem(priority_id=p1.id, number=1, text="Share good practice on supply chains", status="delivered")
    a8 = ActionItem(priority_id=p4.id, number=8, text="Hold regional webinars on emerging issues", status="in_progress")
    db.session.add_all([a1, a8])
    db.session.commit()
    return plan, a1, a8


def _at(y, m, d):
    return datetime(y, m, d, 6, tzinfo=UTC)


def test_progress_for_period_lists_the_period_evidence_per_priority(app):
    plan, a1, a8 = _plan()
    held = make_event_row(
        title="Technology webinar", status="held", starts_at=_at(2022, 8, 24), ends_at=_at(2022, 8, 25)
    )
    old = make_event_row(title="COVID webinar", status="held", starts_at=_at(2021, 9, 15), ends_at=_at(2021, 9, 16))
    a8.events.extend([held, old])
    compendium = Output(title="Compendium", kind="compendium", published=True, published_on=date(2022, 9, 20))
    compendium.versions = [
        OutputVersion(language="en", published_on=date(2022, 9, 20), url="https://example.org/en.pdf"),
        OutputVersion(language="th", published_on=date(2022, 11, 1), url="https://example.org/th.pdf"),
    ]
    a1.outputs.append(compendium)
    a8.notes.extend(
        [
            ProgressNote(noted_on=date(2022, 8, 30), text="Webinar held", author_label="Organiser"),
            ProgressNote(noted_on=date(2021, 2, 1), text="Planning", author_label="Organiser"),
        ]
    )
    db.session.commit()

    progress = services.progress_for_period(date(2022, 1, 1), date(2022, 12, 31))
    assert progress.name == "Forward Work Plan 2021-23"
    assert [p.number for p in progress.priorities] == [1, 4]
    first, fourth = progress.priorities
    assert first.delivered == 1 and fourth.in_progress == 1
    item1, item8 = first.action_items[0], fourth.action_items[0]
    assert [e.title for e in item8.events] == ["Technology webinar"]  # the 2021 webinar is outside
    assert [n.text for n in item8.notes] == ["Webinar held"]
    assert [o.title for o in item1.outputs] == ["Compendium"]
    assert [v.language for v in item1.outputs[0].versions] == ["en", "th"]
    assert progress.delivered_count == 1 and progress.action_item_count == 2

    earlier = services.progress_for_period(date(2021, 1, 1), date(2021, 12, 31))
    assert [e.title for e in earlier.priorities[1].action_items[0].events] == ["COVID webinar"]
    assert earlier.priorities[0].action_items[0].outputs == ()
    assert services.progress_for_period(date(2019, 1, 1), date(2019, 12, 31)) is None


def test_outputs_for_period_includes_translations_added_later(app):
    out = Output(title="Compendium", kind="compendium", published=True, published_on=date(2021, 9, 20))
    out.versions = [
        OutputVersion(language="en", published_on=date(2021, 9, 20), url="https://example.org/en.pdf"),
        OutputVersion(language="km", published_on=date(2022, 3, 1), url="https://example.org/km.pdf"),
    ]
    draft = Output(title="Research on forced marriage", kind="research", published=False)
    db.session.add_all([out, draft])
    db.session.commit()

    found = services.outputs_for_period(date(2022, 1, 1), date(2022, 12, 31))
    assert [o.title for o in found] == ["Compendium"]
    assert [v.language for v in found[0].new_versions_in_period] == ["km"]
    assert len(found[0].languages) == 2
    assert services.outputs_for_period(date(2020, 1, 1), date(2020, 12, 31)) == []


def test_progress_runs_a_fixed_number_of_queries(app):
    plan, a1, a8 = _plan()

    def count():
        db.session.expire_all()
        with QueryCounter(db.engine) as q:
            services.progress_for_period(date(2021, 1, 1), date(2023, 12, 31))
        return q.count

    def add(n):
        e = make_event_row(
            title=f"Webinar {n}", status="held", starts_at=_at(2022, 1, 1 + n % 28), ends_at=_at(2022, 2, 1)
        )
        a8.events.append(e)
        o = Output(title=f"Slides {n}", kind="slides", published=True, published_on=date(2022, 5, 1))
        o.versions = [OutputVersion(language="en", published_on=date(2022, 5, 1), url="https://example.org/s.pdf")]
        a1.outputs.append(o)
        a8.notes.append(ProgressNote(noted_on=date(2022, 5, 1), text=f"Note {n}", author_label="Organiser"))
        db.session.commit()

    add(0)
    before = count()
    for n in range(1, 30):
        add(n)
    assert count() == before


# Pages per role ------------------------------------------------------------------------------


@pytest.fixture
def outputs_dir(app, tmp_path):
    folder = tmp_path / "outputs"
    app.config["OUTPUTS_DIR"] = str(folder)
    return folder


@pytest.fixture
def plan_data(app):
    plan, a1, a8 = _plan()
    held = make_event_row(
        title="Technology webinar", status="held", starts_at=_at(2022, 8, 24), ends_at=_at(2022, 8, 25)
    )
    a8.events.append(held)
    a8.notes.append(ProgressNote(noted_on=date(2022, 8, 30), text="Sixteen members took part", author_label="Org"))
    published = Output(
        title="Compendium of Good Practice", kind="compendium", published=True, published_on=date(2021, 9, 29)
    )
    published.versions = [
        OutputVersion(language="th", published_on=date(2022, 3, 1), url="https://example.org/th.pdf"),
        OutputVersion(language="en", published_on=date(2021, 9, 29), url="https://example.org/en.pdf"),
    ]
    draft = Output(title="Forced marriage research (draft)", kind="research", published=False)
    a1.outputs.extend([published, draft])
    db.session.commit()
    return {"plan": plan, "a1": a1, "a8": a8, "held": held, "published": published, "draft": draft}


def test_the_plan_needs_a_signed_in_reader(client, plan_data):
    resp = client.get("/workplan")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("role", ["participant", "cochair"])
def test_members_and_cochairs_read_the_plan_without_editing(client, make_user, login, plan_data, role):
    login(make_user(role))
    page = client.get("/workplan").get_data(as_text=True)
    assert "Forward Work Plan 2021-23" in page
    assert "Priority 4: New and emerging priorities" in page
    assert "Hold regional webinars on emerging issues" in page
    assert "Technology webinar" in page and "Sixteen members took part" in page
    assert "Compendium of Good Practice" in page
    assert "Forced marriage research (draft)" not in page  # drafts are for organisers
    assert "Save status" not in page
    item = plan_data["a8"]
    resp = client.post(f"/workplan/items/{item.id}/status", data={"status": "delivered"})
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(ActionItem, item.id).status == "in_progress"
    assert client.get(f"/workplan/items/{item.id}/edit").status_code == 403


def test_an_organiser_changes_a_status_with_a_note_and_adds_a_dated_note(client, organiser, login, plan_data):
    login(organiser)
    item = plan_data["a8"]
    page = client.get(f"/workplan/{plan_data['plan'].id}").get_data(as_text=True)
    assert "Save status" in page and "Forced marriage research (draft)" in page
    resp = client.post(f"/workplan/items/{item.id}/status", data={"status": "delivered", "note": "Both webinars held."})
    assert resp.status_code == 302
    resp = client.post(f"/workplan/items/{item.id}/notes", data={"noted_on": "2022-09-01", "text": "Report shared."})
    assert resp.status_code == 302
    db.session.expire_all()
    item = db.session.get(ActionItem, item.id)
    assert item.status == "delivered"
    assert [n.text for n in item.notes] == ["Sixteen members took part", "Report shared.", "Both webinars held."]
    assert item.notes[-1].author_label == organiser.name
    entries = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "ActionItem")).all()
    assert "workplan.item_status" in entries and "workplan.note_add" in entries


def test_bad_notes_and_statuses_are_refused_with_a_message(client, organiser, login, plan_data):
    login(organiser)
    item = plan_data["a8"]
    resp = client.post(f"/workplan/items/{item.id}/notes", data={"noted_on": "2099-01-01", "text": "Future"})
    assert resp.status_code == 422
    assert "cannot be dated in the future" in resp.get_data(as_text=True)
    resp = client.post(f"/workplan/items/{item.id}/status", data={"status": "finished"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert db.session.get(ActionItem, item.id).status == "in_progress"
    assert len(db.session.get(ActionItem, item.id).notes) == 1


def test_the_public_outputs_page_groups_published_versions_by_language(client, plan_data):
    page = client.get("/outputs").get_data(as_text=True)
    assert "Compendium of Good Practice" in page
    assert "Forced marriage research" not in page
    assert page.index("English") < page.index("Thai")
    only_thai = client.get("/outputs?lang=th").get_data(as_text=True)
    assert "https://example.org/th.pdf" in only_thai and "https://example.org/en.pdf" not in only_thai
    assert client.get(f"/outputs/{plan_data['draft'].id}").status_code == 404
    assert client.get(f"/outputs/{plan_data['published'].id}").status_code == 200


# Linking events to action items through the event form (events/signals.py) -----------------


def _event_form(**overrides):
    data = {
        "title": "Regional webinar on online scams",
        "kind_id": str(webinar_kind().id),
        "timezone": "Asia/Bangkok",
        "starts_local": "2022-11-10T14:00",
        "ends_local": "2022-11-10T16:00",
        "audience": "open",
        "waiting_list": "y",
        "action_items_shown": "1",
    }
    data.update(overrides)
    return data


def test_the_event_form_offers_action_items_and_saves_the_links(client, organiser, login, plan_data):
    login(organiser)
    form = client.get("/events/new").get_data(as_text=True)
    assert "Work plan: action items this event contributes to" in form
    assert "Action item 8" in form
    a8 = plan_data["a8"]
    resp = client.post("/events/new", data=_event_form(action_item_ids=[str(a8.id)]))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    event = db.session.scalar(sa.select(Event).where(Event.title == "Regional webinar on online scams"))
    assert services.linked_item_ids(event) == [a8.id]
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Action item 8" in page and "#item-8" in page

    # Unticking every box removes the links (the hidden marker says the part was shown).
    resp = client.post(f"/events/{event.id}/edit", data=_event_form())
    assert resp.status_code == 302
    assert services.linked_item_ids(event) == []


def test_an_action_item_of_another_plan_period_is_refused_and_nothing_is_saved(client, organiser, login, plan_data):
    login(organiser)
    a8 = plan_data["a8"]
    before = db.session.scalar(sa.select(sa.func.count(Event.id)))
    resp = client.post(
        "/events/new",
        data=_event_form(starts_local="2025-03-10T14:00", ends_local="2025-03-10T16:00", action_item_ids=[str(a8.id)]),
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "outside the period of Forward Work Plan 2021-23" in page
    assert 'aria-invalid="true"' in page
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == before

    # Editing: a new title together with a link out of period saves neither.
    held = plan_data["held"]
    resp = client.post(
        f"/events/{held.id}/edit",
        data=_event_form(
            title="Renamed",
            starts_local="2024-02-01T14:00",
            ends_local="2024-02-01T16:00",
            action_item_ids=[str(a8.id)],
        ),
    )
    assert resp.status_code == 422
    db.session.expire_all()
    held = db.session.get(Event, held.id)
    assert held.title == "Technology webinar" and held.starts_at.year == 2022
    assert services.linked_item_ids(held) == [a8.id]


def test_a_linked_event_cannot_move_out_of_its_plan_period_from_elsewhere(app, organiser, plan_data):
    held = plan_data["held"]
    data = events.EventInput(
        title=held.title,
        kind_id=held.kind_id,
        timezone="UTC",
        starts_local=datetime(2024, 5, 1, 9),
        ends_local=datetime(2024, 5, 1, 11),
        audience="open",
    )
    with pytest.raises(ValidationFailed) as err:
        events.update_event(held, data, actor=organiser)
    assert "Action item 8" in err.value.message
    db.session.expire_all()
    assert db.session.get(Event, held.id).starts_at.year == 2022


def test_an_action_item_form_refuses_an_event_outside_the_period(client, organiser, login, plan_data):
    login(organiser)
    late = make_event_row(title="A 2025 webinar", status="held", starts_at=_at(2025, 1, 10), ends_at=_at(2025, 1, 11))
    a8 = plan_data["a8"]
    with pytest.raises(ValidationFailed) as err:
        services.update_action_item(
            a8,
            services.ActionItemInput(
                priority_id=a8.priority_id, number=8, text=a8.text, status="delivered", event_ids=[late.id]
            ),
            actor=organiser,
        )
    assert "A 2025 webinar" in err.value.field_errors["event_ids"][0]
    db.session.expire_all()
    a8 = db.session.get(ActionItem, a8.id)
    assert a8.status == "in_progress" and [e.title for e in a8.events] == ["Technology webinar"]


# Outputs' files: type by content, size limit, headers, nothing half-saved ---------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _ooxml(main: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>',
        )
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


DOCX = _ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
DOCM = _ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")


def _upload(client, output, content: bytes, name: str, language="km", **extra):
    data = {"language": language, "published_on": "2022-03-15", "file": (io.BytesIO(content), name)}
    data.update(extra)
    return client.post(f"/outputs/{output.id}/versions", data=data, content_type="multipart/form-data")


def _versions(output_id):
    db.session.expire_all()
    return db.session.scalars(sa.select(OutputVersion).where(OutputVersion.output_id == output_id)).all()


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_pdf_is_stored_and_served_with_its_type_name_and_nosniff(client, organiser, login, plan_data, outputs_dir):
    login(organiser)
    output = plan_data["published"]
    resp = _upload(client, output, PDF, "Compendium (ខ្មែរ).pdf")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    (version,) = [v for v in _versions(output.id) if v.language == "km"]
    assert version.content_type == "application/pdf" and version.size == len(PDF)
    assert _files(outputs_dir) == [version.stored_name]

    client.post("/logout")
    resp = client.get(f"/outputs/versions/{version.id}/file")
    assert resp.status_code == 200
    assert resp.data == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Compendium')
    assert "filename*=UTF-8''Compendium%20%28" in disposition
    page = client.get("/outputs?lang=km").get_data(as_text=True)
    assert f"/outputs/versions/{version.id}/file" in page


def test_office_documents_and_images_are_recognised_by_content(client, organiser, login, plan_data, outputs_dir):
    login(organiser)
    output = plan_data["published"]
    assert _upload(client, output, DOCX, "compendium.bin", language="vi").status_code == 302
    assert _upload(client, output, PNG, "cover.pdf", language="lo").status_code == 302
    kinds = {v.language: v.content_type for v in _versions(output.id)}
    assert kinds["vi"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert kinds["lo"] == "image/png"  # the name said .pdf; the content is what counts


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "compendium.pdf"),
        (DOCM, "compendium.docx"),
        (b"PK\x03\x04 not really a zip", "compendium.xlsx"),
        (b"MZ\x90\x00", "setup.exe"),
        (b"", "empty.pdf"),
    ],
)
def test_a_file_of_a_type_not_allowed_leaves_no_file_and_no_row(
    client, organiser, login, plan_data, outputs_dir, content, name
):
    login(organiser)
    output = plan_data["published"]
    resp = _upload(client, output, content, name)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "There is a problem" in page
    assert "not a file of a type allowed" in page or "The file is empty" in page
    assert sorted(v.language for v in _versions(output.id)) == ["en", "th"]
    assert _files(outputs_dir) == []


def test_a_file_over_the_limit_is_refused_while_it_is_read(app, client, organiser, login, plan_data, outputs_dir):
    app.config["OUTPUTS_MAX_BYTES"] = 1024 * 1024
    login(organiser)
    output = plan_data["published"]
    resp = _upload(client, output, PDF + b"0" * (1024 * 1024), "big.pdf")
    assert resp.status_code == 422
    assert "larger than the limit of 1 MB" in resp.get_data(as_text=True)
    assert _files(outputs_dir) == [] and len(_versions(output.id)) == 2


class _Zeros(io.RawIOBase):
    """A 200 MB upload that costs no memory: zeros after a PDF header."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        chunk = b"\0" * n
        if self.left == 200 * 1024 * 1024:
            chunk = (b"%PDF-" + chunk)[:n]
        buffer[:n] = chunk
        self.left -= n
        return n


def test_a_200_mb_document_is_refused(client, organiser, login, plan_data, outputs_dir):
    login(organiser)
    output = plan_data["published"]
    # Through HTTP: the request's size is refused before it is read (MAX_CONTENT_LENGTH, 413).
    resp = client.post(
        f"/outputs/{output.id}/versions",
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(200 * 1024 * 1024)},
    )
    assert resp.status_code == 413
    assert "larger than the limit of 25.0 MB" in resp.get_data(as_text=True)
    # Through the service (a larger MAX_CONTENT_LENGTH): reading stops at OUTPUTS_MAX_BYTES.
    stream = io.BufferedReader(_Zeros(200 * 1024 * 1024))
    with pytest.raises(ValidationFailed) as err:
        services.add_version(
            output,
            services.VersionInput(language="ne", published_on=date(2022, 1, 1), stream=stream, filename="big.pdf"),
            actor=organiser,
        )
    assert "larger than the limit of 25 MB" in err.value.message
    assert stream.raw.left > 150 * 1024 * 1024  # it did not read the whole file
    assert _files(outputs_dir) == [] and len(_versions(output.id)) == 2


def test_a_failure_after_the_file_is_stored_removes_it(monkeypatch, organiser, plan_data, outputs_dir):
    output = plan_data["published"]

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.audit, "record", broken)
    with pytest.raises(RuntimeError):
        services.add_version(
            output,
            services.VersionInput(
                language="ne", published_on=date(2022, 1, 1), stream=io.BytesIO(PDF), filename="ne.pdf"
            ),
            actor=organiser,
        )
    assert _files(outputs_dir) == [] and len(_versions(output.id)) == 2


def test_a_version_needs_a_file_or_a_link_and_one_per_language(client, organiser, login, plan_data, outputs_dir):
    login(organiser)
    output = plan_data["published"]
    resp = client.post(f"/outputs/{output.id}/versions", data={"language": "km", "published_on": "2022-03-15"})
    assert resp.status_code == 422 and "Choose a file or give a link" in resp.get_data(as_text=True)
    resp = client.post(
        f"/outputs/{output.id}/versions",
        data={"language": "th", "published_on": "2022-03-15", "url": "https://example.org/th2.pdf"},
    )
    assert resp.status_code == 422 and "already has a version in Thai" in resp.get_data(as_text=True)
    resp = client.post(
        f"/outputs/{output.id}/versions",
        data={"language": "km", "published_on": "2022-03-15", "url": "javascript:alert(1)"},
    )
    assert resp.status_code == 422
    assert len(_versions(output.id)) == 2


def test_drafts_files_are_for_organisers_only_and_members_cannot_upload(
    client, make_user, organiser, login, plan_data, outputs_dir
):
    draft = plan_data["draft"]
    version = services.add_version(
        draft,
        services.VersionInput(language="en", published_on=date(2022, 1, 1), stream=io.BytesIO(PDF), filename="d.pdf"),
        actor=organiser,
    )
    assert client.get(f"/outputs/versions/{version.id}/file").status_code == 404
    login(make_user("participant"))
    assert client.get(f"/outputs/versions/{version.id}/file").status_code == 404
    assert _upload(client, plan_data["published"], PDF, "x.pdf").status_code == 403
    client.post("/logout")
    login(organiser)
    resp = client.get(f"/outputs/versions/{version.id}/file")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    # Removing the version removes its file.
    assert client.post(f"/outputs/versions/{version.id}/delete").status_code == 302
    assert _files(outputs_dir) == []


# Demo data -------------------------------------------------------------------------------------


def test_the_demo_plan_has_five_priorities_eleven_action_items_and_the_compendium(app):
    run_seed(lambda *a, **k: None)
    plan = services.current_plan()
    assert plan.name == "Forward Work Plan 2021-23"
    progress = services.plan_page(plan)
    assert [p.number for p in progress.priorities] == [1, 2, 3, 4, 5]
    assert progress.action_item_count == 11
    by_number = {a.number: a for a in progress.action_items}
    assert "Compendium of Good Practice" in by_number[5].outputs[0].title
    assert len(by_number[5].outputs[0].versions) == 15  # English and 14 regional languages
    assert {e.title for e in by_number[8].events} >= {
        "Regional Webinar: Combatting trafficking in persons in the COVID-19 recovery phase",
        "Regional Webinar: The role of technology in facilitating and combating trafficking in persons",
    }
    assert by_number[9].commitments  # the technology webinar's pledges
    assert all(a.leads for a in progress.action_items)

    # The statement's period since the 2022 Senior Officials' Meeting sees the 2022 evidence only.
    year = services.progress_for_period(date(2022, 1, 1), date(2022, 12, 31))
    assert [e.title for e in year.events] == [
        "Regional Webinar: The role of technology in facilitating and combating trafficking in persons"
    ]
    compendium = services.outputs_for_period(date(2022, 1, 1), date(2022, 12, 31))[0]
    assert len(compendium.new_versions_in_period) == 14
    assert services.unmatched_tags() == []  # the demo's old tags became links

    run_seed(lambda *a, **k: None)  # idempotent
    assert db.session.scalar(sa.select(sa.func.count(ActionItem.id))) == 11
    assert db.session.scalar(sa.select(sa.func.count(Output.id))) == 3


def test_the_migration_and_the_demo_word_the_action_items_alike():
    spec = importlib.util.spec_from_file_location("m0015", MIGRATIONS / "0015_workplan.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert [(n, p, t) for n, p, t, _names in migration.ACTION_ITEMS] == [
        (n, p, t) for n, p, t, *_rest in seed.ACTION_ITEMS
    ]
    assert migration.PRIORITIES == seed.PRIORITIES and migration.PLAN_NAME == seed.PLAN_NAME
    assert migration.match_tag("Technology") == 9
    assert migration.match_tag("AI 3") == 3
    assert migration.match_tag("technology transfer") is None  # never a guess on part of the words


def test_a_plan_period_cannot_shrink_past_its_linked_events(app, organiser, plan_data):
    plan = plan_data["plan"]
    data = services.PlanInput(
        name=plan.name, period_start=date(2021, 1, 1), period_end=date(2021, 12, 31), current=True
    )
    with pytest.raises(ValidationFailed) as err:
        services.update_plan(plan, data, actor=organiser)
    assert "Technology webinar" in err.value.message and "action item 8" in err.value.message
    db.session.expire_all()
    assert db.session.get(WorkPlan, plan.id).period_end == date(2023, 12, 31)
    # A second plan marked current takes the flag from the first.
    later = services.create_plan(
        services.PlanInput(
            name="Forward Work Plan 2024-26", period_start=date(2024, 1, 1), period_end=date(2026, 12, 31), current=True
        ),
        actor=organiser,
    )
    assert services.current_plan().id == later.id
    assert db.session.get(WorkPlan, plan.id).current is False


@pytest.mark.usefixtures("pseudo")
def test_the_pages_say_nothing_in_english_outside_the_catalogue(app, client, make_user, login, plan_data):
    """The pseudo-locale walk of tests/test_translations.py over this module's pages: every text
    the reader sees comes through gettext, except the data (titles, names, notes)."""
    organiser = make_user("organiser", email="org@example.org", name="Orla Quist", language="th")
    participant = make_user("participant", email="pat@example.org", name="Pat Nguyen", language="th")
    data = {"orla", "quist", "pat", "nguyen", "org", "th", "en"}
    data |= {w.lower() for w in WORD.findall(app.config["ORGANISATION_NAME"])}
    for code in OUTPUT_LANGUAGES:  # each language is also named in itself ("Thai (ไทย)", "Malay (Melayu)")
        if code != "tet":
            data |= {w.lower() for w in WORD.findall(Locale.parse(code).get_display_name() or "")}
    for model, columns in (
        (WorkPlan, ("name",)),
        (Priority, ("title",)),
        (ActionItem, ("text",)),
        (ProgressNote, ("text", "author_label")),
        (Output, ("title",)),
        (Event, ("title",)),
    ):
        for row in db.session.query(model).all():
            for col in columns:
                data |= {w.lower() for w in WORD.findall(getattr(row, col) or "")}
    a8, output = plan_data["a8"], plan_data["published"]
    pages = {
        "guest": ["/outputs", f"/outputs/{output.id}"],
        participant: ["/workplan"],
        organiser: [
            "/workplan",
            f"/workplan/items/{a8.id}/edit",
            f"/workplan/items/{a8.id}/notes",
            f"/workplan/{plan_data['plan'].id}/edit",
            "/outputs/manage",
            "/outputs/new",
            f"/outputs/{output.id}",
            "/events/new",
        ],
    }
    leaks = []
    for who, paths in pages.items():
        if who == "guest":
            client.set_cookie("lang", "th")
        else:
            client.post("/logout")
            login(who)
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
            leaks += [f"{path}: {t}" for t in english_outside_catalogue(resp.get_data(as_text=True), data)]
    assert not leaks, "\n".join(leaks)


def test_an_earlier_tag_is_moved_onto_an_action_item_for_all_its_events(client, organiser, login, plan_data):
    held, a8 = plan_data["held"], plan_data["a8"]
    held.priority_tags = ["Online scams", "Gender"]
    other = make_event_row(
        title="Scam compounds",
        status="held",
        starts_at=_at(2023, 2, 1),
        ends_at=_at(2023, 2, 2),
        priority_tags=["Online scams"],
    )
    late = make_event_row(
        title="2025 seminar",
        status="held",
        starts_at=_at(2025, 2, 1),
        ends_at=_at(2025, 2, 2),
        priority_tags=["Gender"],
    )
    login(organiser)
    page = client.get("/workplan").get_data(as_text=True)
    assert "Earlier free-text tags not matched to an action item" in page and "Online scams" in page
    plan_id = plan_data["plan"].id
    resp = client.post(f"/workplan/{plan_id}/tags", data={"tag": "Online scams", "action_item_id": str(a8.id)})
    assert resp.status_code == 302
    db.session.expire_all()
    assert services.linked_item_ids(db.session.get(Event, other.id)) == [a8.id]
    assert db.session.get(Event, held.id).priority_tags == ["Gender"]
    assert db.session.get(Event, other.id).priority_tags == []
    # A tag whose events fall outside the plan's period: refused, nothing moved.
    resp = client.post(
        f"/workplan/{plan_id}/tags", data={"tag": "Gender", "action_item_id": str(a8.id)}, follow_redirects=True
    )
    assert "outside the period of Forward Work Plan 2021-23" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, held.id).priority_tags == ["Gender"]
    assert services.linked_item_ids(db.session.get(Event, late.id)) == []
