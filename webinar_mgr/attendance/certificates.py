"""Certificates of attendance (issue 15).

Someone whose attendance is recorded (a report's row linked to their registration at or over the
event's threshold, or a check-in: ``services.attended_clause``) downloads a one-page PDF with their
name, the event, its date, the time they attended, the convenors, and a verification address
(``/certificates/<code>``, a random code stored with the certificate) that anyone holding the
certificate can open to check it. Organisers download anyone's from the attendance page and send
them to every attendee through the outbox: the click marks them, and the worker (job
``certificates``) renders each PDF in the person's language and queues it, in batches.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock, jobs, links
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import NotAllowed, NotFound
from webinar_mgr.events import pdf as event_pdf
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import format_in_zone, in_language
from webinar_mgr.mail import services as mail
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration

from .models import AttendanceRecord, Certificate
from .services import attended_clause

SEND_BATCH = 50


def minutes_attended(reg: Registration) -> int | None:
    """The minutes the person attended (the longest record: a report's; None for a check-in
    only), or None when their attendance is not recorded."""
    rows = db.session.execute(
        sa.select(AttendanceRecord.minutes, AttendanceRecord.source).where(
            AttendanceRecord.event_id == reg.event_id, AttendanceRecord.registration_id == reg.id, attended_clause()
        )
    ).all()
    if not rows:
        return None
    return max((m for m, _source in rows), default=0) or None


def has_attended(reg: Registration) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AttendanceRecord)
            .where(
                AttendanceRecord.event_id == reg.event_id,
                AttendanceRecord.registration_id == reg.id,
                attended_clause(),
            )
        )
    )


def attendees(event: Event) -> list[Registration]:
    """The registrations whose attendance is recorded, by name."""
    ids = sa.select(AttendanceRecord.registration_id).where(
        AttendanceRecord.event_id == event.id, AttendanceRecord.registration_id.is_not(None), attended_clause()
    )
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.id.in_(ids))
            .order_by(Registration.name, Registration.id)
        ).unique()
    )


def own_registration(event: Event, user) -> Registration:
    """The signed-in reader's registration of ``event`` whose attendance is recorded, or a clear
    refusal (NotAllowed) for someone whose attendance is not."""
    for reg in registrations.registrations_of(event.id, user):
        if has_attended(reg):
            return reg
    raise NotAllowed(
        _(
            "There is no certificate for you: your attendance at this event is not recorded. If you took part, "
            "please write to the organisers."
        )
    )


def issue(reg: Registration) -> Certificate:
    """The registration's certificate, made on first use (one per registration, race-safe)."""
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.registration_id == reg.id))
    if cert is not None:
        return cert
    try:
        with db.session.begin_nested():
            cert = Certificate(code=secrets.token_urlsafe(12), event_id=reg.event_id, registration_id=reg.id)
            db.session.add(cert)
    except IntegrityError:  # made a moment ago by another request
        cert = db.session.scalar(sa.select(Certificate).where(Certificate.registration_id == reg.id))
    return cert


def verify(code: str) -> Certificate:
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.code == (code or "")[:32]))
    if cert is None:
        raise NotFound(_("No certificate has this code. Check the address on the certificate."))
    return cert


@dataclass
class CertificateView:
    """What a certificate says (the PDF and the verification page)."""

    certificate: Certificate
    name: str
    event: Event
    title: str
    day: str
    minutes: int | None
    convenors: str
    verify_url: str
    issued: str


def view_of(cert: Certificate) -> CertificateView:
    reg = db.session.get(Registration, cert.registration_id)
    event = reg.event
    convenors = event.convenors_text()
    return CertificateView(
        certificate=cert,
        name=reg.name,
        event=event,
        title=event.shown().title,
        day=format_in_zone(event.starts_at, event.timezone, "date") if event.starts_at else "",
        minutes=minutes_attended(reg),
        convenors=convenors,
        verify_url=links.abs_url("certificates.verify", code=cert.code) or "",
        issued=format_in_zone(cert.issued_at, event.timezone, "date"),
    )


def certificate_pdf(cert: Certificate) -> bytes:
    """The certificate as a one-page PDF, in the current language (Noto fonts, the app's files only)."""
    html = render_template(
        "pdf/certificate.html",
        c=view_of(cert),
        font_stack=event_pdf.FONT_STACK,
        org_name=current_app.config.get("ORGANISATION_NAME", ""),
        lang=str(get_locale() or "en").replace("_", "-"),
    )
    return event_pdf.render(html)


def file_name(cert: Certificate) -> str:
    reg = db.session.get(Registration, cert.registration_id)
    return _("Certificate of attendance - %(name)s.pdf", name=reg.name)


# Sending them all --------------------------------------------------------------------------------


@transactional
def request_send_all(event: Event, *, actor) -> int:
    """Mark the certificate of every attendee to be mailed (those already sent are not sent again);
    the worker renders and queues them. Returns how many were marked."""
    if not event.ends_at or event.ends_at > clock.now():
        raise NotAllowed(_("Certificates can be sent once the event has ended."))
    now = clock.now()
    n = 0
    for reg in attendees(event):
        cert = issue(reg)
        if cert.sent_at is None and cert.send_requested_at is None:
            cert.send_requested_at = now
            n += 1
    audit.record(actor, "certificate.send", event, summary=_("%(n)d certificates to send", n=n))
    return n


def _queue(cert: Certificate) -> None:
    reg = db.session.get(Registration, cert.registration_id)
    with in_language(reg.language, reg.contact.language if reg.contact else None):
        content = certificate_pdf(cert)
        c = view_of(cert)
        mail.queue(
            reg.email,
            _("Certificate of attendance: %(title)s", title=c.title),
            template="mail/certificate",
            context={"c": c, "name": reg.name},
            to_name=reg.name,
            category="certificate",
            attachments=[
                {
                    "filename": file_name(cert),
                    "mimetype": "application/pdf",
                    "content": base64.b64encode(content).decode(),
                    "base64": True,
                }
            ],
        )


def send_requested(limit: int | None = None) -> int:
    """The worker's job: render and queue the marked certificates, a batch per transaction."""
    done = 0
    while limit is None or done < limit:
        size = SEND_BATCH if limit is None else min(SEND_BATCH, limit - done)
        certs = list(
            db.session.scalars(
                sa.select(Certificate)
                .where(Certificate.send_requested_at.is_not(None), Certificate.sent_at.is_(None))
                .order_by(Certificate.send_requested_at, Certificate.id)
                .limit(size)
            )
        )
        if not certs:
            break
        with unit_of_work():
            for cert in certs:
                _queue(cert)
                cert.sent_at = clock.now()
        done += len(certs)
    return done


@jobs.scheduled("certificates")
def _send_job() -> int:
    return send_requested(limit=500)
