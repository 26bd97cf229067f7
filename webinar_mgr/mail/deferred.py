"""Mails the worker renders: the request writes what the mail is about, not its words (issue 19).

A web request that causes a mail (a guest's registration: its confirmation with a calendar entry)
spends most of its time rendering that mail. With :func:`queue_later` it writes only the outbox row,
in the same transaction as the change, with a renderer's name (``render_kind``) and what the mail is
about (``render_data``: ids, and the facts at the time such as the status the mail announces). Just
before delivery the worker calls the renderer, which returns the mail's content, and stores it in the
row (:func:`render_claimed`); from then on the row is an ordinary outbox message (a retry does not
render it again, and the outbox page shows what was sent).

A higher module registers its renderers with :func:`renderer` (calls only go down: mail never
imports the module whose mails it renders)::

    @deferred.renderer("registration_status")
    def _status_mail(data: dict) -> dict:
        ...
        return {"subject": ..., "template": "mail/registration_status", "context": {...},
                "attachments": [...]}

A renderer returns the keyword arguments of :func:`webinar_mgr.mail.services.queue`'s content:
``subject`` and either ``template`` (+ ``context``) or ``body_text`` (+ optional ``body_html``), and
optionally ``attachments``, ``headers`` and ``to_name``. It runs in an application context, not in a
request; it chooses the recipient's language itself (``i18n.in_recipient_language``) for what it
renders, and a ``template`` it returns is rendered in the ``language`` it names (a code; without
one, the default language), so the text, the HTML part's ``lang`` and the footer agree. A renderer that
raises (the registration was erased meanwhile, say) fails that message alone, with the reason on the
outbox page; the others of the round go on. A database error (a restart) is not the message's: it
stops the round, which rolls back; the messages are rendered when the worker tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language
from webinar_mgr.persistence import unit_of_work

from . import services
from .models import STATUS_FAILED, STATUS_QUEUED, STATUS_SENDING, OutboxMessage

log = logging.getLogger(__name__)

Renderer = Callable[[dict], dict]
_RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    """Register ``fn(data) -> content`` as the renderer of the outbox rows of this kind."""

    def register(fn: Renderer) -> Renderer:
        if _RENDERERS.get(kind, fn) is not fn:
            raise ValueError(f"a mail renderer for {kind!r} is registered already")
        _RENDERERS[kind] = fn
        return fn

    return register


def queue_later(
    kind: str,
    data: dict,
    *,
    to: str,
    subject: str,
    to_name: str | None = None,
    category: str = "general",
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Add an outbox row in the current transaction (the caller commits) whose content the worker
    renders with the renderer ``kind`` from ``data`` (JSON: ids and plain values). ``subject`` is
    provisional: the outbox page shows it until the mail is rendered. Same address check and
    dedupe rule as :func:`~webinar_mgr.mail.services.queue`."""
    if kind not in _RENDERERS:
        raise ValueError(f"no mail renderer is registered for {kind!r}")
    msg = services.queue(
        to, subject, body_text="", body_html="", to_name=to_name, category=category, dedupe_key=dedupe_key
    )
    if msg is not None:
        msg.render_kind = kind
        msg.render_data = dict(data)
    return msg


def render_claimed(token: str) -> int:
    """Render the content of this worker round's messages that still need it (one unit of work,
    before the round loads them to send). Returns how many were rendered."""
    return _render_where(OutboxMessage.claim_token == token, OutboxMessage.status == STATUS_SENDING)


def render_pending() -> int:
    """Render every queued message that still needs it, now (previews, the CLI, tests)."""
    return _render_where(OutboxMessage.status.in_((STATUS_QUEUED, STATUS_SENDING)))


def _render_where(*where) -> int:
    done = 0
    with unit_of_work():
        messages = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.render_data.is_not(None), *where).order_by(OutboxMessage.id)
        ).all()
        for msg in messages:
            done += _render_one(msg)
    return done


def _render_one(msg: OutboxMessage) -> int:
    """Fill one row's content from its renderer; a renderer that fails marks the row failed."""
    fn = _RENDERERS.get(msg.render_kind or "")
    try:
        if fn is None:
            raise LookupError(f"no mail renderer is registered for {msg.render_kind!r}")
        with db.session.begin_nested():
            content = dict(fn(dict(msg.render_data or {})))
            with in_language(content.pop("language", None)):
                subject = services.clean_header_text(content.pop("subject"))
                template = content.pop("template", None)
                if template:
                    subject, body_text, body_html = services.render(template, subject, content.pop("context", None))
                    subject = services.clean_header_text(subject)
                else:
                    body_text, body_html = content.pop("body_text"), content.pop("body_html", None)
                if body_html is None:
                    body_html = services.html_from_text(body_text, subject)
            msg.subject = subject[:500]
            msg.body_text = body_text
            msg.body_html = body_html
            msg.attachments = content.pop("attachments", None) or msg.attachments
            msg.headers = content.pop("headers", None) or msg.headers
            if content.get("to_name"):
                msg.to_name = services.clean_header_text(content.pop("to_name"))[:200]
            msg.render_data = None
        return 1
    except (DBAPIError, PendingRollbackError):  # the database failing (a restart), not this message:
        raise  # the round stops, its unit of work rolls back, the worker tries again later
    except Exception as exc:  # whatever the cause, this message cannot be written; the others can
        log.error("mail %s (%s) cannot be rendered: %s", msg.id, msg.render_kind, exc)
        msg.status = STATUS_FAILED
        msg.claim_token = None
        msg.last_error = f"The message cannot be written: {type(exc).__name__}: {exc}"[:2000]
        return 0
