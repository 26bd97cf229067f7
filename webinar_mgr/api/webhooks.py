"""Webhooks: endpoints that organisers register, the events they receive, and their delivery.

A change queues one ``WebhookDelivery`` per subscribed endpoint in the change's own transaction
(the receivers below are connected to the lower modules' signals), so a delivery exists exactly
when the change does. ``flask worker`` delivers them (the scheduled job ``webhooks``): it claims
due rows with a conditional UPDATE and its own token (two workers never send the same row at
once), POSTs the stored body, signed::

    Webhook-Id: <message id, the same on every attempt>
    Webhook-Timestamp: <unix seconds>
    Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

and on failure backs off exponentially (WEBHOOK_BACKOFF_SECONDS x 2^attempts, capped at 6 h)
until WEBHOOK_MAX_ATTEMPTS. Redirects are not followed (a 3xx is a failure). Addresses that are
private, loopback, link-local or reserved are refused when the endpoint is saved and again at
each delivery (the connection goes to the address that was checked), unless
WEBHOOK_ALLOW_PRIVATE is set.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import clock, jobs
from webinar_mgr.attendance.signals import attendance_imported
from webinar_mgr.audit import services as audit
from webinar_mgr.commitments.signals import commitment_delivered
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events.signals import event_changed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work
from webinar_mgr.registrations.signals import registration_changed

from .models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENDING,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "registration.created": _l("Registration created"),
    "registration.cancelled": _l("Registration cancelled"),
    "registration.promoted": _l("Registration promoted from the waiting list"),
    "event.changed": _l("Event changed"),
    "event.cancelled": _l("Event cancelled"),
    "attendance.imported": _l("Attendance imported"),
    "commitment.delivered": _l("Commitment delivered"),
}
TEST_EVENT = "ping"
DEFAULTS = {
    "WEBHOOK_ALLOW_PRIVATE": False,
    "WEBHOOK_TIMEOUT": 10,
    "WEBHOOK_BACKOFF_SECONDS": 60,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_BATCH_SIZE": 50,
    "WEBHOOK_CLAIM_TIMEOUT": 600,
}
MAX_BACKOFF = timedelta(hours=6)


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


# Addresses ----------------------------------------------------------------------------------------


def _refused_address(ip: ipaddress._BaseAddress) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and _refused_address(ip.ipv4_mapped))
    )


def resolve(url: str) -> tuple[str, int, str]:
    """(host, port, the address to connect to) of ``url``, or ValidationFailed on the field
    ``url`` when it is not an http(s) URL or its host resolves to a refused address."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(_("Give an http:// or https:// address."), field_errors={"url": [_("Not a URL.")]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        msg = _("The host of this address cannot be found.")
        raise ValidationFailed(msg, field_errors={"url": [msg]}) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not setting("WEBHOOK_ALLOW_PRIVATE") and any(_refused_address(a) for a in addresses):
        msg = _("Private, loopback and reserved addresses cannot receive webhooks.")
        raise ValidationFailed(msg, field_errors={"url": [msg]})
    return parts.hostname, port, str(addresses[0])


# Endpoints ----------------------------------------------------------------------------------------


def _check(url: str, event_types: list[str], description: str | None) -> tuple[str, list[str], str | None]:
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    if len(url) > 1000:
        errors["url"] = [_("At most 1000 characters.")]
    else:
        try:
            resolve(url)
        except ValidationFailed as exc:
            errors.update(exc.field_errors)
    types = list(dict.fromkeys(event_types or []))
    if not types:
        errors["event_types"] = [_("Choose at least one kind of event.")]
    elif any(t not in EVENT_TYPES for t in types):
        errors["event_types"] = [_("Unknown kind of event.")]
    description = " ".join((description or "").split()) or None
    if description and len(description) > 200:
        errors["description"] = [_("At most 200 characters.")]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], field_errors=errors)
    return url, types, description


