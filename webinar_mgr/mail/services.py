"""The outbox: queue mail in the caller's transaction; the worker delivers it over SMTP.

Nothing is sent inside a web request: a failure of the SMTP server never loses a change or a
mail, and :func:`deliver_due` retries with exponential backoff.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import hmac
import io
import logging
import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import contentmanager as email_contentmanager
from email import policy as email_policy
from email.generator import BytesGenerator
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

import icalendar
import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from jinja2 import TemplateNotFound
from markupsafe import Markup, escape
from sqlalchemy.dialects.postgresql import ARRAY as postgresql_array
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock, links
from webinar_mgr.audit import services as audit
from webinar_mgr.core.models import Setting
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
from .signals import mail_wording

log = logging.getLogger(__name__)

# The settings' defaults (each also read from the environment; see mail.cli.register).

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: none belongs in
# a header, and CR, LF, VT, FF, NEL and the separators make Python's email package refuse one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_header_text(value: str | None) -> str:
    """``value`` as one line fit for a mail header: control characters become spaces, runs of
    spaces one, no space at either end."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())


def render(template: str, subject: str, context: dict | None = None) -> tuple[str, str, str | None]:
    """(subject, text, HTML or None) of a templated mail, as ``queue`` sends it: an event's own
    wording where a module above gives one (signals.mail_wording: messages' mail texts), else
    ``templates/<template>.txt`` (and ``.html`` when it exists). Also for previews."""
    context = dict(context or {}, subject=subject)
    wording = next((r for _fn, r in mail_wording.send(template, context=context) if r), None)
    if wording:  # its HTML twin is made from the text by queue
        subject, body_text = wording
        return subject, body_text, None
    body_text = render_template(f"{template}.txt", **context)
    try:
        body_html = render_template(f"{template}.html", **context)
    except TemplateNotFound:  # the usual case: the HTML part is the text's, in the shared layout
        body_html = None
    return subject, body_text, body_html


def compose(
    subject: str,
    *,
    template: str | None = None,
    context: dict | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
) -> tuple[str, str, str]:
    """(subject, text, HTML) of a mail as :func:`queue` stores it: the subject cleaned of control
    characters, the bodies from ``template`` (see :func:`render`) or as given, the HTML part made
    from the text where none is given (:func:`html_from_text`)."""
    subject = clean_header_text(subject)  # before it reaches a body too (the HTML part's title)
    if template:
        subject, body_text, body_html = render(template, subject, context)
        subject = clean_header_text(subject)
    if body_text is None:
        raise ValueError("a mail needs a text body")
    if body_html is None:  # a text given as such (auth's password reset) gets its HTML twin too
        body_html = html_from_text(body_text, subject)
    return subject, body_text, body_html


def single_address(to: str | None) -> str:
    """``to`` stripped, or ValueError when it is not one plain address."""
    to = (to or "").strip()
    if not to or any(c in to for c in ",;<>") or _CONTROL.search(to) or "@" not in to:
        raise ValueError(f"not a single email address: {to!r}")
    return to


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
    ``templates/mail/x.html``; otherwise (and for a ``body_text`` without ``body_html``) the HTML
    part is the text in the shared layout (:func:`html_from_text`).

    With ``dedupe_key``, a message with the same key is queued at most once; a second call returns
    None (a savepoint keeps the caller's transaction intact).

    The subject and the recipient's name are stored cleaned of control characters (a carriage
    return in an event title must not make the mail unsendable); ``to`` must be one plain address.
    Many mails already written: :func:`queue_many`.
    """
    subject, body_text, body_html = compose(
        subject, template=template, context=context, body_text=body_text, body_html=body_html
    )
    to = single_address(to)
    msg = OutboxMessage(
        to_addr=to,
        to_name=clean_header_text(to_name)[:200] or None,
        subject=subject[:500],
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


def queue_many(rows: list[dict]) -> list[int | None]:
    """Add many written mails to the outbox in the current transaction, a few INSERT statements
    for all of them (the caller commits). Each row: ``to``, ``subject``, ``body_text`` and the
    optional ``body_html``, ``to_name``, ``attachments``, ``headers``, ``category`` and
    ``dedupe_key``, cleaned and checked as :func:`queue` does (ValueError for a bad address: nothing
    is added). A row whose ``dedupe_key`` is in the outbox already, or earlier in ``rows``, is
    skipped (and one another transaction adds meanwhile: ON CONFLICT DO NOTHING). Returns the new
    rows' ids in the order given, None for each skipped. Rows are not loaded into the session."""
    now = clock.now()
    values = []
    for row in rows:
        subject, body_text, body_html = compose(
            row["subject"], body_text=row.get("body_text"), body_html=row.get("body_html")
        )
        value = {
            "to_addr": single_address(row["to"]),
            "to_name": clean_header_text(row.get("to_name"))[:200] or None,
            "subject": subject[:500],
            "body_text": body_text,
            "body_html": body_html,
            "category": row.get("category") or "general",
            "status": STATUS_QUEUED,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for key in ("attachments", "headers", "dedupe_key"):  # JSON columns: an absent key is SQL NULL
            if row.get(key):
                value[key] = row[key]
        values.append(value)
    ids: list[int | None] = [None] * len(values)
    keys = [v["dedupe_key"] for v in values if "dedupe_key" in v]
    taken: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        taken.update(db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))))
    groups: dict[tuple, list[int]] = {}
    for n, value in enumerate(values):
        key = value.get("dedupe_key")
        if key is not None:
            if key in taken:
                continue
            taken.add(key)
        groups.setdefault(tuple(sorted(value)), []).append(n)
    table = OutboxMessage.__table__
    for columns, members in groups.items():
        params = [values[n] for n in members]
        if "dedupe_key" not in columns:
            for n, new_id in zip(members, _insert_in_order(table, params), strict=True):
                ids[n] = new_id
            continue
        stmt = _insert_ignoring_dedupe(table).returning(table.c.id, table.c.dedupe_key)
        added = dict((key, new_id) for new_id, key in db.session.execute(stmt, params))
        for n in members:
            ids[n] = added.get(values[n]["dedupe_key"])
    return ids


