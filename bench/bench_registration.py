"""Bench: registration through gunicorn on PostgreSQL (loopback only).

1. Throughput: 32 concurrent clients POST guest registrations (unique emails) to
   /events/<id>/register of an open event without a capacity; prints registrations/s and
   p50/p99 latency, beside the floor: the same gunicorn serving a minimal Flask view that
   inserts one row (same database, same driver).
2. The race: 1,000 simultaneous attempts (950 people + 50 repeats of an address in other
   capitals) for 100 seats; prints confirmed, wait-listed, duplicates refused, errors.

A throw-away database is created and dropped (BENCH_PG, default postgresql://postgres@127.0.0.1:5432).

    .venv/bin/python bench/bench_registration.py [--workers 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = f"wm_bench_reg_{os.getpid()}"


# The floor: a minimal Flask app inserting one row per request ----------------------------------


def floor_app():
    import sqlalchemy as sa
    from flask import Flask, request

    app = Flask("floor")
    engine = sa.create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))

    @app.post("/insert")
    def insert():
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO bench_floor (email) VALUES (:e)"), {"e": request.form.get("email", "")})
        return "", 302, {"Location": "/done"}

    return app


# Helpers ----------------------------------------------------------------------------------------


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-q", "-c", sql], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def _gunicorn(target: str, port: int, workers: int, env: dict) -> subprocess.Popen:
    worker_class = os.environ.get("BENCH_WORKER_CLASS", "sync")
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "-w",
        str(workers),
        "-k",
        worker_class,
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--chdir",
        str(ROOT / "bench"),
        "--pythonpath",
        str(ROOT),
        target,
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), start_new_session=True)
    _wait_port(port)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _post(conn: http.client.HTTPConnection, path: str, form: dict) -> tuple[int, float]:
    body = urllib.parse.urlencode(form)
    t = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    return resp.status, time.perf_counter() - t


def load(port: int, path: str, clients: int, seconds: float, prefix: str) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        mine, codes = [], {}
        while time.perf_counter() < stop_at:
            form = {
                "name": f"Bench {n}-{i}",
                "email": f"{prefix}{n}-{i}@example.org",
                "timezone": "Asia/Bangkok",
                "consent": "y",
            }
            try:
                status, dt = _post(conn, path, form)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, dt = 599, 0.0
            codes[status] = codes.get(status, 0) + 1
            mine.append(dt)
            i += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    ok = statuses.get(302, 0)
    return {
        "ok": ok,
        "rate": ok / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "statuses": statuses,
    }


def race(port: int, path: str, attempts: int = 1000) -> dict:
    forms = []
    for i in range(attempts - 50):
        forms.append({"name": f"Racer {i}", "email": f"racer{i}@example.org"})
    for i in range(50):  # the same people again, in other capitals
        forms.append({"name": f"Racer {i}", "email": f"RACER{i}@Example.ORG"})
    results: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def worker(chunk: list[dict]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        codes = {}
        for form in chunk:
            form = dict(form, timezone="Asia/Manila", consent="y")
            try:
                status, _ = _post(conn, path, form)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status = 599
            codes[status] = codes.get(status, 0) + 1
        with lock:
            for k, v in codes.items():
                results[k] = results.get(k, 0) + v

    chunks = [forms[i::100] for i in range(100)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"statuses": results, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=32)
    args = ap.parse_args()

    url = f"{PG}/{DB_NAME}"
    _psql(f"CREATE DATABASE {DB_NAME}")
    env = dict(
        os.environ,
        DATABASE_URL=url,
        WEBINAR_ENV="testing",
        INSTANCE_DIR="/tmp/wm_bench_reg",
        BASE_URL="http://127.0.0.1",
        PYTHONPATH=str(ROOT),
    )
    os.environ.update(DATABASE_URL=url, WEBINAR_ENV="testing")
    procs = []
    try:
        import sqlalchemy as sa
        from flask_migrate import upgrade

        from webinar_mgr import clock, create_app
        from webinar_mgr.events.models import Event, EventKind
        from webinar_mgr.extensions import db
        from webinar_mgr.registrations.models import Registration

        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url.replace("postgresql://", "postgresql+psycopg://", 1))
        with app.app_context():
            upgrade()
            kind = EventKind(code="webinar", label="Regional webinar")
            db.session.add(kind)
            db.session.flush()
            start = clock.now() + timedelta(days=20)
            common = dict(
                kind_id=kind.id,
                status="scheduled",
                timezone="Asia/Bangkok",
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                audience="open",
            )
            open_event = Event(title="Throughput", capacity=None, **common)
            race_event = Event(title="Race for 100 seats", capacity=100, **common)
            db.session.add_all([open_event, race_event])
            db.session.execute(
                sa.text(
                    "CREATE TABLE bench_floor (id serial primary key, email varchar(254), "
                    "created_at timestamptz default now())"
                )
            )
            db.session.commit()
            open_id, race_id = open_event.id, race_event.id
            db.engine.dispose()

        port_app, port_floor = _free_port(), _free_port()
        procs.append(_gunicorn("webinar_mgr:create_app()", port_app, args.workers, env))
        procs.append(_gunicorn("bench_registration:floor_app()", port_floor, args.workers, env))
        # warm up both (imports, connection pools)
        load(port_app, f"/events/{open_id}/register", 4, 2, "warm")
        load(port_floor, "/insert", 4, 2, "warm")

        print(
            f"gunicorn: {args.workers} {os.environ.get('BENCH_WORKER_CLASS', 'sync')} workers, PostgreSQL, "
            f"{args.clients} concurrent clients, "
            f"{args.seconds:.0f} s each"
        )
        reg = load(port_app, f"/events/{open_id}/register", args.clients, args.seconds, "c")
        floor = load(port_floor, "/insert", args.clients, args.seconds, "f")
        print(
            f"  registration  : {reg['rate']:8.1f} registrations/s   p50 {reg['p50']:7.1f} ms   "
            f"p99 {reg['p99']:7.1f} ms   statuses {reg['statuses']}"
        )
        print(
            f"  floor (insert): {floor['rate']:8.1f} requests/s        p50 {floor['p50']:7.1f} ms   "
            f"p99 {floor['p99']:7.1f} ms   statuses {floor['statuses']}"
        )
        print(f"  registration / floor: {reg['rate'] / floor['rate']:.2f}")

        r = race(port_app, f"/events/{race_id}/register")
        with app.app_context():
            counts = dict(
                db.session.execute(
                    sa.select(Registration.status, sa.func.count())
                    .where(Registration.event_id == race_id)
                    .group_by(Registration.status)
                ).all()
            )
            db.engine.dispose()
        st = r["statuses"]
        errors = sum(v for k, v in st.items() if k not in (302, 409))
        print(f"1,000 simultaneous attempts for 100 seats ({r['seconds']:.1f} s, 100 client threads):")
        print(
            f"  confirmed {counts.get('confirmed', 0)}, wait-listed {counts.get('waitlisted', 0)}, "
            f"duplicates refused (409) {st.get(409, 0)}, errors {errors}   statuses {st}"
        )
    finally:
        for p in procs:
            _stop(p)
        try:
            _psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        except subprocess.CalledProcessError as exc:
            print("could not drop", DB_NAME, exc.stderr, file=sys.stderr)


if __name__ == "__main__":
    main()