def endpoints() -> list[WebhookEndpoint]:
    return list(db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    return get_or_404(WebhookEndpoint, endpoint_id, _("There is no such webhook."))


@transactional
def create_endpoint(url: str, event_types: list[str], description: str | None = None, *, actor) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (shown to the organiser, used to sign every delivery)."""
    url, types, description = _check(url, event_types, description)
    endpoint = WebhookEndpoint(
        url=url,
        event_types=types,
        description=description,
        secret="whsec_" + secrets.token_urlsafe(32),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, "webhook.create", endpoint, summary=url, changes={"event_types": [None, types]})
    return endpoint


@transactional
def delete_endpoint(endpoint: WebhookEndpoint, *, actor) -> None:
    audit.record(actor, "webhook.delete", endpoint, summary=endpoint.url)
    db.session.delete(endpoint)


@transactional
def send_test(endpoint: WebhookEndpoint, *, actor) -> WebhookDelivery:
    """Queue a ``ping`` for this endpoint (delivered by the worker like any other)."""
    delivery = _queue(endpoint, TEST_EVENT, {"message": "Test delivery from webinar_mgr"})
    audit.record(actor, "webhook.test", endpoint, summary=endpoint.url)
    return delivery


def deliveries(endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# Queueing -----------------------------------------------------------------------------------------


def _queue(endpoint: WebhookEndpoint, event_type: str, data: dict, message_id: str | None = None) -> WebhookDelivery:
    message_id = message_id or str(uuid.uuid4())
    body = json.dumps(
        {"id": message_id, "type": event_type, "created_at": clock.now().isoformat(), "data": data},
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        message_id=message_id,
        event_type=event_type,
        body=body,
        next_attempt_at=clock.now(),
    )
    db.session.add(delivery)
    return delivery


def publish(event_type: str, data: dict) -> int:
    """Queue ``event_type`` for every active endpoint that chose it, in the caller's transaction;
    one message id for all of them. Returns how many were queued."""
    targets = [
        e
        for e in db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)))
        if event_type in (e.event_types or [])
    ]
    message_id = str(uuid.uuid4())
    for endpoint in targets:
        _queue(endpoint, event_type, data, message_id)
    return len(targets)


def _iso(value):
    return value.isoformat() if value is not None else None


REGISTRATION_TYPES = {
    "registered": "registration.created",
    "cancelled": "registration.cancelled",
    "promoted": "registration.promoted",
}


@registration_changed.connect
def _on_registration(reg, why: str = "", **_kwargs) -> None:
    event_type = REGISTRATION_TYPES.get(why)
    if event_type:
        publish(
            event_type,
            {
                "registration_id": reg.id,
                "event_id": reg.event_id,
                "status": reg.status,
                "email": reg.email,
                "name": reg.name,
            },
        )


@event_changed.connect
def _on_event(event, changes=None, cancelled: bool = False, **_kwargs) -> None:
    publish(
        "event.cancelled" if cancelled else "event.changed",
        {
            "event_id": event.id,
            "title": event.title,
            "status": event.status,
            "changes": sorted(changes or []),
            "starts_at": _iso(event.starts_at),
            "ends_at": _iso(event.ends_at),
            "timezone": event.timezone,
        },
    )


@attendance_imported.connect
def _on_attendance(imp, **_kwargs) -> None:
    publish(
        "attendance.imported",
        {
            "event_id": imp.event_id,
            "import_id": imp.id,
            "mode": imp.mode,
            "people": imp.people,
            "matched": imp.matched,
            "attended": imp.attended,
        },
    )


@commitment_delivered.connect
def _on_commitment(commitment, **_kwargs) -> None:
    publish(
        "commitment.delivered",
        {
            "commitment_id": commitment.id,
            "event_id": commitment.event_id,
            "delivered_at": _iso(commitment.delivered_at),
        },
    )


# Delivery -----------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to what the name resolves to later."""

    def __init__(self, host, port, address, **kw):
        super().__init__(host, port, **kw)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kw):
        super().__init__(host, port, context=ssl.create_default_context(), **kw)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict) -> int:
    """POST once; returns the status code (no redirect is followed)."""
    host, port, address = resolve(url)
    parts = urlsplit(url)
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = cls(host, port, address, timeout=setting("WEBHOOK_TIMEOUT"))
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        return response.status
    finally:
        conn.close()


