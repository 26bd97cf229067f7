"""Webhooks: queued with the change, signed, delivered by the worker's job to a receiver on
loopback, retried after the receiver was down, never twice, private addresses refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row, registrant_data
from webinar_mgr import clock, jobs
from webinar_mgr.api import webhooks
from webinar_mgr.api.models import WebhookDelivery
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events import services as events
from webinar_mgr.extensions import db
from webinar_mgr.registrations import services as registrations


class Receiver:
    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.location = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body, "answered": receiver.status})
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict]:
        return [r for r in self.received if 200 <= r["answered"] < 300]


@pytest.fixture
def receiver(app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def event(app):
    clock.freeze(NOW)
    return make_event_row(title="Webhook webinar", capacity=1)


def verify(secret: str, request: dict) -> dict:
    """What a receiver does: recompute the signature over timestamp + "." + body."""
    ts = request["headers"]["Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["Webhook-Signature"], "v1=" + expected)
    return json.loads(request["body"])


def test_registration_is_delivered_signed(receiver, event, organiser):
    hook = webhooks.create_endpoint(receiver.url, ["registration.created"], actor=organiser)
    registrations.register(event.id, registrant_data())
    assert db.session.scalar(sa.select(sa.func.count(WebhookDelivery.id))) == 1
    assert jobs.run_scheduled()["webhooks"] == 1
    [req] = receiver.delivered()
    payload = verify(hook.secret, req)
    assert payload["type"] == "registration.created" and payload["data"]["email"] == "ana.cruz@example.org"
    assert req["headers"]["Webhook-Id"] == payload["id"]
    # a forged body fails the check
    with pytest.raises(AssertionError):
        verify(hook.secret, {**req, "body": req["body"].replace(b"ana", b"eve")})
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}  # nothing twice


def test_a_refused_change_queues_nothing(receiver, event, organiser):
    webhooks.create_endpoint(receiver.url, ["registration.created"], actor=organiser)
    with pytest.raises(ValidationFailed):
        registrations.register(event.id, registrant_data(email="not an address"))
    assert db.session.scalar(sa.select(sa.func.count(WebhookDelivery.id))) == 0


def test_retried_with_backoff_after_the_receiver_was_down_and_never_duplicated(receiver, event, organiser):
    hook = webhooks.create_endpoint(receiver.url, ["event.changed", "event.cancelled"], actor=organiser)
    receiver.status = 503
    events.change_status(db.session.get(type(event), event.id), "cancelled", actor=organiser)
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    row = db.session.scalar(sa.select(WebhookDelivery))
    assert row.status == "queued" and row.attempts == 1 and row.last_status_code == 503
    assert row.next_attempt_at == NOW + timedelta(seconds=60)
    assert webhooks.deliver_due()["retry"] == 0  # not yet due
    receiver.status = 200
    clock.advance(timedelta(seconds=61))
    assert webhooks.deliver_due() == {"delivered": 1, "retry": 0, "failed": 0}
    clock.advance(timedelta(hours=7))
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
    ids = [json.loads(r["body"])["id"] for r in receiver.received]
    assert len(ids) == 2 and len(set(ids)) == 1  # one message, sent twice only because the first failed
    assert len(receiver.delivered()) == 1
    assert verify(hook.secret, receiver.delivered()[0])["type"] == "event.cancelled"


def test_gives_up_after_the_last_attempt(app, receiver, event, organiser):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    webhooks.create_endpoint(receiver.url, ["registration.created"], actor=organiser)
    receiver.status = 500
    registrations.register(event.id, registrant_data())
    webhooks.deliver_due()
    clock.advance(timedelta(hours=1))
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 1}
    assert db.session.scalar(sa.select(WebhookDelivery.status)) == "failed"


def test_redirects_are_not_followed(receiver, event, organiser):
    webhooks.create_endpoint(receiver.url, ["registration.created"], actor=organiser)
    receiver.status = 302
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    registrations.register(event.id, registrant_data())
    assert webhooks.deliver_due()["retry"] == 1
    assert len(receiver.received) == 1  # the redirect target was never asked


def test_two_workers_never_claim_the_same_delivery(receiver, event, organiser):
    webhooks.create_endpoint(receiver.url, ["registration.created"], actor=organiser)
    registrations.register(event.id, registrant_data())
    _token, first = webhooks.claim_due(10)
    _token, second = webhooks.claim_due(10)
    assert len(first) == 1 and second == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "ftp://example.org/",
        "not a url",
    ],
)
def test_private_and_odd_addresses_are_refused(app, organiser, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    with pytest.raises(ValidationFailed) as exc:
        webhooks.create_endpoint(url, ["event.changed"], actor=organiser)
    assert "url" in exc.value.field_errors


def test_pages_add_a_webhook_send_a_test_and_show_the_log(app, client, login, receiver, organiser, make_user):
    app.config["WTF_CSRF_ENABLED"] = False
    login(organiser)
    resp = client.post("/api/webhooks", data={"url": receiver.url, "event_types": ["event.changed"]})
    assert resp.status_code == 302
    hook_url = resp.headers["Location"]
    page = client.get(hook_url).get_data(as_text=True)
    assert "whsec_" in page
    assert client.post(hook_url + "/test").status_code == 302
    assert webhooks.deliver_due()["delivered"] == 1
    assert json.loads(receiver.delivered()[0]["body"])["type"] == "ping"
    assert "delivered" in client.get(hook_url).get_data(as_text=True)
    bad = client.post("/api/webhooks", data={"url": "http://x", "event_types": []})
    assert bad.status_code in (400, 422)
