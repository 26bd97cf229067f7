"""bench/run.py's PostgreSQL mode: the app served by gunicorn with the production settings, every
page figure timed over HTTP beside its floor served by the same gunicorn settings.

The servers (all on free loopback ports, started and stopped by the bench):

- the app: ``gunicorn --workers 3 --timeout 120 --bind ... --access-logfile - "webinar_mgr:create_app()"``
  (docs/deployment.md) with WEBINAR_ENV=production, SECRET_KEY, BASE_URL, DATABASE_URL,
  PROXY_HOPS=1 (the bench's client plays the TLS proxy: X-Forwarded-Proto https, one
  X-Forwarded-For address per client, so secure cookies and the HTTPS referrer check of CSRF are
  as behind nginx) and PUBLIC_FORM_RATE_LIMIT / LOGIN_RATE_LIMIT raised for the load (the limiter
  still runs, memory storage);
- the floor: bench/floor_app.py by the same command;
- for "first request in a fresh worker": the same two with ``--workers 1 --max-requests 1`` and
  bench/gunicorn_fresh.py (each worker serves one request, then is replaced; the bench waits
  until the new worker has loaded the app before timing its first request).

The HTTP client is the standard library's http.client in threads (the same client for figure and
floor, so its own cost is on both sides). One registration is what a guest does: GET the form
(a new cookie), POST it with the csrf_token and the cookie; the figure counts POSTs answered 302.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import Figure, measure, record

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(ROOT / ".venv/bin/gunicorn")
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"')


# Servers ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn, started as docs/deployment.md says (plus ``extra``)."""

    def __init__(self, target: str, env: dict, log_dir: str, *, workers: int = 3, fresh: bool = False, extra_env=None):
        self.port = free_port()
        self.fresh = fresh
        self.ready_dir = tempfile.mkdtemp(prefix="ready_", dir=log_dir) if fresh else None
        self.used: set[str] = set()
        self.starts: list[float] = []  # fresh workers: seconds from fork to app loaded
        cmd = [
            GUNICORN,
            "--workers",
            str(1 if fresh else workers),
            "--timeout",
            "120",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            "-",
        ]
        if fresh:
            cmd += ["--max-requests", "1", "--config", str(ROOT / "bench/gunicorn_fresh.py")]
        cmd.append(target)
        env = dict(env, BENCH_READY_DIR=self.ready_dir or "", **(extra_env or {}))
        self.log = open(Path(log_dir) / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=str(ROOT), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, path: str, timeout: float = 90) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn on {self.port} exited; see {self.log.name}")
            if self.fresh:
                if self.next_worker(timeout=0.1):
                    return
                continue
            try:
                status, _body, _t = Client(self.port).get(path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on {self.port} did not answer {path}; see {self.log.name}")

    def next_worker(self, timeout: float = 90) -> str | None:
        """A fresh worker that has loaded the app and not served yet (its pid), or None."""
        end = time.time() + timeout
        while True:
            for name in os.listdir(self.ready_dir):
                if name.startswith("."):
                    continue
                if name not in self.used and Path("/proc", name).exists():
                    return name
            if time.time() >= end:
                return None
            time.sleep(0.02)

    def first_request(self, client_factory, path: str, before=None) -> float:
        """Time the first request of a fresh worker (``before`` runs first, e.g. deleting a
        stored PDF); the worker then exits (max-requests 1) and gunicorn starts another."""
        pid = self.next_worker()
        if pid is None:
            raise RuntimeError(f"no fresh worker on {self.port}; see {self.log.name}")
        if before:
            before()
        status, body, t = client_factory(self.port).get(path)
        assert status == 200, (path, status, body[:300])
        self.used.add(pid)
        self.starts.append(float(Path(self.ready_dir, pid).read_text() or "nan"))
        return t

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


# The client -----------------------------------------------------------------------------------------


class Client:
    """A browser behind the TLS proxy: keeps its cookies (secure ones too: the proxy speaks https to
    it), sends X-Forwarded-Proto/For and a same-origin Referer on POST."""

    def __init__(self, port: int, address: str = "10.0.0.1", cookies: dict | None = None):
        self.port = port
        self.address = address
        self.cookies = dict(cookies or {})
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)

    def _headers(self, path: str, post: bool) -> dict:
        h = {"X-Forwarded-Proto": "https", "X-Forwarded-For": self.address, "Accept-Language": "en"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if post:
            h["Content-Type"] = "application/x-www-form-urlencoded"
            h["Referer"] = f"https://127.0.0.1:{self.port}{path}"
            h["Origin"] = f"https://127.0.0.1:{self.port}"
        return h

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, bytes, float]:
        body = urllib.parse.urlencode(form) if form is not None else None
        t = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=self._headers(path, method == "POST"))
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()  # a sync worker closed the connection: open a new one and retry once
            t = time.perf_counter()
            self.conn.request(method, path, body=body, headers=self._headers(path, method == "POST"))
            resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - t
        for header in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return resp.status, data, elapsed

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> tuple[int, bytes, float]:
        return self.request("POST", path, form)

    def csrf(self, path: str) -> tuple[str, float]:
        status, body, t = self.get(path)
        assert status == 200, (path, status, body[:300])
        m = CSRF.search(body.decode())
        assert m, f"no csrf_token in {path}"
        return m.group(1) or m.group(2), t


