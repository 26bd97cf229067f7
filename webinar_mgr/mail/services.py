"""The outbox: queue mail in the caller's transaction; the worker delivers it over SMTP.

Nothing is sent inside a web request: a failure of the SMTP server never loses a change or a
mail, and :func:`deliver_due` retries with exponential backoff.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import Conflict, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work

from .models import (
    STATUS_FAILED,
    STATUS_QUEUED,
    STATUS_SENDING,
    STATUS_SENT,
    STATUSES,
    OutboxMessage,
)

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)


def queue(
    to: str,
    subject: str,
    *,
    template: str | None = None,
    context: dict | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    to_name: str | None = None,
    attachments: list[dict] | None = None,
    headers: dict | None = None,
    category: str = "general",
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Add a message to the outbox in the current transaction (the caller commits).

    With ``template="mail/x"`` the bodies come from ``templates/mail/x.txt`` and, when it exists,
    ``templates/mail/x.html``. With ``dedupe_key``, a message with the same key is queued at most
    once; a second call returns None (a savepoint keeps the caller's transaction intact).
    """
    if template:
        context = dict(context or {}, subject=subject)
        body_text = render_template(f"{template}.txt", **context)
        try:
            body_html = render_template(f"{template}.html", **context)
        except Exception as exc:  # the HTML part is optional
            if type(exc).__name__ != "TemplateNotFound":
                raise
    if body_text is None:
        raise ValueError("a mail needs a text body")
    to = (to or "").strip()
    if not to or any(c in to for c in "\r\n,;<>") or "@" not in to:
        raise ValueError(f"not a single email address: {to!r}")
    if to_name:
        to_name = " ".join(to_name.split())[:200]
    msg = OutboxMessage(
        to_addr=to,
        to_name=to_name,
        subject=subject.replace("\n", " ").strip(),
        body_text=body_text,
        body_html=body_html,
        attachments=attachments or None,
        headers=headers or None,
        category=category,
        dedupe_key=dedupe_key,
        next_attempt_at=clock.now(),
    )
    if dedupe_key is None:
        db.session.add(msg)
        return msg
    if db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    try:
        with db.session.begin_nested():
            db.session.add(msg)
    except IntegrityError:
        return None
    return msg


def build_email(msg: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = formataddr((msg.to_name or "", msg.to_addr)) if msg.to_name else msg.to_addr
    email["Subject"] = msg.subject
    email["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or "localhost")
    email["Date"] = msg.created_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    for key, value in (msg.headers or {}).items():
        email[key] = value
    email.set_content(msg.body_text)
    if msg.body_html:
        email.add_alternative(msg.body_html, subtype="html")
    for att in msg.attachments or []:
        mimetype = att.get("mimetype", "application/octet-stream")
        maintype, _, subtype = mimetype.partition("/")
        params = {}
        if att.get("method"):
            params["method"] = att["method"]
        if att.get("base64"):
            email.add_attachment(
                base64.b64decode(att["content"]), maintype=maintype, subtype=subtype, filename=att["filename"]
            )
        elif maintype == "text":
            email.add_attachment(att["content"], subtype=subtype, filename=att["filename"], params=params)
        else:
            email.add_attachment(att["content"].encode(), maintype=maintype, subtype=subtype, filename=att["filename"])
    return email


class _Transport:
    """One SMTP connection reused for a batch."""

    def __init__(self, config):
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def send(self, email: EmailMessage) -> None:
        cfg = self.config
        if cfg["MAIL_BACKEND"] == "console":
            print(f"----- mail to {email['To']} -----\n{email.as_string()[:4000]}\n-----", flush=True)
            return
        if self.conn is None:
            if cfg.get("MAIL_USE_SSL"):
                self.conn = smtplib.SMTP_SSL(
                    cfg["MAIL_SERVER"],
                    cfg["MAIL_PORT"],
                    timeout=cfg["MAIL_TIMEOUT"],
                    context=ssl.create_default_context(),
                )
            else:
                self.conn = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT"])
                if cfg.get("MAIL_USE_TLS"):
                    self.conn.starttls(context=ssl.create_default_context())
            if cfg.get("MAIL_USERNAME"):
                self.conn.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        self.conn.send_message(email)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self.conn.quit()
            self.conn = None


@transactional
def _claim(limit: int) -> list[int]:
    """Mark up to ``limit`` due messages as 'sending' and return their ids, in one unit of work
    (committed before anything is sent). The conditional UPDATE makes two workers never claim
    the same message."""
    now = clock.now()
    # Messages claimed by a worker that died are put back in the queue.
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == STATUS_SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM)
        .values(status=STATUS_QUEUED)
    )
    ids = db.session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == STATUS_QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    claimed = []
    for mid in ids:
        res = db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == mid, OutboxMessage.status == STATUS_QUEUED)
            .values(status=STATUS_SENDING, claimed_at=now)
        )
        if res.rowcount:
            claimed.append(mid)
    return claimed