def _insert_in_order(table, params: list[dict]) -> list[int]:
    """INSERT the rows in one statement; their new ids in the order given."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":  # the ids drawn first, then a plain executemany (RETURNING many
        # rows makes the driver rewrite one huge statement: most of the time of the insert)
        new_ids = sorted(
            db.session.scalars(
                sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(params)},
            )
        )
        rows = [{**p, "id": i} for p, i in zip(params, new_ids, strict=True)]
        if any(isinstance(table.c[name].type, sa.JSON) for name in rows[0]):
            db.session.execute(sa.insert(table), rows)
        else:  # the usual rows (no files, no extra headers): one statement for all of them
            _unnest_insert(table, rows)
        return new_ids
    if dialect != "sqlite":
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [new_id for (new_id,) in db.session.execute(stmt, params)]
    # SQLite would run RETURNING in order one row at a time. Its single writer holds the database
    # from this INSERT to the commit, and each new row's id is the largest yet plus one: the rows
    # just inserted are the last ids, in the order given.
    db.session.execute(sa.insert(table), params)
    return list(
        reversed(db.session.scalars(sa.select(table.c.id).order_by(table.c.id.desc()).limit(len(params))).all())
    )


def unnest_arrays(table, rows: list[dict], names: list[str]) -> tuple[str, dict, list]:
    """PostgreSQL: ``rows`` (dicts of ``table``'s columns ``names``) as one array per column, for
    ``unnest(...)``: the SQL of the unnest call, its parameters and their bind parameters (typed:
    each value goes through its column's type). One statement carries every row, instead of one
    execution per row (an executemany)."""
    dialect = db.engine.dialect
    call = ", ".join(f"CAST(:u{n} AS {table.c[name].type.compile(dialect=dialect)}[])" for n, name in enumerate(names))
    params = {f"u{n}": [row.get(name) for row in rows] for n, name in enumerate(names)}
    binds = [sa.bindparam(f"u{n}", type_=postgresql_array(table.c[name].type)) for n, name in enumerate(names)]
    return f"unnest({call})", params, binds


def _unnest_insert(table, rows: list[dict]) -> None:
    """INSERT of ``rows`` (all with the same columns, no JSON) in one statement, its arrays sent
    in PostgreSQL's binary format (psycopg's ``%b``: the text format escapes every character of
    every body, which took longer than the insert)."""
    names = list(rows[0])
    dialect = db.engine.dialect
    types = ", ".join(f"%b::{table.c[name].type.compile(dialect=dialect)}[]" for name in names)
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    arrays = [
        [row[name] for row in rows] if proc is None else [proc(row[name]) for row in rows]
        for name, proc in zip(names, processors, strict=True)
    ]
    names_sql = ", ".join(names)
    db.session.connection().exec_driver_sql(
        f"INSERT INTO {table.name} ({names_sql}) SELECT * FROM unnest({types})", tuple(arrays)
    )


def _insert_ignoring_dedupe(table):
    """INSERT that skips a row whose dedupe_key another transaction added meanwhile."""
    if db.engine.dialect.name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])


# The HTML part -----------------------------------------------------------------------------------
#
# Every mail's text template is the one source of its words and links; its HTML alternative is the
# same text in a small accessible layout (templates/mail/_layout.html: the reader's language, one
# column, real links, no remote images), so the two can never say different things. The text's
# signature (from the line "-- ") is left out: the layout's footer block (templates/mail/_footer.html,
# the HTML twin of _footer.txt) takes its place. A template may still ship its own x.html.

_URL = re.compile(r"https?://[^\s<>\"]+")
SIGNATURE = "\n-- \n"


def _linked(line: str) -> Markup:
    """One line of text, escaped, with each web address made a link to itself (whole, so a long
    personal link is never cut)."""
    out = Markup("")
    pos = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:)")
        end = match.start() + len(url)
        out += escape(line[pos : match.start()]) + Markup('<a href="%s">%s</a>') % (url, url)
        pos = end
    return out + escape(line[pos:])


def html_from_text(body_text: str, subject: str) -> str:
    """The HTML alternative of a text body: its paragraphs (blank-line separated) in the shared
    layout, every character escaped, every address a link."""
    main = body_text.split(SIGNATURE, 1)[0]
    paragraphs = [
        [_linked(line) for line in block.strip("\n").split("\n")]
        for block in re.split(r"\n\s*\n", main.strip("\n"))
        if block.strip()
    ]
    locale = get_locale()
    lang = str(locale).replace("_", "-") if locale else "en"
    return render_template(
        "mail/_layout.html",
        subject=subject,
        paragraphs=paragraphs,
        lang=lang,
        rtl=bool(locale and locale.character_order == "right-to-left"),
    )


def _calendar_method(att: dict) -> str | None:
    if att.get("mimetype") != "text/calendar" or att.get("base64"):
        return None
    return str(att.get("method") or "").upper() or None


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, remembering the class it makes for each header name (the
    standard one makes a new class on every header set or parsed) and the last headers it parsed:
    a header object is an immutable string, and most of a mail's headers (its parts' Content-Type
    and Content-Transfer-Encoding, MIME-Version, From) are the same in every mail. Together they
    were two thirds of building one."""

    def __init__(self):
        super().__init__()
        self._made: dict[str, type] = {}
        self._parsed = functools.lru_cache(maxsize=512)(self._parse)

    def __getitem__(self, name):
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made

    def _parse(self, name, value):
        return self[name](name, value)

    def __call__(self, name, value):
        return self._parsed(name, value)


# email.policy.default, with the header classes made once: the same bytes, built faster.
POLICY = email_policy.default.clone(header_factory=_HeaderClasses())


def build_email(msg: OutboxMessage, sender: str) -> EmailMessage:
    """The message as it goes out. Header texts (subject, the recipient's name, attachment names,
    extra headers) are cleaned of control characters here too, so rows queued before they were
    cleaned on the way in are delivered rather than refused.

    The structure Google and Outlook expect: ``multipart/alternative`` of text/plain, text/html and,
    for a calendar entry, ``text/calendar; method=REQUEST`` (or CANCEL); when there are files, that
    alternative inside ``multipart/mixed`` with the files after it, the calendar entry also as an
    ``.ics`` attachment (``application/ics``) for the programs that only look there."""
    email = EmailMessage(policy=POLICY)
    email["From"] = sender
    to_name = clean_header_text(msg.to_name)
    email["To"] = formataddr((to_name, msg.to_addr)) if to_name else msg.to_addr
    email["Subject"] = clean_header_text(msg.subject)
    email["Message-ID"] = _message_id(msg, sender)
    email["Date"] = msg.created_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    for key, value in (msg.headers or {}).items():
        email[key] = clean_header_text(str(value))
    email.set_content(msg.body_text)
    if msg.body_html:
        email.add_alternative(msg.body_html, subtype="html")
    attachments = msg.attachments or []
    for att in attachments:
        method = _calendar_method(att)
        if method:
            email.add_alternative(att["content"], subtype="calendar", params={"method": method})
    for att in attachments:
        mimetype = att.get("mimetype", "application/octet-stream")
        maintype, _, subtype = mimetype.partition("/")
        filename = clean_header_text(att["filename"])
        params = {}
        if att.get("method"):
            params["method"] = att["method"]
        if _calendar_method(att):  # the same entry as a file: application/ics, as Google sends it
            email.add_attachment(att["content"].encode(), maintype="application", subtype="ics", filename=filename)
        elif att.get("base64"):
            email.add_attachment(
                base64.b64decode(att["content"]), maintype=maintype, subtype=subtype, filename=filename
            )
        elif maintype == "text":
            email.add_attachment(att["content"], subtype=subtype, filename=filename, params=params)
        else:
            email.add_attachment(att["content"].encode(), maintype=maintype, subtype=subtype, filename=filename)
    return email


# The usual mail (a text and its HTML twin, or a text alone; no files, no extra headers) written
# straight to the bytes BytesGenerator makes of build_email's message: the same headers folded by
# the same header classes and policy, the same transfer encoding of each body chosen by the email
# package's own function, the same boundary rule; without building the message object and its
# parts (two thirds of delivering one mail to a local server). Anything else goes the long way.
# tests/test_mail_content.py compares the two, byte for byte, on many kinds of mail.

_WIRE_POLICY = POLICY.clone(linesep="\r\n")
_NEWLINES = re.compile(r"\r\n|\r|\n")


@functools.lru_cache(maxsize=1024)
def _folded_cached(name: str, value: str) -> bytes:
    return _folded(name, value)


def _folded(name: str, value: str) -> bytes:
    """One header as BytesGenerator writes it (its class from POLICY's registry, folded)."""
    return _WIRE_POLICY.fold_binary(name, POLICY.header_factory(name, value))


def _text_part(text: str, subtype: str) -> tuple[list[bytes], bytes]:
    """(Content-Type and Content-Transfer-Encoding header lines, the body as written) of
    ``set_content(text, subtype=subtype)``."""
    cte, payload = email_contentmanager._encode_text(text, "utf-8", None, POLICY)
    body = "\r\n".join(_NEWLINES.split(payload)) if payload else ""
    headers = [
        _folded_cached("Content-Type", f'text/{subtype}; charset="utf-8"'),
        _folded_cached("Content-Transfer-Encoding", cte),
    ]
    return headers, body.encode("ascii", "surrogateescape")


def fast_wire(msg, sender: str) -> tuple[bytes, tuple[str, list[str]]] | None:
    """(the message's bytes as wire_bytes(build_email(msg, sender)) makes them, the envelope), or
    None when the message is not the usual kind (then build it with :func:`build_email`)."""
    if msg.attachments or msg.headers or msg.body_text is None:
        return None
    envelope = _sender_envelope(sender)
    if envelope is None or not msg.to_addr.isascii():
        return None
    to_name = clean_header_text(msg.to_name)
    to = formataddr((to_name, msg.to_addr)) if to_name else msg.to_addr
    message_id = _message_id(msg, sender)
    head = [
        _folded_cached("From", sender),
        _plain_header("To", to) if _PLAIN_TO.fullmatch(to) else _folded("To", to),
        _folded_cached("Subject", clean_header_text(msg.subject)),
        _plain_header("Message-ID", message_id)
        if _PLAIN_ID.fullmatch(message_id)
        else _folded("Message-ID", message_id),
        _folded_cached("Date", msg.created_at.strftime("%a, %d %b %Y %H:%M:%S +0000")),
    ]
    text_headers, text_body = _text_part(msg.body_text, "plain")
    if not msg.body_html:
        wire = b"".join([*head, *text_headers, _folded_cached("MIME-Version", "1.0"), b"\r\n", text_body])
        return wire, (envelope, [msg.to_addr])
    html_headers, html_body = _text_part(msg.body_html, "html")
    parts = [
        b"".join([*text_headers, b"\r\n", text_body]),
        b"".join([*html_headers, _folded_cached("MIME-Version", "1.0"), b"\r\n", html_body]),
    ]
    boundary = _boundary(b"\r\n".join(parts))
    head.append(_folded_cached("MIME-Version", "1.0"))
    stand_in = "=" * 15 + "0" * (len(boundary) - 17) + "=="  # folds as the boundary does: its length
    head.append(
        _folded_cached("Content-Type", f'multipart/alternative; boundary="{stand_in}"').replace(
            stand_in.encode(), boundary.encode()
        )
    )
    delimiter = f"\r\n--{boundary}\r\n".encode()
    wire = b"".join([*head, b"\r\n", delimiter[2:], parts[0], delimiter, parts[1], f"\r\n--{boundary}--\r\n".encode()])
    return wire, (envelope, [msg.to_addr])


# Headers the header classes write back as they are, when they fit on one line: a recipient
# "Name <address>" of letters, digits and single spaces, and the Message-ID (_message_id's form).
_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_TO = re.compile(rf"{_ADDRESS}|[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_ADDRESS}>")
_PLAIN_ID = re.compile(r"<[0-9a-f]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>")


def _plain_header(name: str, value: str) -> bytes:
    line = f"{name}: {value}"
    return (line + "\r\n").encode() if len(line) <= 78 else _folded(name, value)


def _boundary(text: bytes) -> str:
    """BytesGenerator's boundary for a multipart whose parts are ``text`` (the same random draw and
    the same rule: ``--boundary`` must not start a line of it), with its regular expression compiled
    only when the text holds the boundary at all."""
    boundary = candidate = BytesGenerator._make_boundary()
    counter = 0
    while (f"--{candidate}".encode() in text) and re.search(
        b"^--" + re.escape(candidate.encode()) + b"(--)?$", text, re.MULTILINE
    ):
        candidate = f"{boundary}.{counter}"
        counter += 1
    return candidate


@functools.lru_cache(maxsize=16)
def _sender_envelope(sender: str) -> str | None:
    """The envelope sender send_message takes from a From header of ``sender`` (None: not ASCII)."""
    address = getaddresses([sender])[0][1]
    return address if address.isascii() and address else None


def _message_id(msg: OutboxMessage, sender: str) -> str:
    """The same Message-ID on every attempt of one outbox message (so the rare copy sent twice,
    when a worker stalls in mid-send, is recognised as one message by mail programs), opaque to
    the recipient (no row id or count of messages)."""
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "localhost"
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"outbox:{msg.id}:{msg.created_at.isoformat()}".encode(), hashlib.sha256).hexdigest()
    return f"<{digest[:32]}@{domain}>"


