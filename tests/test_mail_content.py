"""Mail out of the box (issue 16): the structure of real mails (multipart/alternative with an HTML
part and the calendar entry, the .ics attached), their wording (old and new values, cancellations,
days to go, when reminders come), the console backend, the worker's heartbeat on the pages, and
links that follow the served address in development. Real SMTP (the suite's aiosmtpd mailbox)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from tests import factories
from tests.factories import make_event, make_event_row, registrant_data
from webinar_mgr import clock, create_app, links
from webinar_mgr.commitments import services as commitments
from webinar_mgr.directory import services as directory
from webinar_mgr.events import services as events
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(factories.NOW)
    yield
    clock.unfreeze()


def _text(msg: EmailMessage) -> str:
    # line ends as sent over SMTP (CRLF where the part is quoted-printable) read as plain newlines
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _html(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


def _urls_in_text(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


# The structure Google and Outlook expect -----------------------------------------------------------


def test_a_confirmation_is_mixed_alternative_with_html_calendar_and_the_ics_attached(app, mailbox):
    event = make_event_row(title='Safe <b>migration</b> & "recruitment"')
    registrations.register(event.id, registrant_data(tz="Asia/Manila"))
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")

    assert msg.get_content_type() == "multipart/mixed"
    alternative, attached = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, page, calendar = alternative.get_payload()
    assert [plain.get_content_type(), page.get_content_type(), calendar.get_content_type()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert calendar.get_param("method") == "REQUEST" and calendar.get_filename() is None
    assert attached.get_content_type() == "application/ics" and attached.get_filename() == "invite.ics"
    assert attached.get_content_disposition() == "attachment"
    inline = Calendar.from_ical(calendar.get_content())
    filed = Calendar.from_ical(attached.get_payload(decode=True))
    assert inline["METHOD"] == filed["METHOD"] == "REQUEST"
    assert str(inline.walk("VEVENT")[0]["UID"]) == str(filed.walk("VEVENT")[0]["UID"]) == event.uid

    # The HTML part: the same words and links, escaped, accessible, nothing fetched from elsewhere.
    text, body = _text(msg), _html(msg)
    assert body.startswith("<!DOCTYPE html>") and '<html lang="en"' in body
    assert "<title>" in body and 'role="article"' in body
    assert "&lt;b&gt;migration&lt;/b&gt; &amp;" in body and "<b>migration</b>" not in body
    assert "<img" not in body and "src=" not in body and "<script" not in body and "<link" not in body
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body.split("<footer")[0])]
    assert hrefs and hrefs == _urls_in_text(text.split("\n-- \n")[0])
    assert all(h.startswith("http://localhost/") or h.startswith("https://meet.example.org/") for h in hrefs)
    assert "<footer" in body and app.config["ORGANISATION_NAME"] in body  # the shared footer block


def test_a_cancelled_registration_withdraws_the_entry_and_offers_no_change_or_pledge(app, mailbox):
    event = make_event_row()
    reg = registrations.register(event.id, registrant_data())
    mail.deliver_due()
    mailbox.clear()
    registrations.cancel(db.session.get(Registration, reg.id))
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")
    calendars = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1 and calendars[0].get_param("method") == "CANCEL"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["cancel.ics"]
    text = _text(msg)
    assert "is cancelled" in text
    assert "change details" not in text and "Pledge" not in text and "/commitments/" not in text
    assert f"http://localhost/events/{event.id}" in text  # to register again while it is open
    assert "change details" not in _html(msg) and "Pledge" not in _html(msg)


def test_a_mail_without_calendar_entry_is_alternative_only(app, mailbox):
    mail.queue(
        "x@example.org",
        "Hello",
        template="mail/password_reset",
        context={"user": _User(), "link": "http://l/x", "minutes": 60},
    )
    db.session.commit()
    mail.deliver_due()
    (msg,) = mailbox.messages
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]
    assert '<a href="http://l/x">http://l/x</a>' in _html(msg)


class _User:
    name = "Ana <Cruz>"


# Wording ---------------------------------------------------------------------------------------------


def test_an_update_says_what_changed_from_what_to_what_in_the_readers_zone(app, mailbox, organiser):
    event = make_event(organiser, venue="UN Conference Centre, Bangkok")  # 14:00-16:00 Bangkok
    events.change_status(event, "scheduled", actor=organiser)
    registrations.register(event.id, registrant_data(tz="Asia/Manila"))  # UTC+8: 15:00
    mail.deliver_due()
    mailbox.clear()
    events.update_event(
        db.session.get(Event, event.id),
        factories.event_input(
            starts_local=datetime(2027, 3, 10, 15, 0),
            ends_local=datetime(2027, 3, 10, 17, 0),
            venue="Sofitel, Bangkok",
        ),
        actor=organiser,
    )
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")
    text = _text(msg)
    time_line = next(line for line in text.splitlines() if "The time has changed" in line)
    old, new = time_line.split(" from ", 1)[1].split(" to ", 1)
    assert "15:00" in old and "17:00" in old and "16:00" not in old and "Asia/Manila" in old
    assert "16:00" in new and "18:00" in new and "15:00" in new and "Asia/Manila" in new  # 15:00 Bangkok
    assert "The place has changed from UN Conference Centre, Bangkok to Sofitel, Bangkok." in text
    assert "(time" not in text and "place)" not in text  # the bare names of changes are gone
    assert "Your registration: Confirmed" in text  # still registered for the moved event


def test_the_event_cancelled_mail_does_not_say_confirmed(app, mailbox, organiser):
    event = make_event_row()
    registrations.register(event.id, registrant_data())
    mail.deliver_due()
    mailbox.clear()
    events.change_status(db.session.get(Event, event.id), "cancelled", actor=organiser)
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")
    text = _text(msg)
    assert "has been cancelled" in text and "do not need to cancel" in text
    assert "Confirmed" not in text and "Your registration:" not in text and "Manage my registration" not in text
    assert [p.get_param("method") for p in msg.walk() if p.get_content_type() == "text/calendar"] == ["CANCEL"]


# Commitments: days to go where the reader is, and when the reminders will come ------------------------

TARGET = date(2027, 1, 20)


@pytest.fixture
def held_event(app):
    clock.freeze(datetime(2026, 11, 1, 8, 0, tzinfo=UTC))
    start = clock.now() - timedelta(days=2)
    return make_event_row(status="held", starts_at=start, ends_at=start + timedelta(hours=2), online_url=None)


def _pledge(event, zone: str | None, target: date = TARGET):
    contact = directory.get_or_create_contact("rosa@example.gov.ph", "Rosa Santos")
    contact.timezone = zone
    reg = factories.register(event, "rosa@example.gov.ph", "Rosa Santos", sector="member_government", contact=contact)
    return commitments.pledge(
        reg,
        commitments.PledgeData(
            kind="social_media_post",
            platforms=["x"],
            languages=["English"],
            audience="Job seekers",
            description="A post on safe online recruitment",
            target_date=target,
            public=False,
        ),
    )


@pytest.mark.parametrize("zone", ["Asia/Bangkok", "Pacific/Apia", "Pacific/Pago_Pago", "UTC"])
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2027, 1, 12, 0, 30, tzinfo=UTC),
        datetime(2027, 1, 12, 11, 0, tzinfo=UTC),
        datetime(2027, 1, 12, 23, 30, tzinfo=UTC),
        datetime(2027, 1, 13, 9, 0, tzinfo=UTC),
        datetime(2027, 1, 13, 23, 59, tzinfo=UTC),
    ],
)
def test_the_reminder_counts_the_days_left_where_the_reader_is(held_event, mailbox, zone, moment):
    c = _pledge(held_event, zone)
    db.session.commit()
    clock.freeze(moment)
    commitments.send_reminders()
    mail.deliver_due()
    left = (TARGET - moment.astimezone(ZoneInfo(zone)).date()).days  # 6, 7 or 8 days
    reminders = [m for m in mailbox.to("rosa@example.gov.ph") if "to go" in m["Subject"]]
    assert len(reminders) == 1
    subject, text = reminders[0]["Subject"].strip(), _text(reminders[0])
    assert subject.startswith(f"{left} days to go: ")
    assert f"is in {left} days, on January 20, 2027" in text
    key = db.session.scalar(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("%-reminder:%")))
    assert key == f"commitment-reminder:{c.id}:{7 if left <= 7 else 30}"


def test_one_day_to_go_is_said_so_and_the_overdue_notice_waits_for_the_readers_day(held_event, mailbox):
    _pledge(held_event, "Pacific/Apia")  # UTC+13
    db.session.commit()
    clock.freeze(datetime(2027, 1, 18, 12, 0, tzinfo=UTC))  # 19 January, 01:00 in Apia
    commitments.send_reminders()
    mail.deliver_due()
    (msg,) = [m for m in mailbox.to("rosa@example.gov.ph") if "to go" in m["Subject"]]
    assert msg["Subject"].strip().startswith("1 day to go: ") and "is tomorrow, January 20, 2027" in _text(msg)
    clock.freeze(datetime(2027, 1, 20, 10, 0, tzinfo=UTC))  # 20 January in Apia: the day itself
    commitments.send_reminders()
    assert not [m for m in mailbox.to("rosa@example.gov.ph") if "past its target date" in m["Subject"]]
    clock.freeze(datetime(2027, 1, 20, 11, 0, tzinfo=UTC))  # 21 January, 00:00 in Apia
    commitments.send_reminders()
    mail.deliver_due()
    assert len([m for m in mailbox.to("rosa@example.gov.ph") if "past its target date" in m["Subject"]]) == 1


def test_the_pledge_mail_says_when_the_reminders_will_come(held_event, mailbox):
    _pledge(held_event, "Asia/Manila")
    db.session.commit()
    mail.deliver_due()
    (msg,) = [m for m in mailbox.to("rosa@example.gov.ph") if "is recorded" in m["Subject"]]
    text = _text(msg)
    # 30 and 7 days before 20 January 2027
    assert "We will send you a reminder on December 21, 2026 and January 13, 2027" in text
    assert "Target date: January 20, 2027" in text


# The console backend -----------------------------------------------------------------------------------


def test_the_console_backend_prints_decoded_text_whole_links_and_a_calendar_summary(app, capsys):
    link = "http://127.0.0.1:5301/r/" + "eyJhbGciOiJIUzI1NiJ9" * 6 + "?x=1&y=2"
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:u-1\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T070000Z\r\nDTEND:20261210T090000Z\r\n"
        "SUMMARY:การสัมมนาออนไลน์\r\nSEQUENCE:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    msg = mail.queue(
        "somchai@example.go.th",
        "ยืนยันการลงทะเบียน",
        body_text=f"เรียน คุณสมชาย\n\nจัดการการลงทะเบียนของท่าน:\n{link}\n",
        attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": ics, "method": "REQUEST"}],
    )
    db.session.commit()
    email = mail.build_email(msg, "webinars@example.org")
    mail._Transport({**app.config, "MAIL_BACKEND": "console"}).send(email)
    out = capsys.readouterr().out
    assert "Subject: ยืนยันการลงทะเบียน" in out and "เรียน คุณสมชาย" in out
    assert link in out.splitlines()  # whole, on its own line
    assert "=E0" not in out and "=\n" not in out and "Content-Transfer-Encoding" not in out
    assert "[calendar REQUEST: การสัมมนาออนไลน์ · 2026-12-10T07:00:00+00:00 to 2026-12-10T09:00:00+00:00" in out
    assert "sequence 2" in out and "[attachment: invite.ics, application/ics" in out


def test_weasyprint_progress_lines_stay_out_of_the_commands_output(app):
    import logging

    from webinar_mgr import pdfs  # noqa: F401  (importing it quiets WeasyPrint)

    assert not logging.getLogger("weasyprint.progress").isEnabledFor(logging.INFO)
    assert not logging.getLogger("fontTools.subset").isEnabledFor(logging.INFO)
    assert logging.getLogger("weasyprint").isEnabledFor(logging.WARNING)  # problems still show


# The worker's heartbeat on the pages ---------------------------------------------------------------------


def test_the_outbox_and_invitation_pages_say_when_no_worker_runs(app, client, login, organiser):
    clock.freeze(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    login(organiser)
    event = make_event_row(audience="invitation")
    contact = directory.get_or_create_contact("maria@example.gov.ph", "Maria Reyes")
    db.session.add(
        Invitation(event_id=event.id, contact_id=contact.id, category="member", send_requested_at=clock.now())
    )
    db.session.commit()

    outbox = client.get("/admin/outbox/").get_data(as_text=True)
    invitations = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
    for page in (outbox, invitations):
        assert "Mail is not being sent." in page and "No mail worker has run yet" in page

    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert mail.worker_status().running
    for url in ("/admin/outbox/", f"/events/{event.id}/invitations"):
        assert "Mail is not being sent." not in client.get(url).get_data(as_text=True)

    clock.advance(timedelta(minutes=6))  # WORKER_STALE_SECONDS is 300
    assert not mail.worker_status().running
    page = client.get("/admin/outbox/").get_data(as_text=True)
    assert "No mail worker has run for more than 5 minutes" in page


# Links follow the served address in development; production needs BASE_URL --------------------------------


def _config_in_a_fresh_process(env: dict) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("BASE_URL", "HOST", "PORT", "WEBINAR_ENV")}
    code = "import config; c = config.get_config('development'); print(c.BASE_URL, c.BASE_URL_FROM_REQUEST)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_development_links_follow_the_port_and_the_request(migrated):
    # PORT=5301 make run passes HOST and PORT to the server and to its worker
    assert _config_in_a_fresh_process({"PORT": "5301", "HOST": "127.0.0.1"}) == "http://127.0.0.1:5301 True"
    assert _config_in_a_fresh_process({"PORT": "5301", "HOST": "0.0.0.0"}) == "http://127.0.0.1:5301 True"
    assert _config_in_a_fresh_process({}) == "http://127.0.0.1:5000 True"
    assert _config_in_a_fresh_process({"BASE_URL": "https://events.example.org"}) == "https://events.example.org False"
    make = subprocess.run(
        ["make", "-n", "-o", "install", "-o", "system-packages", "-o", "seed", "run", "PORT=5301"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "export HOST='127.0.0.1' PORT='5301'" in make
    assert (
        make.index("export HOST") < make.index("flask worker &") < make.index("flask run --host 127.0.0.1 --port 5301")
    )

    dev = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=migrated,
        BASE_URL="http://127.0.0.1:5000",
        BASE_URL_FROM_REQUEST=True,
    )
    with dev.test_request_context("/register", base_url="http://127.0.0.1:5301"):
        assert links.abs_url("events.detail", event_id=3) == "http://127.0.0.1:5301/events/3"
    with dev.app_context():  # the worker: no request, the configured address
        assert links.abs_url("events.detail", event_id=3) == "http://127.0.0.1:5000/events/3"


def test_production_refuses_to_start_without_base_url(migrated):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test-only-0123456789"
        SQLALCHEMY_DATABASE_URI = migrated
        BASE_URL = None

    with pytest.raises(RuntimeError, match="without BASE_URL: set it to the public address"):
        create_app(Prod)
    Prod.BASE_URL = "events.example.org"  # no scheme: links would be relative, refused too
    with pytest.raises(RuntimeError, match="BASE_URL=https://events.example.org"):
        create_app(Prod)
    Prod.BASE_URL = "https://events.example.org"
    assert create_app(Prod).config["BASE_URL"] == "https://events.example.org"


# The usual mail written straight to its bytes (issue 19) -----------------------------------------

_BODIES = [
    "Short lines.\nAll ASCII.\n\n-- \nFooter\n",
    "A long ASCII line " * 12 + "\nhttps://events.example.org/i/" + "x" * 120 + "\n",
    "Kính gửi Nguyễn Văn An,\nBạn được mời.\n",
    "เรียน คุณสมชาย\n" + "การค้ามนุษย์ " * 30 + "\n",
    "人口贩运问题工作组\n" * 14 + "最后一行",
    "no newline at the end",
    "CR\r\nLF and CR\rmixed\n\n\n",
    "--===============1234567890123456789==\nlooks like a boundary\n",
    "=?utf-8?q?not_a_word?= and a tab\there\n" * 11,
]
_NAMES = [None, "", "Invitee 1500", "Nguyễn Văn An", "J. R. Smith", 'Quote "Q" O\'Brien', "A, B", "x" * 90]
_SUBJECTS = ["Invitation: Webinar", "Lời mời: Hội thảo trực tuyến về buôn bán người", "S" * 120, "=?utf-8?q?x?="]


def test_the_usual_mail_written_straight_is_the_email_packages_bytes(app):
    """fast_wire (no message object) gives the very bytes of wire_bytes(build_email(...)), with the
    same boundary for the same random draw, for texts with and without their HTML twin."""
    import random
    from types import SimpleNamespace

    created = datetime(2026, 12, 7, 21, 46, 44, tzinfo=UTC)
    checked = 0
    for n, body in enumerate(_BODIES):
        for k, name in enumerate(_NAMES):
            subject = _SUBJECTS[(n + k) % len(_SUBJECTS)]
            for html_body in (None, mail.html_from_text(body, subject), body):
                for sender in ("webinars@example.org", "Working Group <wg@example.org>"):
                    row = SimpleNamespace(
                        id=n * 100 + k,
                        to_addr=("first.last+tag@example.org", "x@sub.example.co.th")[k % 2],
                        to_name=name,
                        subject=subject,
                        body_text=body,
                        body_html=html_body,
                        attachments=None,
                        headers=None,
                        created_at=created,
                    )
                    random.seed(checked)
                    expected = mail.wire_bytes(mail.build_email(row, sender))
                    random.seed(checked)
                    wire, envelope = mail.fast_wire(row, sender)
                    assert wire == expected, (body, name, subject, sender)
                    assert envelope == (sender.split("<")[-1].strip(">"), [row.to_addr])
                    checked += 1
    assert checked == len(_BODIES) * len(_NAMES) * 3 * 2
    # a part holding the boundary the draw gives: the same rule as the email package's
    random.seed(7)
    first = mail.BytesGenerator._make_boundary()
    held = SimpleNamespace(**{**vars(row), "body_text": f"--{first}\n--{first}--", "body_html": "x"})
    random.seed(7)
    expected = mail.wire_bytes(mail.build_email(held, "webinars@example.org"))
    random.seed(7)
    assert mail.fast_wire(held, "webinars@example.org")[0] == expected


def test_other_mails_go_the_long_way(app):
    from types import SimpleNamespace

    base = {"to_addr": "a@example.org", "to_name": None, "subject": "S", "body_text": "x", "body_html": None}
    base.update(id=1, created_at=datetime(2026, 12, 7, tzinfo=UTC), attachments=None, headers=None)
    assert mail.fast_wire(SimpleNamespace(**base), "webinars@example.org") is not None
    for change in (
        {"attachments": [{"filename": "a.txt", "mimetype": "text/plain", "content": "a"}]},
        {"headers": {"Reply-To": "b@example.org"}},
        {"to_addr": "ñandú@example.org"},
    ):
        assert mail.fast_wire(SimpleNamespace(**{**base, **change}), "webinars@example.org") is None
    assert mail.fast_wire(SimpleNamespace(**base), "Grupo <señal@example.org>") is None


def test_the_worker_sends_the_usual_mail_without_building_a_message_object(app, mailbox, monkeypatch):
    text = "Dear Fast,\nhttps://x.example/i/abc\n"
    mail.queue("fast@example.org", "Invitation: Fast", body_text=text, to_name="Fast")
    mail.queue(
        "slow@example.org",
        "With a file",
        body_text="See the file.",
        attachments=[{"filename": "a.txt", "mimetype": "text/plain", "content": "a"}],
    )
    db.session.commit()
    built = []
    build_email = mail.build_email
    monkeypatch.setattr(mail, "build_email", lambda msg, sender: built.append(msg.to_addr) or build_email(msg, sender))
    assert mail.deliver_due()["sent"] == 2
    assert built == ["slow@example.org"]
    (fast,) = mailbox.to("fast@example.org")
    assert fast.get_content_type() == "multipart/alternative" and str(fast["To"]) == "Fast <fast@example.org>"
    assert _text(fast).startswith("Dear Fast,\nhttps://x.example/i/abc\n")
    assert '<a href="https://x.example/i/abc">' in fast.get_body(("html",)).get_content()