def login(port: int, email: str, password: str) -> dict:
    c = Client(port)
    token, _t = c.csrf("/login")
    status, body, _t = c.post("/login", {"email": email, "password": password, "csrf_token": token})
    assert status == 302, ("login", status, body[:500])
    return c.cookies


# Load: guests registering ---------------------------------------------------------------------------


def guests(port: int, form_path: str, post_path: str, clients: int, seconds: float, tag: str) -> dict:
    """``clients`` threads, each a stream of new guests (a new cookie each): GET the form, POST it
    with its csrf_token. Returns registrations/s (POSTs answered 302) and latencies."""
    posts: list[float] = []
    gets: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(n: int) -> None:
        mine_posts, mine_gets, codes = [], [], {}
        c = Client(port, address=f"10.{n // 250}.{n % 250}.{1 + n % 7}")
        start_gate.wait()
        i = 0
        while time.perf_counter() < stop_at[0]:
            c.cookies.clear()  # a new guest
            try:
                token, tg = c.csrf(form_path)
                form = {
                    "name": f"Guest {tag} {n}-{i}",
                    "email": f"g-{tag}-{n}-{i}-{uuid.uuid4().hex[:6]}@example.org",
                    "timezone": "Asia/Bangkok",
                    "consent": "y",
                    "organisation_name": "Migrant Care Network",
                    "sector": "civil_society",
                    "csrf_token": token,
                }
                status, _body, tp = c.post(post_path, form)
            except (OSError, http.client.HTTPException, AssertionError):
                c.conn.close()
                status, tg, tp = 599, 0.0, 0.0
            codes[status] = codes.get(status, 0) + 1
            mine_gets.append(tg)
            mine_posts.append(tp)
            i += 1
        c.conn.close()
        with lock:
            posts.extend(mine_posts)
            gets.extend(mine_gets)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    posts.sort()
    gets.sort()
    return {
        "rate": statuses.get(302, 0) / elapsed,
        "p99": posts[max(0, int(len(posts) * 0.99) - 1)] if posts else float("nan"),
        "p99_get": gets[max(0, int(len(gets) * 0.99) - 1)] if gets else float("nan"),
        "statuses": statuses,
    }


# The figures ---------------------------------------------------------------------------------------