class _Transport:
    """One SMTP connection reused for a batch."""

    def __init__(self, config):
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def send(
        self, email: EmailMessage | None, wire: bytes | None = None, envelope: tuple[str, list[str]] | None = None
    ) -> None:
        """Send ``email``; ``wire`` is its serialised form (:func:`wire_bytes`) when the caller
        has made it already, so the message is serialised once, not twice. Without ``email``,
        ``wire`` and its ``envelope`` (:func:`fast_wire`) are all there is (not for the console)."""
        cfg = self.config
        if cfg["MAIL_BACKEND"] == "console":
            print(console_text(email), flush=True)
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
        if email is None:
            self.conn.sendmail(*envelope, wire)
            return
        envelope = _envelope(email)
        if wire is None or envelope is None:  # an international address (SMTPUTF8): smtplib's own way
            self.conn.send_message(email)
        else:
            self.conn.sendmail(*envelope, wire)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self.conn.quit()
            self.conn = None


def wire_bytes(email: EmailMessage) -> bytes:
    """The message as ``smtplib.SMTP.send_message`` writes it (CRLF line ends, no Bcc header),
    made once: building it also tells a message that cannot be built before any send starts."""
    if "Bcc" in email or "Resent-Bcc" in email:
        email = copy.copy(email)
        del email["Bcc"]
        del email["Resent-Bcc"]
    with io.BytesIO() as out:
        BytesGenerator(out).flatten(email, linesep="\r\n")
        return out.getvalue()