def _permanent(exc: Exception) -> bool:
    """A 5xx answer about this message or its recipient will not change on a retry; 4xx answers
    (greylisting, a full queue), connection errors and login failures (a settings problem) will."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, (smtplib.SMTPDataError, smtplib.SMTPSenderRefused)):
        return 500 <= exc.smtp_code < 600
    return False


def deliver_due(limit: int = 200) -> dict[str, int]:
    """Send what is due; returns counts {'sent', 'retry', 'failed'}.

    The claim is one unit of work, then each message's outcome is its own (committed right after
    its send), so a worker that stops mid-batch never sends a message twice nor loses a result.
    """
    cfg = current_app.config
    ids = _claim(limit)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not ids:
        return counts
    transport = _Transport(cfg)
    try:
        for mid in ids:
            with unit_of_work():
                counts[_deliver_one(mid, transport, cfg)] += 1
    finally:
        transport.close()
    return counts


def _deliver_one(mid: int, transport: _Transport, cfg) -> str:
    """Build and send one claimed message and record the outcome: 'sent', 'retry' or 'failed'."""
    msg = db.session.get(OutboxMessage, mid)
    try:
        email = build_email(msg, cfg["MAIL_DEFAULT_SENDER"])
    except (ValueError, TypeError, UnicodeError, KeyError) as exc:
        # A message that cannot be built never will be: fail it now, keep the batch going.
        msg.status, msg.attempts, msg.claimed_at = STATUS_FAILED, msg.attempts + 1, None
        msg.last_error = f"cannot build the message: {type(exc).__name__}: {exc}"[:2000]
        log.error("mail %s to %s cannot be built: %s", mid, msg.to_addr, exc)
        return "failed"
    try:
        transport.send(email)
    except (smtplib.SMTPException, OSError) as exc:
        transport.close()
        msg.attempts += 1
        msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        msg.claimed_at = None
        if msg.attempts >= cfg["MAIL_MAX_ATTEMPTS"] or _permanent(exc):
            msg.status = STATUS_FAILED
            outcome = "failed"
        else:
            msg.status = STATUS_QUEUED
            delay = cfg["MAIL_BACKOFF_SECONDS"] * (2 ** (msg.attempts - 1))
            msg.next_attempt_at = clock.now() + timedelta(seconds=min(delay, 6 * 3600))
            outcome = "retry"
        log.warning("mail %s to %s failed (attempt %s): %s", mid, msg.to_addr, msg.attempts, exc)
        return outcome
    msg.status = STATUS_SENT
    msg.attempts += 1
    msg.sent_at = clock.now()
    msg.last_error = None
    return "sent"


@transactional
def retry(message_id: int, *, actor) -> OutboxMessage:
    """Put a failed message back in the queue for the next worker round (audit-logged)."""
    msg = get_or_404(OutboxMessage, message_id, _("No such message."))
    if msg.status != STATUS_FAILED:
        raise Conflict(_("Only failed messages can be retried; this one is %(status)s.", status=msg.status))
    before = {"status": msg.status, "attempts": msg.attempts}
    msg.status = STATUS_QUEUED
    msg.next_attempt_at = clock.now()
    msg.attempts = 0
    msg.claimed_at = None
    audit.record(
        actor,
        "mail.retry",
        msg,
        summary=f"{msg.to_addr}: {msg.subject}"[:500],
        changes=audit.diff(before, {"status": msg.status, "attempts": msg.attempts}),
    )
    return msg


def status_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all()
    counts = {s: 0 for s in STATUSES}
    counts.update({s: n for s, n in rows})
    return counts


def categories() -> list[str]:
    return list(db.session.scalars(sa.select(OutboxMessage.category).distinct().order_by(OutboxMessage.category)))


def search(
    *,
    status: str | None = None,
    category: str | None = None,
    recipient: str | None = None,
    page: int = 1,
    per_page: int = 50,
):
    """The outbox, newest first, filtered by status, category and (part of) the recipient."""
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status:
        if status not in STATUSES:
            raise ValidationFailed(_("Unknown status: %(status)s", status=status))
        stmt = stmt.where(OutboxMessage.status == status)
    if category:
        stmt = stmt.where(OutboxMessage.category == category)
    if recipient:
        term = recipient.strip().lower()
        for ch in ("\\", "%", "_"):
            term = term.replace(ch, "\\" + ch)
        like = f"%{term}%"
        stmt = stmt.where(sa.func.lower(OutboxMessage.to_addr).like(like, escape="\\"))
    return db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)
