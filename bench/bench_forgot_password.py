"""Bench: does the time of "Forgot your password?" tell whether an account exists?

Serves the app on loopback (Werkzeug's threaded server, which closes each response after sending
it, as gunicorn does) and posts /password/forgot N times each for a known address, an unknown one
and an inactive account, interleaved, over a new connection each time. Prints the median and the
90th percentile of the time until the answer arrives, and the median's difference to the known
address, for three versions of the flow:

* ``before``      the service as it was before issue 12 (nothing done for an unknown address),
                  run before answering;
* ``same steps``  the service as it is (the same look-up, link and rendering for every address,
                  the outbox row only for an account), run before answering;
* ``now``         the service as it is, run after the answer is sent (the view as it is).

    .venv/bin/python bench/bench_forgot_password.py                      # SQLite file
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench_forgot_password.py
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webinar_mgr import create_app
from webinar_mgr.extensions import db

N = int(os.environ.get("BENCH_N", "200"))
ADDRESSES = {"known": "known@example.org", "unknown": "nobody@example.org", "inactive": "gone@example.org"}


def _before_issue_12(email: str) -> None:
    """request_password_reset as it was: nothing done for an unknown or inactive address."""
    from flask import current_app
    from flask_babel import gettext as _

    from webinar_mgr.auth import services as auth
    from webinar_mgr.links import abs_url
    from webinar_mgr.mail import services as mail
    from webinar_mgr.persistence import unit_of_work

    with unit_of_work():
        user = auth.get_by_email(email)
        if user is None or not user.is_active:
            return
        token = auth.make_reset_token(user)
        max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
        mail.queue(
            user.email,
            _("Reset your password"),
            template="mail/password_reset",
            to_name=user.name,
            context={"user": user, "link": abs_url("auth.reset_password", token=token), "minutes": max_age // 60},
            category="account",
        )


def _inline(work, *args):
    """The view's scheduler replaced by doing the work before answering."""
    work(*args)
    return lambda: None


def _post(port: int, email: str) -> float:
    body = urlencode({"email": email})
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/password/forgot", body, {"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    elapsed = (time.perf_counter() - t) * 1000
    conn.close()
    assert resp.status == 302, resp.status
    return elapsed


def _run(port: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in ADDRESSES}
    for _i in range(N):
        for kind, address in ADDRESSES.items():
            times[kind].append(_post(port, address))
            time.sleep(0.02)  # let the work after the previous answer finish (it is not what we time)
    return times


def _print(label: str, times: dict[str, list[float]]) -> None:
    known = statistics.median(times["known"])
    for kind, values in times.items():
        values = sorted(values)
        median = statistics.median(values)
        p90 = values[int(len(values) * 0.9)]
        print(
            f"  {label:<11} {kind:<9} median {median:6.2f} ms   p90 {p90:6.2f} ms   vs known {median - known:+6.2f} ms"
        )


def main() -> None:
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from webinar_mgr.auth import services as auth
    from webinar_mgr.auth import views
    from webinar_mgr.mail.models import OutboxMessage

    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(db.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
            auth.create_user(email=ADDRESSES["known"], name="Known", password="correct-horse-battery")
            gone = auth.create_user(email=ADDRESSES["inactive"], name="Gone", password="correct-horse-battery")
            gone.active = False
            db.session.commit()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        port = server.server_port
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"POST /password/forgot over HTTP, {N} times each, interleaved ({url.split(':')[0]})")
        real_service, real_schedule = auth.request_password_reset, views._after_the_answer
        _run(port)  # warm up (templates, the dummy hash, the connection pool)
        try:
            auth.request_password_reset, views._after_the_answer = _before_issue_12, _inline
            _print("before", _run(port))
            auth.request_password_reset, views._after_the_answer = real_service, _inline
            _print("same steps", _run(port))
            auth.request_password_reset, views._after_the_answer = real_service, real_schedule
            _print("now", _run(port))
        finally:
            auth.request_password_reset, views._after_the_answer = real_service, real_schedule
            server.shutdown()
        with app.app_context():
            print(f"  outbox rows: {db.session.query(OutboxMessage).count()} (the known address only)")


if __name__ == "__main__":
    main()