def _envelope(email: EmailMessage) -> tuple[str, list[str]] | None:
    """(sender, recipients) as ``send_message`` takes them from the headers; None where it would
    do more (Resent- headers, an address that is not ASCII and needs SMTPUTF8)."""
    if "Resent-Date" in email:
        return None
    sender = getaddresses([email["Sender"] if "Sender" in email else email["From"]])[0][1]
    fields = [f for f in (email["To"], email["Bcc"], email["Cc"]) if f is not None]
    to = [a[1] for a in getaddresses(fields)]
    if not (sender + "".join(to)).isascii():
        return None
    return sender, to


def console_text(email: EmailMessage) -> str:
    """A mail as the console backend prints it (development): the headers a person reads, the
    text part decoded (whole links, every script readable, no quoted-printable), the HTML part's
    size, each calendar entry summarised (method, summary, start, end) and each file named."""
    lines = [f"----- mail to {email['To']} -----"]
    lines += [f"{name}: {email[name]}" for name in ("From", "To", "Subject", "Date") if email[name]]
    text_done = False
    for part in email.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        if ctype == "text/plain" and not filename and not text_done:
            lines += ["", part.get_content().rstrip("\n"), ""]
            text_done = True
        elif ctype == "text/html" and not filename:
            lines.append(f"[HTML alternative: {len(part.get_content())} characters, the same text and links]")
        elif ctype == "text/calendar" and not filename:
            lines.append(_calendar_summary(part.get_content(), part.get_param("method")))
        else:
            size = len(part.get_payload(decode=True) or b"")
            lines.append(f"[attachment: {filename or '(no name)'}, {ctype}, {size} bytes]")
    lines.append("-----")
    return "\n".join(lines)


def _calendar_summary(content: str, method: str | None) -> str:
    try:
        cal = icalendar.Calendar.from_ical(content)
    except ValueError as exc:
        return f"[calendar ({method}): unreadable: {exc}]"
    out = []
    for event in cal.walk("VEVENT"):
        start, end = event.get("DTSTART"), event.get("DTEND")
        out.append(
            f"[calendar {method or cal.get('METHOD') or ''}: {event.get('SUMMARY')} · "
            f"{start.dt.isoformat() if start else '?'} to {end.dt.isoformat() if end else '?'}"
            f"{' · ' + str(event.get('STATUS')) if event.get('STATUS') else ''} · sequence {event.get('SEQUENCE', 0)}]"
        )
    return "\n".join(out) or f"[calendar {method}: no event]"