def run(b) -> None:
    from bench.run import ONE_YEAR, PASSWORD, WHOLE_PERIOD, clear_stored_pdfs, mine_query_count
    from webinar_mgr.extensions import db

    if b.only == "invitations":  # the worker's jobs only: no server needed
        return
    logs = tempfile.mkdtemp(prefix="bench_gunicorn_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "TEST_DATABASE"))}
    env.update(
        WEBINAR_ENV="production",
        FLASK_APP="webinar_mgr",
        SECRET_KEY=b.secret,
        BASE_URL=b.base_url,
        DATABASE_URL=b.url,
        INSTANCE_DIR=b.tmp,
        PROXY_HOPS="1",
        PUBLIC_FORM_RATE_LIMIT="1000000 per minute",
        LOGIN_RATE_LIMIT="1000 per minute",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(b.mail_port),
        PYTHONPATH=str(ROOT),
    )
    servers: list[Server] = []

    def start(target: str, probe: str, **kw) -> Server:
        s = Server(target, env, logs, **kw)
        servers.append(s)
        s.wait(probe)
        return s

    def clear():
        clear_stored_pdfs(b.app)
        with b.app.app_context():
            db.engine.dispose()

    print(
        "gunicorn: --workers 3 --timeout 120 --access-logfile - (docs/deployment.md), production settings", flush=True
    )
    try:
        app = start("webinar_mgr:create_app()", "/healthz")
        # the floor's workers import WeasyPrint and render a paragraph at start: its warm figures
        # (the paragraph PDF) are then those of warm workers, as the app's are after its warm-up
        floor = start("bench.floor_app:create_app()", "/ping", extra_env={"BENCH_FLOOR_WARM_UP": "1"})

        def healthz() -> float:
            status, _body, t = Client(app.port).get("/healthz")
            assert status == 200
            return t

        def timed(port: int, path: str, cookies: dict | None = None, before=None):
            def go() -> float:
                if before:
                    before()
                status, body, t = Client(port, cookies=cookies).get(path)
                assert status == 200, (path, status, body[:300])
                assert ".pdf" not in path or body.startswith(b"%PDF"), (path, body[:300])
                return t

            return go

        if b.wanted("registrations"):
            event_id = b.ids["register"]
            p99s: dict[str, list[float]] = {"app": [], "floor": []}
            notes: dict[str, list] = {"app": [], "floor": []}
            gets: dict[str, list[float]] = {"app": [], "floor": []}

            def load(which: str, port: int, form_path: str, post_path: str):
                def go() -> float:
                    r = guests(port, form_path, post_path, 32, b.seconds, uuid.uuid4().hex[:6])
                    p99s[which].append(r["p99"])
                    notes[which].append(r["statuses"])
                    gets[which].append(r["p99_get"])
                    return r["rate"]

                return go

            reg = load("app", app.port, f"/events/{event_id}/register", f"/events/{event_id}/register")
            flo = load("floor", floor.port, "/form", "/insert")
            # warm-up: a short load on each
            guests(app.port, f"/events/{event_id}/register", f"/events/{event_id}/register", 32, 2, "warm")
            guests(floor.port, "/form", "/insert", 32, 2, "warm")
            measure(
                Figure(
                    "registrations/s, 32 clients, CSRF on (GET form + POST)",
                    "/s",
                    ">= 0.5 x floor",
                ),
                reg,
                flo,
                warm=False,
            )
            print(f"    statuses: app {notes['app']}, floor {notes['floor']}", flush=True)
            print(
                "    GET of the form, p99: app "
                + ", ".join(f"{v * 1000:.0f}" for v in gets["app"])
                + " ms; floor "
                + ", ".join(f"{v * 1000:.0f}" for v in gets["floor"])
                + " ms",
                flush=True,
            )
            record(
                Figure("registration POST p99 latency, 32 clients", "ms", "< 150 ms"),
                p99s["app"],
                p99s["floor"],
            )

        if b.wanted("agenda"):
            path = f"/events/{b.ids['agenda']}/agenda.pdf"
            # warm-ups, 6 at once so that each of the 3 sync workers renders at least once (fonts
            # loaded) whether or not the app warms up at start
            clear()  # then 6 at once: the first 3 find no stored PDF, one on each worker
            with ThreadPoolExecutor(6) as pool:
                list(pool.map(lambda _: timed(app.port, path)(), range(6)))
                list(pool.map(lambda _: timed(floor.port, "/paragraph.pdf")(), range(6)))
            measure(
                Figure("agenda PDF, 20 items, cold (warm worker)", "ms", "<= 3 x floor"),
                timed(app.port, path, before=clear),
                timed(floor.port, "/paragraph.pdf"),
            )
            measure(
                Figure("agenda PDF, 20 items, stored (warm worker)", "ms", "<= 3 x floor"),
                timed(app.port, path),
                timed(floor.port, "/paragraph.pdf"),
            )

        fresh_app = fresh_floor = None
        if b.wanted("agenda") or b.wanted("calendar"):
            fresh_app = start("webinar_mgr:create_app()", "/healthz", fresh=True)
        if b.wanted("agenda"):
            # Two floors: one paragraph as the first request of a fresh floor worker that imports
            # WeasyPrint on that request, and of one that warmed WeasyPrint up when it started
            # (what the app's PDF warm-up does, if the app runs one at worker start).
            fresh_floor = start("bench.floor_app:create_app()", "/ping", fresh=True)
            warm_floor = start(
                "bench.floor_app:create_app()", "/ping", fresh=True, extra_env={"BENCH_FLOOR_WARM_UP": "1"}
            )
            agenda = f"/events/{b.ids['agenda']}/agenda.pdf"
            for floor_server, how in ((fresh_floor, "imports on request"), (warm_floor, "warmed at start")):
                measure(
                    Figure(
                        f"agenda PDF, cold, fresh worker (floor {how})",
                        "ms",
                        "<= 3 x floor",
                    ),
                    lambda: fresh_app.first_request(Client, agenda, before=clear),
                    lambda s=floor_server: s.first_request(Client, "/paragraph.pdf"),
                )
            print(
                "    a fresh worker's start (fork to app loaded), median: app "
                f"{statistics.median(fresh_app.starts) * 1000:.0f} ms, floor "
                f"{statistics.median(fresh_floor.starts) * 1000:.0f} ms, floor warmed up "
                f"{statistics.median(warm_floor.starts) * 1000:.0f} ms",
                flush=True,
            )

        if b.wanted("calendar"):
            n = b.ids["feed_events"]
            timed(app.port, "/calendar.ics")()  # the feed built once (stored, if the app stores it)
            measure(
                Figure(
                    f"/calendar.ics, {n:,} events, first request of a fresh worker",
                    "ms",
                    "<= 150 ms",
                ),
                lambda: fresh_app.first_request(Client, "/calendar.ics"),
                lambda: fresh_app.first_request(Client, "/healthz"),
            )
            measure(
                Figure(f"/calendar.ics, {n:,} events, warm worker", "ms", "<= 150 ms"),
                timed(app.port, "/calendar.ics"),
                healthz,
            )

        if b.wanted("mine"):
            cookies = login(app.port, "bench-ana@example.org", PASSWORD)
            measure(
                Figure("My registrations, 200 registrations", "ms", "- (queries constant: tests)"),
                timed(app.port, "/registrations/mine", cookies),
                healthz,
            )
            mine_query_count(b)

        if b.wanted("review"):
            cookies = login(app.port, "bench-cochair@example.org", PASSWORD)
            measure(
                Figure("review, 200 events x 500, whole period", "ms", "<= 300 ms"),
                timed(app.port, f"/review?{WHOLE_PERIOD}", cookies),
                healthz,
            )
            measure(
                Figure(
                    f"activity report PDF, one year ({b.ids['year_events']} events x 500), cold",
                    "ms",
                    "<= 1 s",
                ),
                timed(app.port, f"/review/activity-report.pdf?{ONE_YEAR}", cookies, before=clear),
                healthz,
            )
    finally:
        for s in servers:
            s.stop()
    if os.environ.get("BENCH_KEEP_LOGS"):
        print("gunicorn logs in", logs)
    else:
        shutil.rmtree(logs, ignore_errors=True)