def claim_due(limit: int) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due deliveries (stale claims released first) in one unit of work."""
    token = secrets.token_hex(16)
    now = clock.now()
    stale_before = now - timedelta(seconds=setting("WEBHOOK_CLAIM_TIMEOUT"))
    with unit_of_work():
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.status == DELIVERY_SENDING, WebhookDelivery.claimed_at < stale_before)
            .values(status=DELIVERY_QUEUED, claim_token=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        due = db.session.scalars(
            sa.select(WebhookDelivery.id)
            .where(WebhookDelivery.status == DELIVERY_QUEUED, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        ).all()
        if due:
            db.session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due), WebhookDelivery.status == DELIVERY_QUEUED)
                .values(status=DELIVERY_SENDING, claim_token=token, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
        ids = db.session.scalars(
            sa.select(WebhookDelivery.id).where(WebhookDelivery.claim_token == token).order_by(WebhookDelivery.id)
        ).all()
    return token, list(ids)


def _attempt(row) -> dict:
    """One attempt; the values to record."""
    body = row.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "webinar_mgr-webhooks/1",
        "Webhook-Id": row.message_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": "v1=" + sign(row.secret, timestamp, body),
    }
    attempts = row.attempts + 1
    now = clock.now()
    try:
        status = _post(row.url, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except ValidationFailed as exc:
        status, error = None, exc.message
    except (OSError, http.client.HTTPException) as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:1000]
    values = {"attempts": attempts, "last_attempt_at": now, "last_status_code": status, "last_error": error}
    if error is None:
        values.update(status=DELIVERY_DELIVERED, delivered_at=now)
    elif attempts >= setting("WEBHOOK_MAX_ATTEMPTS"):
        values.update(status=DELIVERY_FAILED)
    else:
        backoff = min(timedelta(seconds=setting("WEBHOOK_BACKOFF_SECONDS") * 2 ** (attempts - 1)), MAX_BACKOFF)
        values.update(status=DELIVERY_QUEUED, next_attempt_at=now + backoff)
    return values


def deliver_due(limit: int | None = None) -> dict[str, int]:
    """Deliver what is due; returns counts {'delivered', 'retry', 'failed'}. No transaction is open
    while a receiver answers; each outcome is recorded only where this round still holds the claim."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    token, ids = claim_due(limit or setting("WEBHOOK_BATCH_SIZE"))
    if not ids:
        return counts
    cols = (
        WebhookDelivery.id,
        WebhookDelivery.message_id,
        WebhookDelivery.body,
        WebhookDelivery.attempts,
        WebhookEndpoint.url,
        WebhookEndpoint.secret,
    )
    with unit_of_work():
        rows = db.session.execute(
            sa.select(*cols).join(WebhookEndpoint).where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)
        ).all()
    for row in rows:
        values = _attempt(row)
        with unit_of_work():
            done = db.session.execute(
                sa.update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == row.id,
                    WebhookDelivery.claim_token == token,
                    WebhookDelivery.status == DELIVERY_SENDING,
                )
                .values(claim_token=None, claimed_at=None, **values)
                .execution_options(synchronize_session=False)
            ).rowcount
        if done:
            key = {DELIVERY_DELIVERED: "delivered", DELIVERY_FAILED: "failed"}.get(values["status"], "retry")
            counts[key] += 1
    return counts


@jobs.scheduled("webhooks")
def _deliver_job() -> int:
    counts = deliver_due()
    return counts["delivered"]