# Claims --------------------------------------------------------------------------------------
#
# A worker round claims a small batch (MAIL_BATCH_SIZE) with a random token of its own. Every
# later write of that round is conditional on the token. The claim is the round's until the last
# successful refresh of ``claimed_at`` (a heartbeat) plus MAIL_CLAIM_TIMEOUT: no other worker may
# take it over before. The round holds it as a lease: before each send it refreshes the claim
# when the last refresh is MAIL_CLAIM_TIMEOUT / 10 old or more, and learns from the refresh which
# messages are still its own; so every send starts with at least nine tenths of the timeout left.
# Outcomes are recorded in batches, only where the claim is still the round's own. A claim older
# than MAIL_CLAIM_TIMEOUT belongs to a worker that died or is stuck: the next worker puts those
# messages back in the queue. The stuck worker then sends none of them; only the messages it had
# sent and not yet recorded (see deliver_due) and the one it had in flight may arrive twice.

# How often a round writes its outcomes (each also a setting: MAIL_RECORD_EVERY, MAIL_RECORD_SECONDS).
# The default records each outcome before the next send: only the message in flight can repeat.
RECORD_EVERY = 1
RECORD_SECONDS = 1.0


@dataclass(frozen=True)
class Claim:
    """One worker round's batch: its token, the ids of the messages it holds, and when it
    claimed them (its lease starts then)."""

    token: str
    ids: list[int]
    claimed_at: datetime | None = None
    rows: tuple = ()  # the messages' columns as claimed, in order (empty: read them again)


def claim_timeout() -> timedelta:
    return timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT"])


def claim_due(size: int | None = None, *, release: bool = True) -> Claim:
    """Claim up to ``size`` (default MAIL_BATCH_SIZE) due messages for this worker round, in one
    unit of work committed before anything is sent. Claims older than MAIL_CLAIM_TIMEOUT are
    released first (``release``; a round does it with its first claim: finding them reads every
    message that was "sending" since the last vacuum). On PostgreSQL one statement picks the rows
    with FOR UPDATE SKIP LOCKED (rows another worker is claiming are skipped, not waited for),
    claims them and returns their columns, and the commit does not wait for the disk (like the
    outcomes: a crash of the database server may lose it, and then the records after it too, so the
    messages sent meanwhile are sent again, as the outcomes' rule says); on SQLite each UPDATE picks
    its rows in a subquery and runs alone.
    The returned claim carries the rows (``Claim.rows``), in the order they are to be sent."""
    size = size or current_app.config["MAIL_BATCH_SIZE"]
    token = secrets.token_hex(16)
    now = clock.now()
    expired_before = now - claim_timeout()
    stale = sa.select(OutboxMessage.id).where(
        OutboxMessage.status == STATUS_SENDING, OutboxMessage.claimed_at < expired_before
    )
    due = (
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == STATUS_QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
    )
    table = OutboxMessage.__table__
    claimed = {"status": STATUS_SENDING, "claim_token": token, "claimed_at": now}
    with unit_of_work():
        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:
            # One round trip: the commit does not wait for the disk (see above), and the pick reads
            # the due index in its order and stops at ``size`` rows instead of sorting every queued
            # row (the planner chose a sort when its statistics predated a bulk queue: 5,000
            # invitations queued together, sorted again for each claim of 20).
            db.session.execute(_CLAIM_SETTINGS)
        released = release and _update_picked(
            stale,
            [OutboxMessage.status == STATUS_SENDING, OutboxMessage.claimed_at < expired_before],
            status=STATUS_QUEUED,
            claim_token=None,
            claimed_at=None,
        )
        if postgresql:  # a CTE, materialised: the locking pick runs once (see _update_picked)
            # The rows are updated by their ids (an array: the primary key's index, whatever the
            # statistics; a join with the pick was planned as a scan of the whole table when they
            # predated a bulk queue). The pick has locked them, still queued, until the commit.
            picked = due.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            ids = sa.func.array(sa.select(picked.c.id).scalar_subquery())
            rows = db.session.execute(
                sa.update(table).where(table.c.id == sa.any_(ids)).values(**claimed).returning(*table.c)
            ).all()
            rows.sort(key=lambda row: (row.next_attempt_at, row.id))
        else:
            _update_picked(due, [OutboxMessage.status == STATUS_QUEUED], **claimed)
            rows = db.session.execute(
                sa.select(*table.c).where(table.c.claim_token == token).order_by(table.c.next_attempt_at, table.c.id)
            ).all()
    if released:
        log.warning("%s message(s) put back in the queue: their worker's claim expired", released)
    return Claim(token=token, ids=[row.id for row in rows], claimed_at=now, rows=tuple(rows))


_CLAIM_SETTINGS = sa.text(
    "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_sort', 'off', true)"
)


def _update_picked(pick: sa.Select, still: list, **values) -> int:
    """UPDATE the rows ``pick`` selects (still matching ``still``); returns how many changed.

    PostgreSQL: the ids are read first with FOR UPDATE SKIP LOCKED. (Inside ``IN (subquery)`` a
    locking subquery with LIMIT may be re-run for each row and hand out more than LIMIT rows.)"""
    if db.engine.dialect.name == "postgresql":
        ids = db.session.scalars(pick.with_for_update(skip_locked=True)).all()
        if not ids:
            return 0
        where = OutboxMessage.id.in_(ids)
    else:
        where = OutboxMessage.id.in_(pick.scalar_subquery())
    return db.session.execute(
        sa.update(OutboxMessage).where(where, *still).values(**values).execution_options(synchronize_session=False)
    ).rowcount


