"""Issue 15: copy an event (a draft with its agenda moved to the new date and its speakers, nothing
of its people); speakers' biographies, photos (checked by content, resized) and the moderator role
on the event page and in the agenda PDF; certificates of attendance (the attendee's own PDF, a
verification page, mailed to every attendee once by the worker)."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.factories import add_item, make_event, make_event_row, register
from webinar_mgr import clock
from webinar_mgr.attendance import certificates
from webinar_mgr.attendance.models import AttendanceRecord, Certificate
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events import agenda, copying, photos
from webinar_mgr.events.models import AgendaItem, Event, Speaker
from webinar_mgr.events.signals import event_copied
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations.models import Registration


def _png(width=1200, height=800, color=(200, 30, 30)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    buf.seek(0)
    return buf


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def photo_dir(app, tmp_path):
    app.config["SPEAKER_PHOTOS_DIR"] = str(tmp_path / "photos")
    return tmp_path / "photos"


# Speakers ---------------------------------------------------------------------------------------


def test_a_photo_is_checked_by_content_resized_and_rewritten(app, organiser, photo_dir):
    event = make_event(organiser)
    item = add_item(organiser, event, 14, 0, 30, "Panel of focal points", kind="panel")
    data = agenda.SpeakerInput(name="Dewi Kartika", role="moderator", bio="Co-Chair.\n\nTwenty years of work.")
    data.photo = _png()
    speaker = agenda.add_speaker(event, item, data, actor=organiser)
    assert speaker.is_moderator and speaker.bio.startswith("Co-Chair.")
    stored = Image.open(photos.path_of(speaker.photo))
    assert stored.format == "JPEG" and max(stored.size) == photos.SIZE  # 1200 x 800 -> 480 x 320
    assert len(list(photo_dir.iterdir())) == 1


@pytest.mark.parametrize(
    "payload,message",
    [
        (b"%PDF-1.7 not an image at all", "This is not a photo"),
        (b"GIF89a" + b"\x00" * 20, "This is not a photo"),  # a header and nothing behind it
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_kept(app, organiser, photo_dir, payload, message):
    event = make_event(organiser)
    item = add_item(organiser, event, 14, 0, 30, "Panel")
    data = agenda.SpeakerInput(name="Somchai", photo=io.BytesIO(payload))
    with pytest.raises(ValidationFailed, match=message) as exc:
        agenda.add_speaker(event, item, data, actor=organiser)
    assert "photo" in exc.value.field_errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Speaker)) == 0
    assert not photo_dir.exists() or list(photo_dir.iterdir()) == []


def test_a_50_mb_photo_is_refused_after_reading_the_limit_only(app, organiser, photo_dir):
    app.config["SPEAKER_PHOTO_MAX_BYTES"] = 5 * 1024 * 1024
    event = make_event(organiser)
    item = add_item(organiser, event, 14, 0, 30, "Panel")

    class Huge(io.RawIOBase):
        """50 MB, counted as read (never held in memory)."""

        read_bytes = 0

        def readable(self):
            return True

        def read(self, n=-1):
            n = min(n if n >= 0 else 50 * 1024 * 1024, 50 * 1024 * 1024 - self.read_bytes)
            self.read_bytes += n
            return b"\xff" * n

    stream = Huge()
    with pytest.raises(ValidationFailed, match="larger than 5.0 MB"):
        agenda.add_speaker(event, item, agenda.SpeakerInput(name="Big", photo=stream), actor=organiser)
    assert stream.read_bytes == 5 * 1024 * 1024 + 1


def test_speakers_on_the_event_page_and_in_the_pdf(app, client, organiser, login, photo_dir, tmp_path):
    login(organiser)
    event = make_event(organiser, pdf_speaker_details=True)
    item = add_item(organiser, event, 14, 0, 30, "Panel of focal points", kind="panel")
    agenda.add_speaker(
        event,
        item,
        agenda.SpeakerInput(name="Dewi Kartika", role="moderator", bio="Co-Chair of the Working Group.", photo=_png()),
        actor=organiser,
    )
    agenda.add_speaker(event, item, agenda.SpeakerInput(name="Lina Ho", title="Researcher"), actor=organiser)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Moderator: Dewi Kartika" in page and "Co-Chair of the Working Group." in page
    photo_url = re.search(r'src="(/speakers/\d+/photo\.jpg)"', page).group(1)
    resp = client.get(photo_url)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    text = _pdf_text(client.get(f"/events/{event.id}/agenda.pdf").get_data(), tmp_path)
    assert "Moderator: Dewi Kartika" in text and "Co-Chair of the Working Group." in text
    images = subprocess.run(
        ["pdfimages", "-list", str(tmp_path / "out.pdf")], check=True, capture_output=True, text=True
    ).stdout
    assert "jpeg" in images or "image" in images  # the photo is in the PDF


def test_the_photo_of_a_drafts_speaker_is_for_organisers_only(app, client, organiser, photo_dir):
    event = make_event(organiser)  # a draft
    item = add_item(organiser, event, 14, 0, 30, "Panel")
    s = agenda.add_speaker(event, item, agenda.SpeakerInput(name="Dewi", photo=_png()), actor=organiser)
    assert client.get(f"/speakers/{s.id}/photo.jpg").status_code == 404


# Copying ----------------------------------------------------------------------------------------


def test_copy_moves_the_agenda_keeps_the_settings_and_takes_no_people(app, client, organiser, login, photo_dir):
    source = make_event(organiser, capacity=40, waiting_list=False)
    source.status = "held"
    db.session.commit()
    first = add_item(organiser, source, 14, 0, 20, "Welcome and opening remarks", kind="opening")
    add_item(organiser, source, 14, 20, 40, "Online recruitment", kind="presentation")
    agenda.add_speaker(source, first, agenda.SpeakerInput(name="Dewi", bio="Co-Chair.", photo=_png()), actor=organiser)
    register(source, "ana@example.org")
    copied: list = []

    def receiver(sender, target, actor):
        copied.append((sender.id, target.id))

    event_copied.connect(receiver)
    try:
        login(organiser)
        form = client.get(f"/events/{source.id}/copy").get_data(as_text=True)
        assert 'value="2028-03-10T14:00"' in form  # a year later by default
        resp = client.post(
            f"/events/{source.id}/copy",
            data={"title": "Regional webinar on technology 2028", "starts_local": "2028-04-05T09:00"},
        )
    finally:
        event_copied.disconnect(receiver)
    assert resp.status_code == 302
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Regional webinar on technology 2028"))
    assert copied == [(source.id, copy.id)]
    assert copy.status == "draft" and copy.online_url is None
    assert (copy.capacity, copy.waiting_list, copy.kind_id, copy.timezone) == (
        40,
        False,
        source.kind_id,
        source.timezone,
    )
    assert copy.starts_at == datetime(2028, 4, 5, 2, 0, tzinfo=UTC)  # 09:00 in Bangkok
    assert copy.ends_at - copy.starts_at == source.ends_at - source.starts_at
    items = list(
        db.session.scalars(sa.select(AgendaItem).where(AgendaItem.event_id == copy.id).order_by(AgendaItem.position))
    )
    assert [(i.title, i.starts_at) for i in items] == [
        ("Welcome and opening remarks", datetime(2028, 4, 5, 2, 0, tzinfo=UTC)),
        ("Online recruitment", datetime(2028, 4, 5, 2, 20, tzinfo=UTC)),
    ]
    (speaker,) = items[0].speakers
    original = db.session.scalar(sa.select(Speaker).where(Speaker.agenda_item_id == first.id))
    assert speaker.bio == "Co-Chair." and speaker.photo and speaker.photo != original.photo  # its own file
    assert photos.path_of(speaker.photo).read_bytes() == photos.path_of(original.photo).read_bytes()
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(Registration.event_id == copy.id))
        == 0
    )


def test_a_refused_copy_saves_nothing_and_leaves_no_file(app, organiser, photo_dir):
    source = make_event(organiser)
    item = add_item(organiser, source, 14, 0, 20, "Panel")
    agenda.add_speaker(source, item, agenda.SpeakerInput(name="Dewi", photo=_png()), actor=organiser)
    events_before = db.session.scalar(sa.select(sa.func.count()).select_from(Event))

    def refuse(sender, target, actor):
        raise ValidationFailed("a module above refuses")

    event_copied.connect(refuse)
    try:
        with pytest.raises(ValidationFailed):
            copying.copy_event(source, copying.CopyInput("Copy", datetime(2028, 1, 5, 14, 0)), actor=organiser)
    finally:
        event_copied.disconnect(refuse)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == events_before
    assert len(list(photo_dir.iterdir())) == 1  # the source's photo only
    with pytest.raises(ValidationFailed, match="title"):
        copying.copy_event(source, copying.CopyInput("   ", None), actor=organiser)


# Certificates -----------------------------------------------------------------------------------


def _held_with_attendee():
    clock.freeze(datetime(2026, 11, 20, tzinfo=UTC))
    event = make_event_row(status="held", title="Technology and trafficking in persons")
    reg = register(event, "somchai@example.go.th", "Somchai Jaidee")
    db.session.add(
        AttendanceRecord(
            event_id=event.id,
            registration_id=reg.id,
            name=reg.name,
            email=reg.email,
            minutes=95,
            session_count=1,
            attended=True,
            match="email",
        )
    )
    absent = register(event, "absent@example.org", "Not There")
    db.session.commit()
    return event, reg, absent


def test_the_attendee_downloads_a_certificate_anyone_can_verify(app, client, make_user, login, tmp_path):
    try:
        event, reg, _absent = _held_with_attendee()
        user = make_user("participant", email="somchai@example.go.th", name="Somchai Jaidee")
        login(user)
        assert "Download my certificate of attendance" in client.get(f"/events/{event.id}").get_data(as_text=True)
        resp = client.get(f"/events/{event.id}/certificate.pdf")
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        text = _pdf_text(resp.get_data(), tmp_path)
        assert "Certificate of attendance" in text and "Somchai Jaidee" in text
        assert "Technology and trafficking in persons" in text and "95 minutes attended" in text
        code = db.session.scalar(sa.select(Certificate.code).where(Certificate.registration_id == reg.id))
        assert f"/certificates/{code}" in text.replace("\n", "")
        fonts = subprocess.run(
            ["pdffonts", str(tmp_path / "out.pdf")], check=True, capture_output=True, text=True
        ).stdout.splitlines()[2:]
        assert fonts and all(" yes " in f for f in fonts)  # every font embedded
        again = client.get(f"/events/{event.id}/certificate.pdf")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1 and again.status_code == 200
        client.post("/logout")
        check = client.get(f"/certificates/{code}")
        assert check.status_code == 200 and "Somchai Jaidee" in check.get_data(as_text=True)
        assert client.get("/certificates/not-a-code").status_code == 404
    finally:
        clock.unfreeze()


def test_no_certificate_for_someone_who_did_not_attend(app, client, make_user, login):
    try:
        event, _reg, _absent = _held_with_attendee()
        login(make_user("participant", email="absent@example.org"))
        resp = client.get(f"/events/{event.id}/certificate.pdf")
        assert resp.status_code == 403 and "attendance at this event is not recorded" in resp.get_data(as_text=True)
        assert "Download my certificate" not in client.get(f"/events/{event.id}").get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
    finally:
        clock.unfreeze()


def test_organisers_mail_every_attendee_their_certificate_once(app, client, organiser, login, mailbox):
    try:
        event, reg, absent = _held_with_attendee()
        login(organiser)
        assert client.get(f"/events/{event.id}/attendance/certificates/{absent.id}.pdf").status_code == 404
        assert client.get(f"/events/{event.id}/attendance/certificates/{reg.id}.pdf").status_code == 200
        resp = client.post(f"/events/{event.id}/attendance/certificates/send", follow_redirects=True)
        assert "1 certificate will be mailed" in resp.get_data(as_text=True)
        assert certificates.send_requested() == 1
        mail.deliver_due()
        (msg,) = mailbox.to("somchai@example.go.th")
        assert "Certificate of attendance" in msg["Subject"]
        (pdf,) = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert pdf.get_content().startswith(b"%PDF")
        assert mailbox.to("absent@example.org") == []
        # Asked again: nobody is mailed twice.
        client.post(f"/events/{event.id}/attendance/certificates/send")
        assert certificates.send_requested() == 0
    finally:
        clock.unfreeze()


def test_certificates_are_sent_only_after_the_event(app, organiser):
    event = make_event_row(starts_at=clock.now() + timedelta(days=3), ends_at=clock.now() + timedelta(days=3, hours=2))
    with pytest.raises(Exception, match="once the event has ended"):
        certificates.request_send_all(event, actor=organiser)


def test_a_copy_without_a_new_date_is_to_be_confirmed_a_year_later(app, organiser):
    source = make_event(organiser)  # 10 March 2027
    add_item(organiser, source, 14, 0, 20, "Panel")
    copy = copying.copy_event(source, copying.CopyInput("Next year's webinar", None), actor=organiser)
    assert copy.starts_at is None and copy.tentative_month.isoformat() == "2028-03-01"
    assert copy.status == "draft" and copy.agenda_items == []


def test_a_copy_takes_the_registration_questions_without_answers(app, organiser):
    from webinar_mgr.registrations import questions

    source = make_event(organiser)
    first = questions.add_question(
        source, questions.QuestionInput(kind="yes_no", label="Do you need interpretation?"), actor=organiser
    )
    questions.add_question(
        source,
        questions.QuestionInput(
            kind="short_text", label="Into which language?", condition_question_id=first.id, condition_value="yes"
        ),
        actor=organiser,
    )
    copy = copying.copy_event(source, copying.CopyInput("Copy", datetime(2028, 3, 10, 14, 0)), actor=organiser)
    copied = questions.questions_of(copy.id, "registration")
    assert [q.label for q in copied] == ["Do you need interpretation?", "Into which language?"]
    assert copied[1].condition_question_id == copied[0].id  # pointing at the copy, not the source


def test_the_demo_shows_issue_15_at_work_on_the_technology_webinar(app):
    """Questions, a feedback survey with answers, a sent message and an adapted follow-up, a
    moderator and speakers' biographies, and the demo participant's certificate."""
    from webinar_mgr.cli import run_seed
    from webinar_mgr.messages.models import EventMessage, MailText
    from webinar_mgr.questions.models import FeedbackResponse
    from webinar_mgr.registrations import questions

    run_seed(lambda *args, **kwargs: None)
    event = db.session.scalar(sa.select(Event).where(Event.status == "held", Event.title.ilike("%technology%")))
    speakers = list(db.session.scalars(sa.select(Speaker).join(AgendaItem).where(AgendaItem.event_id == event.id)))
    assert any(s.is_moderator for s in speakers) and sum(1 for s in speakers if s.bio) >= 2
    assert questions.questions_of(event.id, "registration")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackResponse)) > 0
    assert db.session.scalar(sa.select(EventMessage.recipient_count).where(EventMessage.event_id == event.id)) > 0
    assert db.session.scalar(sa.select(MailText.kind).where(MailText.event_id == event.id)) == "follow_up"
    participant = db.session.scalar(
        sa.select(Registration).where(
            Registration.event_id == event.id, Registration.email == "participant@example.org"
        )
    )
    assert participant is not None and certificates.has_attended(participant)