def _heartbeat(token: str, at: datetime | None = None) -> int:
    """Refresh the claim on the messages of this round not yet recorded; returns how many (the
    messages still this round's own)."""
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.claim_token == token, OutboxMessage.status == STATUS_SENDING)
        .values(claimed_at=at or clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount


def _ours(token: str) -> set[int]:
    """The ids this round still holds (claimed by its token, not yet recorded)."""
    return set(
        db.session.scalars(
            sa.select(OutboxMessage.id).where(
                OutboxMessage.claim_token == token, OutboxMessage.status == STATUS_SENDING
            )
        )
    )


class _Lease:
    """A round's hold on its claim: its since the last heartbeat (or the claim) and for
    MAIL_CLAIM_TIMEOUT after it. ``ours`` are the messages the claim still holds."""

    def __init__(self, claim: Claim, ids: list[int]):
        self.token = claim.token
        self.at = claim.claimed_at or (clock.now() - claim_timeout())  # unknown: refresh before the first send
        self.ours = set(ids)
        self.every = claim_timeout() / 10

    def due(self) -> bool:
        return clock.now() - self.at >= self.every

    def renew(self) -> None:
        """Heartbeat (in the caller's unit of work): refresh the claim; where fewer messages than
        expected are still held (another worker took some over after a stall), read which."""
        at = clock.now()
        if _heartbeat(self.token, at) != len(self.ours):
            self.ours &= _ours(self.token)
        self.at = at

    def done(self, ids) -> None:
        self.ours.difference_update(ids)


# Recording outcomes -----------------------------------------------------------------------------

_OUTCOME = OutboxMessage.__table__.c
_RECORD = (
    sa.update(OutboxMessage.__table__)
    .where(
        _OUTCOME.id == sa.bindparam("b_id"),
        _OUTCOME.claim_token == sa.bindparam("b_token"),
        _OUTCOME.status == STATUS_SENDING,
    )
    .values(
        status=sa.bindparam("b_status", type_=_OUTCOME.status.type),
        attempts=sa.bindparam("b_attempts", type_=_OUTCOME.attempts.type),
        last_error=sa.bindparam("b_last_error", type_=_OUTCOME.last_error.type),
        next_attempt_at=sa.bindparam("b_next_attempt_at", type_=_OUTCOME.next_attempt_at.type),
        sent_at=sa.bindparam("b_sent_at", type_=_OUTCOME.sent_at.type),
        last_attempt_at=sa.bindparam("b_last_attempt_at", type_=_OUTCOME.last_attempt_at.type),
        claim_token=None,
        claimed_at=None,
    )
)


_RECORD_ALONE = _RECORD.returning(sa.func.set_config("synchronous_commit", "off", True))


class _Outcomes:
    """Attempts made and not yet recorded: (token, row, values), written by :meth:`record` in one
    UPDATE (executemany) per batch, each only where its claim is still the round's own."""

    def __init__(self, every: int, seconds: float):
        self.every = max(1, every)
        self.window = timedelta(seconds=seconds)
        self.pending: list[tuple[str, object, dict]] = []
        self.since = None  # when the oldest pending attempt ended

    def add(self, token: str, row, values: dict) -> None:
        if not self.pending:
            self.since = clock.now()
        self.pending.append((token, row, values))

    def due(self) -> bool:
        return bool(self.pending) and (len(self.pending) >= self.every or clock.now() - self.since >= self.window)

    def alone(self) -> bool:
        """Whether the pending outcome can be recorded alone: the default on PostgreSQL (one
        outcome waiting, no transaction open), as one statement committed on its own
        (autocommit): one round trip to the server instead of four (BEGIN, SET LOCAL, UPDATE,
        COMMIT). It has committed when it returns, so the rule stays: the outcome is written before
        the next send. Its commit does not wait for the disk either: ``set_config`` in its
        RETURNING is SET LOCAL synchronous_commit, evaluated as the row is written (where no row
        is, the commit waits, harmlessly)."""
        return len(self.pending) == 1 and db.engine.dialect.name == "postgresql" and not db.session().in_transaction()

    def record(self, lease: _Lease | None = None, *, alone: bool = False) -> None:
        """Write the pending outcomes (in the caller's unit of work; ``alone``: see :meth:`alone`,
        the caller's unit on an autocommit connection)."""
        if not self.pending:
            return
        if len(self.pending) == 1:  # the default (MAIL_RECORD_EVERY=1): one UPDATE says it all
            token, row, values = self.pending[0]
            if alone:
                written = len(db.session.execute(_RECORD_ALONE, _params(token, row, values)).all())
            else:
                written = db.session.execute(_RECORD, _params(token, row, values)).rowcount
            if not written:
                _not_recorded(row, values)
            if lease is not None:
                lease.done([row.id])
            return
        held = {(token, row.id) for token, row, _v in self.pending}
        ours: set[tuple[str, int]] = set()
        for token in {t for t, _id in held}:
            ids = [mid for t, mid in held if t == token]
            ours.update(
                (token, mid)
                for mid in db.session.scalars(
                    sa.select(OutboxMessage.id).where(
                        OutboxMessage.id.in_(ids),
                        OutboxMessage.claim_token == token,
                        OutboxMessage.status == STATUS_SENDING,
                    )
                )
            )
        params = [_params(token, row, values) for token, row, values in self.pending if (token, row.id) in ours]
        if params:
            db.session.execute(_RECORD, params)
        for token, row, values in self.pending:
            if (token, row.id) not in ours:
                _not_recorded(row, values)
        if lease is not None:
            lease.done(row.id for _t, row, _v in self.pending)

    def recorded(self) -> None:
        """The caller's unit of work has committed what :meth:`record` wrote."""
        self.pending, self.since = [], None


def _not_recorded(row, values: dict) -> None:
    """An outcome not recorded: the claim had expired and another worker took the message over."""
    if values["status"] == STATUS_SENT:
        log.warning(
            "mail %s to %s was delivered after its claim expired; the worker that took it over may deliver it again",
            row.id,
            row.to_addr,
        )


def _params(token: str, row, values: dict) -> dict:
    return {
        "b_id": row.id,
        "b_token": token,
        "b_status": values["status"],
        "b_attempts": values["attempts"],
        "b_last_error": values.get("last_error", row.last_error),
        "b_next_attempt_at": values.get("next_attempt_at", row.next_attempt_at),
        "b_sent_at": values.get("sent_at", row.sent_at),
        "b_last_attempt_at": values["last_attempt_at"],
    }


# Delivery ------------------------------------------------------------------------------------


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def describe_error(exc: Exception) -> str:
    """Why an attempt failed, in words an organiser can act on (stored in ``last_error``)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        return f"Refused by the mail server: {replies}"
    if isinstance(exc, smtplib.SMTPResponseException):
        verb = "Refused by" if 500 <= exc.smtp_code < 600 else "Deferred by"
        return f"{verb} the mail server: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: Exception) -> bool:
    """A 5xx answer about this message or its recipient will not change on a retry; 4xx answers
    (greylisting, a full queue), connection errors and login failures (a settings problem) will."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, (smtplib.SMTPDataError, smtplib.SMTPSenderRefused)):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, smtplib.SMTPNotSupportedError)  # e.g. an international address, no SMTPUTF8


def deliver_due(limit: int = 200, *, batch: int | None = None) -> dict[str, int]:
    """Send up to ``limit`` due messages, claimed ``batch`` (default MAIL_BATCH_SIZE) at a time,
    over one SMTP connection. Returns counts {'sent', 'retry', 'failed', 'skipped'}; 'skipped'
    are messages whose claim expired and another worker took over before this one reached them;
    a message its renderer could not write (mail.deferred) counts as failed.

    No transaction stays open while the server works. Outcomes are recorded in batches, one
    UPDATE for many messages (each only where the round still holds its claim): before a send
    whenever MAIL_RECORD_EVERY (default 1) outcomes wait or the oldest has waited MAIL_RECORD_SECONDS
    (1 s), the last ones of a claim with the next claim (one transaction), and whatever is left
    when the round ends or anything stops it. What is guaranteed:

    - **Nothing is lost.** A message leaves the claim only when its outcome is recorded; a worker
      that dies leaves the rest "sending", and the next round after MAIL_CLAIM_TIMEOUT sends them.
    - **Repeats after a crash are bounded.** With the default MAIL_RECORD_EVERY=1 each outcome is
      recorded before the next send, so if the worker dies (killed, the machine lost) only the one
      message in flight may be sent again by the worker that takes the claim over (on PostgreSQL
      that record does not wait for the disk: a crash of the database server itself may lose the
      last records, and those messages are sent again). With MAIL_RECORD_EVERY=N > 1 (fewer
      transactions), the messages the server accepted and the round had not recorded yet repeat
      too: at most N - 1 of them, all sent in the MAIL_RECORD_SECONDS before the send that was
      under way, plus the one in flight. A repeat keeps
      its Message-ID, so mail programs show it once.
    - **A stalled worker never sends a message another worker has taken over.** Every send starts
      under the lease (see Claims): at most MAIL_CLAIM_TIMEOUT / 10 after the last refresh of the
      claim, which tells which messages are still this round's; no other worker may take them over
      until MAIL_CLAIM_TIMEOUT after that refresh. (Only a pause of nine tenths of the timeout
      between that check and the send itself could break this; MAIL_TIMEOUT bounds the send.)
    """
    cfg = current_app.config
    batch = batch or cfg["MAIL_BATCH_SIZE"]
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    transport = _Transport(cfg)
    outcomes = _Outcomes(cfg.get("MAIL_RECORD_EVERY", RECORD_EVERY), cfg.get("MAIL_RECORD_SECONDS", RECORD_SECONDS))
    handled = 0
    try:
        while handled < limit:
            with unit_of_work():  # the last claim's last outcomes land with the next claim
                outcomes.record()
                claim = claim_due(min(batch, limit - handled), release=not handled)
            outcomes.recorded()
            if not claim.ids:
                break
            _deliver_claim(claim, transport, cfg, counts, outcomes)
            handled += len(claim.ids)
    finally:
        try:
            if outcomes.pending:
                with unit_of_work():
                    outcomes.record()
                outcomes.recorded()
        finally:
            transport.close()
    return counts


def _deliver_claim(claim: Claim, transport: _Transport, cfg, counts: dict[str, int], outcomes: _Outcomes) -> None:
    """Deliver one claim's messages in order, under its lease (see Claims). Before a send, one
    short transaction records the waiting outcomes when a batch is due and refreshes the claim
    when the lease is due; the send itself happens with no transaction open. The outcomes still
    waiting at the end are the caller's to record."""
    from . import deferred  # deferred imports this module at its top: imported here to avoid a cycle

    rows = claim.rows
    if not rows or any(row.render_data is not None for row in rows):
        deferred.render_claimed(claim.token)  # the rows the worker writes itself, in their own unit
        with unit_of_work():
            rows = db.session.execute(
                sa.select(*OutboxMessage.__table__.c)
                .where(OutboxMessage.claim_token == claim.token, OutboxMessage.status == STATUS_SENDING)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            ).all()
    counts["failed"] += len(set(claim.ids) - {row.id for row in rows})  # their renderer failed
    lease = _Lease(claim, [row.id for row in rows])
    for row in rows:
        record, renew = outcomes.due(), lease.due()
        if record or renew:
            alone = record and not renew and outcomes.alone()
            with unit_of_work():
                if alone:  # see _Outcomes.alone: one statement, committed on its own
                    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                elif record and not renew and db.engine.dialect.name == "postgresql":
                    # A worker crash cannot lose this commit (the server has it); only a crash of
                    # the database server itself could, and then the messages are sent again.
                    # Not waiting for the disk is what makes one transaction per mail cheap.
                    db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
                if record:
                    outcomes.record(lease, alone=alone)
                if renew:
                    lease.renew()
            if record:
                outcomes.recorded()
        if row.id not in lease.ours:
            log.warning("mail %s skipped: its claim expired and another worker took it over", row.id)
            counts["skipped"] += 1
            continue
        outcome, values = _attempt(row, transport, cfg)
        counts[outcome] += 1
        outcomes.add(claim.token, row, values)


def _attempt(row, transport: _Transport, cfg) -> tuple[str, dict]:
    """Build and send one message (``row``: its columns). Returns the outcome ('sent', 'retry'
    or 'failed') and the values to record."""
    attempts = row.attempts + 1
    try:
        if row.render_data is not None:  # its renderer has not written it: never send an empty mail
            raise ValueError("its content was never rendered")
        email, envelope = None, None
        fast = None if cfg["MAIL_BACKEND"] == "console" else fast_wire(row, cfg["MAIL_DEFAULT_SENDER"])
        if fast is not None:  # the usual mail: its bytes written straight (the same bytes)
            wire, envelope = fast
        else:
            email = build_email(row, cfg["MAIL_DEFAULT_SENDER"])
            wire = wire_bytes(email)  # what the transport writes: fails here, not half-way into a send
    except Exception as exc:  # whatever the cause, a message that cannot be built never will be
        log.error("mail %s to %s cannot be built: %s", row.id, row.to_addr, exc)
        reason = f"The message cannot be built: {type(exc).__name__}: {exc}"
        return "failed", {
            "status": STATUS_FAILED,
            "attempts": attempts,
            "last_error": reason[:2000],
            "last_attempt_at": clock.now(),
        }
    try:
        transport.send(email, wire, envelope)
    except Exception as exc:  # SMTP and network errors, and any other: the batch goes on
        transport.close()
        if not isinstance(exc, (smtplib.SMTPException, OSError)):
            log.exception("mail %s to %s: unexpected error while sending", row.id, row.to_addr)
        log.warning("mail %s to %s failed (attempt %s): %s", row.id, row.to_addr, attempts, exc)
        values = {"attempts": attempts, "last_error": describe_error(exc)[:2000], "last_attempt_at": clock.now()}
        if attempts >= cfg["MAIL_MAX_ATTEMPTS"] or _permanent(exc):
            return "failed", {**values, "status": STATUS_FAILED}
        delay = cfg["MAIL_BACKOFF_SECONDS"] * (2 ** (attempts - 1))
        next_at = clock.now() + timedelta(seconds=min(delay, 6 * 3600))
        return "retry", {**values, "status": STATUS_QUEUED, "next_attempt_at": next_at}
    now = clock.now()
    values = {"status": STATUS_SENT, "attempts": attempts, "sent_at": now, "last_error": None}
    return "sent", {**values, "last_attempt_at": now}


# Retries -------------------------------------------------------------------------------------

_REQUEUE = {"status": STATUS_QUEUED, "attempts": 0, "claim_token": None, "claimed_at": None}


@transactional
def retry(message_id: int, *, actor) -> OutboxMessage:
    """Put a failed message back in the queue for the next worker round (audit-logged)."""
    msg = get_or_404(OutboxMessage, message_id, _("No such message."))
    if msg.status != STATUS_FAILED:
        raise Conflict(_("Only failed messages can be retried; this one is %(status)s.", status=msg.status))
    before = {"status": msg.status, "attempts": msg.attempts}
    for key, value in _REQUEUE.items():
        setattr(msg, key, value)
    msg.next_attempt_at = clock.now()
    audit.record(
        actor,
        "mail.retry",
        msg,
        summary=f"{msg.to_addr}: {msg.subject}"[:500],
        changes=audit.diff(before, {"status": msg.status, "attempts": msg.attempts}),
    )
    return msg


@transactional
def retry_failed(*, since: datetime | None = None, actor) -> int:
    """Put every failed message back in the queue, or those whose last attempt ended at or after
    ``since`` (an aware datetime); attempts start again from zero. One audit entry says how many.
    Returns how many were queued again."""
    now = clock.now()
    if since is not None and since > now:
        raise ValidationFailed(
            _("Nothing can have failed after today."),
            field_errors={"since": [_("The date is in the future.")]},
        )
    stmt = sa.update(OutboxMessage).where(OutboxMessage.status == STATUS_FAILED)
    if since is not None:
        since = since.astimezone(UTC)
        stmt = stmt.where(sa.func.coalesce(OutboxMessage.last_attempt_at, OutboxMessage.created_at) >= since)
    count = db.session.execute(
        stmt.values(next_attempt_at=now, **_REQUEUE).execution_options(synchronize_session=False)
    ).rowcount
    if count:
        audit.record(
            actor,
            "mail.retry_failed",
            object_type="OutboxMessage",
            summary=_("%(num)d failed messages queued again", num=count),
            changes={"status": ["failed", "queued"], "messages": [None, count], "failed_since": [None, since]},
        )
    return count


# The worker's own heartbeat ---------------------------------------------------------------------
#
# Each round of ``flask worker`` (and each ``--once`` run from cron) records when it ended in the
# settings table; the outbox and invitation pages say so when no worker has run for
# WORKER_STALE_SECONDS (queued mail is then going nowhere: the usual cause is that none was started).

WORKER_SETTING = "mail.worker"


@dataclass(frozen=True)
class WorkerStatus:
    """When a worker last finished a round (None: never), and whether that is recent enough."""

    last_round_at: datetime | None
    running: bool
    stale_minutes: int


def record_worker_round() -> None:
    """Record that a worker round has just ended (its own short unit of work)."""
    value = {"at": clock.now().isoformat(), "base_url": links.base_url()}
    try:
        with unit_of_work():
            row = db.session.get(Setting, WORKER_SETTING)
            if row is None:
                db.session.add(Setting(key=WORKER_SETTING, value=value))
            else:
                row.value = value
    except IntegrityError:  # two workers' first rounds at once: the other one's record stands
        db.session.rollback()


def worker_status() -> WorkerStatus:
    stale = timedelta(seconds=current_app.config["WORKER_STALE_SECONDS"])
    value = db.session.scalar(sa.select(Setting.value).where(Setting.key == WORKER_SETTING))
    last = None
    if isinstance(value, dict) and value.get("at"):
        with contextlib.suppress(ValueError, TypeError):
            last = datetime.fromisoformat(value["at"])
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
    running = last is not None and clock.now() - last <= stale
    return WorkerStatus(last_round_at=last, running=running, stale_minutes=max(1, round(stale.total_seconds() / 60)))


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
