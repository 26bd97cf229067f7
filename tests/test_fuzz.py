"""Hostile input never gets a 5xx: every route of the URL map, with every query and form parameter
the views read, as a guest and as an organiser (and an administrator where an organiser is
refused), with NUL bytes, numbers beyond the database's INTEGER, negative numbers, 10,000
characters, invalid UTF-8, ``../`` and CR/LF.

Which parameters a view reads is found two ways: the names in the source (``request.args.get("x")``,
``request.form.getlist("x")``, ``as_int("x")``...) and the names a view actually asks for while it
runs (the app's parameter class is swapped for one that records each key read; WTForms asks for
every field of a submitted form). Each route gets every hostile value once in each of its
parameters: in request k, parameter j holds value (j + k) mod n, so a view refusing one value
early cannot hide another.

Bounded: about 1,400 requests (each route and parameter once per hostile value).
"""

from __future__ import annotations

import inspect
import re
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from tests import factories
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.auth import services as auth
from webinar_mgr.commitments import services as commitments
from webinar_mgr.commitments.models import Platform
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Organisation
from webinar_mgr.events import agenda
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations import feeds
from webinar_mgr.registrations.manage_links import make_manage_token
from webinar_mgr.registrations.models import CalendarFeed
from webinar_mgr.security import TOKEN, policy_of

SOURCE = Path(__file__).resolve().parent.parent / "webinar_mgr"
PASSWORD = "correct-horse-battery"
BAD_UTF8 = object()  # sent as the raw escapes %FF%FE%C0%AF

# Values that reach the views (a NUL never does: see test_control_characters_are_refused).
HOSTILE = {
    "huge": "99999999999999999999",
    "negative": "-1",
    "long": "x" * 10_000,
    "bad-utf8": BAD_UTF8,
    "traversal": "../../../etc/passwd",
    "unicode-digit": "²",
}
# Forms may hold line breaks (a textarea), so CR/LF reaches the views through forms only.
HOSTILE_FORM = {**HOSTILE, "crlf": "a\r\nBcc: x@example.org"}
HOSTILE_PATH = ("a\x00b", HOSTILE["long"], BAD_UTF8, HOSTILE["traversal"])
FIRST_ID_TOO_BIG = "2147483648"  # 2^31: fine for SQLite, beyond PostgreSQL's INTEGER
SKIP = {"static", "auth.logout"}
DESTRUCTIVE = re.compile(r"delete|revoke|cancel|decline|toggle|status|threshold|confirm|ignore|undo")


def _encode(value) -> str:
    return "%FF%FE%C0%AF" if value is BAD_UTF8 else quote(value, safe="")


def _encode_pairs(pairs) -> str:
    return "&".join(f"{quote(k, safe='')}={_encode(v)}" for k, v in pairs)


# Which parameters the views read ----------------------------------------------------------------

_NAME_READ = re.compile(
    r"""(?:\bargs|\bform)\.get(?:list)?\(\s*["']([\w-]+)["']|\b(?:_int_arg|as_int)\(\s*["']([\w-]+)["']"""
)


def names_in_source() -> dict[str, set[str]]:
    """Per module (events, directory...), the parameter names its code reads by name."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        module = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        for m in _NAME_READ.finditer(path.read_text(encoding="utf-8")):
            found[module].add(m.group(1) or m.group(2))
    return found


class Recorder:
    """Collects the keys views read from request.args / request.form (see ``recording``)."""

    keys: set[str] = set()


def recording(app):
    """Swap the app's parameter class for one that records each key read."""
    base = app.request_class.parameter_storage_class

    class RecordingParams(base):
        def __getitem__(self, key):
            Recorder.keys.add(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            Recorder.keys.add(key)
            return super().__contains__(key)

        def get(self, key, default=None, type=None):
            Recorder.keys.add(key)
            return super().get(key, default, type)

        def getlist(self, key, type=None):
            Recorder.keys.add(key)
            return super().getlist(key, type)

    app.request_class = type("RecordingRequest", (app.request_class,), {"parameter_storage_class": RecordingParams})


# A little of everything, so that ids and tokens reach real objects ------------------------------


def make_users(make_user) -> dict:
    return {
        "organiser": make_user("organiser", email="org@fuzz.example"),
        "admin": make_user("admin", email="admin@fuzz.example"),
        "participant": make_user("participant", email="ana@fuzz.example"),
    }


@pytest.fixture
def world(app, make_user):
    clock.freeze(factories.NOW)
    return build_world(make_users(make_user))


def build_world(users: dict) -> dict:
    organiser, participant = users["organiser"], users["participant"]
    event = factories.make_event_row(title="Fuzzed webinar")
    item = factories.add_item(organiser, event, 10, 0, 30, "Opening")
    speaker = agenda.add_speaker(event, item, agenda.SpeakerInput(name="Somchai"), actor=organiser)
    org = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(org)
    db.session.commit()
    contact = directory.get_or_create_contact("ana@fuzz.example", "Ana Cruz")
    reg = factories.register(event, "ana@fuzz.example", "Ana Cruz", user=participant, contact=contact, member=org)
    guest = directory.get_or_create_contact("guest@fuzz.example", "Guest Person")
    inv = Invitation(event_id=event.id, contact_id=guest.id, category="member", state="sent")
    db.session.add(inv)
    record = AttendanceRecord(event_id=event.id, name="Walk In", email="walk@fuzz.example", minutes=30)
    db.session.add(record)
    db.session.commit()
    commitment = commitments.pledge(
        reg, commitments.PledgeData(platforms=["facebook"], description="A post", public=True)
    )
    mail.queue("ana@fuzz.example", "Hello", body_text="Hello")
    db.session.commit()
    message = db.session.scalar(sa.select(OutboxMessage.id))
    platform = db.session.scalar(sa.select(Platform.id))
    ids = {
        "event_id": event.id,
        "item_id": item.id,
        "speaker_id": speaker.id,
        "registration_id": reg.id,
        "reg_id": reg.id,
        "invitation_id": inv.id,
        "commitment_id": commitment.id,
        "contact_id": contact.id,
        "organisation_id": org.id,
        "user_id": participant.id,
        "message_id": message,
        "platform_id": platform,
        "kind_id": factories.webinar_kind().id,
        "record_id": record.id,
    }
    tokens = {
        "invitations": invitations.make_token(inv),
        "registrations.calendar_feed": feeds.feed_for("ana@fuzz.example").token,
        "registrations": make_manage_token(reg),
        "commitments.pledge_by_link": make_manage_token(reg),
        "commitments.update_by_link": commitments.make_update_token(commitment),
        "auth.reset_password": auth.make_reset_token(participant),
    }
    db.session.commit()
    strings = {"upload_id": "no-such-upload", "name": "attendance", "table": "sector", "fmt": "csv"}
    return {"users": users, "ids": ids, "tokens": tokens, "strings": strings}


def _token_for(endpoint: str, tokens: dict) -> str:
    return tokens.get(endpoint) or tokens.get(endpoint.split(".")[0]) or "no-such-token"


def path_values(rule, world) -> dict:
    values = {}
    for arg in rule.arguments:
        if arg == "token":
            values[arg] = _token_for(rule.endpoint, world["tokens"])
        elif arg in world["ids"] or isinstance(rule._converters[arg], IntegerConverter):
            values[arg] = world["ids"].get(arg, 1)
        else:
            values[arg] = world["strings"].get(arg, "x")
    return values


def build(rule, values) -> str:
    return rule.build(values, append_unknown=False)[1]


def signed_in(app, user):
    c = app.test_client()
    resp = c.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302
    return c


def rules_in_order(app):
    """GET before POST and the destructive POSTs last, so that objects live as long as possible."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP]
    return sorted(rules, key=lambda r: (bool(DESTRUCTIVE.search(r.endpoint)), r.rule))


class Run:
    def __init__(self):
        self.requests = 0
        self.problems: list[str] = []

    def send(self, client, method, url, *, query: str = "", form: str | None = None, expect=None, label=""):
        kwargs = {"headers": {"Accept": "text/html"}}
        if query:
            kwargs["query_string"] = query
        if form is not None:
            kwargs["data"] = form.encode("latin-1")
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        self.requests += 1
        try:
            resp = client.open(url, method=method, **kwargs)
        except Exception as exc:  # TESTING propagates what would be a 500
            where = traceback.extract_tb(exc.__traceback__)
            mine = [f for f in where if "/webinar_mgr/" in f.filename] or where
            spot = f"{Path(mine[-1].filename).name}:{mine[-1].lineno}"
            self.problems.append(f"{method} {url[:120]} {label} -> {type(exc).__name__} at {spot}: {str(exc)[:120]}")
            return None
        status = resp.status_code
        if status >= 500 or (expect is not None and status not in expect):
            self.problems.append(f"{method} {url[:120]} {label} -> {status}")
        return resp


def names_read_by(view) -> set[str]:
    """The names a view's own source reads (and the same module's helpers it calls)."""
    fn = inspect.unwrap(view)
    module = sys.modules[fn.__module__]
    sources, todo, done = [], [fn], set()
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        try:
            source = inspect.getsource(f)
        except OSError:  # the file changed since it was imported: the module's names still apply
            continue
        sources.append(source)
        for name in re.findall(r"\b(_\w+)\(", source):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                todo.append(helper)
    return {m.group(1) or m.group(2) for source in sources for m in _NAME_READ.finditer(source)}


def discover(app, client, world, run: Run, persona: str, admitted) -> list:
    """[((rule, method), the keys its view reads)]: the keys seen at run time (a submitted form:
    WTForms asks for every field) and those named in the view's source."""
    found = []
    for rule in rules_in_order(app):
        view = app.view_functions[rule.endpoint]
        if not admitted(policy_of(view)):
            continue
        url = build(rule, path_values(rule, world))
        for method in sorted(set(rule.methods) & {"GET", "POST"}):
            Recorder.keys = set()
            run.send(client, method, url, form="_probe=1" if method == "POST" else None, label=persona)
            found.append(((rule, method), (Recorder.keys | names_read_by(view)) - {"csrf_token", "_probe"}))
    return found


def rotate(client, run: Run, rule, method, url, names, label) -> None:
    """Every hostile value once in every key: in request k, key j holds value (j + k) mod n."""
    table = list((HOSTILE_FORM if method == "POST" else HOSTILE).items())
    for k in range(len(table) if names else 0):
        pairs = [(key, table[(j + k) % len(table)][1]) for j, key in enumerate(sorted(names))]
        where = {"query": _encode_pairs(pairs)} if method == "GET" else {"form": _encode_pairs(pairs)}
        run.send(client, method, url, label=f"{label} {table[k][0]}...", **where)


def fuzz_persona(app, client, world, run: Run, persona: str, *, admitted) -> set[str]:
    keys = discover(app, client, world, run, persona, admitted)
    for (rule, method), names in keys:
        values = path_values(rule, world)
        rotate(client, run, rule, method, build(rule, values), names, persona)
        # The path's own values: an id beyond INTEGER does not match the route (404, whatever the
        # method: one request); the other arguments get the hostile strings.
        for arg, converter in rule._converters.items():
            is_int = isinstance(converter, IntegerConverter)
            if is_int and method != min(rule.methods & {"GET", "POST"}):
                continue
            marker = 987654321 if is_int else "PLACEHOLDER"
            template = build(rule, {**values, arg: marker})
            for value in (FIRST_ID_TOO_BIG,) if is_int else HOSTILE_PATH:
                hostile_url = template.replace(str(marker), _encode(value).replace("%2F", "/"))
                expect = {404} if is_int else None
                run.send(client, method, hostile_url, expect=expect, label=f"{persona} path {arg}")
    return set().union(*(names for _key, names in keys))


def test_hostile_input_never_gets_a_5xx(app, world):
    recording(app)
    run = Run()
    started, cpu = time.perf_counter(), time.process_time()
    org_user = world["users"]["organiser"]
    personas = {
        "guest": (app.test_client(), lambda p: p.allows(None)),
        "organiser": (signed_in(app, org_user), lambda p: p.allows(org_user)),
        # an administrator holds every role: only the pages an organiser may not open
        "admin": (signed_in(app, world["users"]["admin"]), lambda p: not p.allows(org_user)),
    }
    seen = set()
    for persona, (client, admitted) in personas.items():
        seen |= fuzz_persona(app, client, world, run, persona, admitted=admitted)
    # The recorder works (else the fuzzing above proves little).
    assert {"page", "year", "kind", "q", "event", "member", "from", "to", "last", "ids", "name", "title"} <= seen
    # A name the source reads that no view asked for here (read by a helper in another file, or
    # only for a bearer token): sent to every route of its module all the same.
    for module, names in names_in_source().items():
        left = names - seen
        for rule in rules_in_order(app) if left else ():
            view = app.view_functions[rule.endpoint]
            if view.__module__.split(".")[1] != module:
                continue
            persona = next((p for p in ("organiser", "admin", "guest") if personas[p][1](policy_of(view))), None)
            for method in sorted(set(rule.methods) & {"GET", "POST"}) if persona else ():
                url = build(rule, path_values(rule, world))
                rotate(personas[persona][0], run, rule, method, url, left, f"{persona} ({module})")
        seen |= left
    elapsed = time.perf_counter() - started
    print(f"\n{run.requests} requests in {elapsed:.1f} s ({time.process_time() - cpu:.1f} s of CPU)")
    assert run.problems == [], "\n".join(run.problems[:60])


# The door: control characters and ids beyond the database -------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/events?kind=%00",
        "/events?kind=a%0d%0ab",
        "/events?q%00=1",
        "/calendar/%00.ics",
        "/i/abc%00def",
        "/events/1%00",
    ],
)
def test_control_characters_in_the_address_are_a_400(client, url):
    resp = client.get(url)
    assert resp.status_code == 400
    assert "control character" in resp.get_data(as_text=True)


def test_a_nul_in_a_form_is_a_400_but_what_people_paste_is_not(client, make_user):
    user = make_user("participant", email="nul@example.org")
    resp = client.post("/login", data={"email": "a\x00b@example.org", "password": "x"})
    assert resp.status_code == 400 and "NUL character" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"email\x00": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    # line breaks, tabs, a form feed pasted from a PDF: cleaned by the services, not refused here
    resp = client.post("/password/forgot", data={"email": "a\r\nb@example.org\t\x0c"})
    assert resp.status_code < 500 and "NUL character" not in resp.get_data(as_text=True)
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302


def test_a_form_part_without_a_name_is_no_500(client):
    """Schemathesis sent a multipart part with no name (werkzeug gives it the key None): the input
    checks must take it as an empty name, not fail."""
    body = (
        b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nx@example.org\r\n--b--\r\n'
    )
    resp = client.post("/login", data=body, content_type="multipart/form-data; boundary=b")
    assert resp.status_code < 500
    nul = body.replace(b"\r\n\r\nvalue", b"\r\n\r\nva\x00lue")
    resp = client.post("/login", data=nul, content_type="multipart/form-data; boundary=b")
    assert resp.status_code == 400 and "NUL character" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    ["/events/99999999999999999999", "/events/2147483648", "/review/events/2147483648", "/commitments/2147483648"],
)
def test_ids_beyond_the_database_are_a_404(client, organiser, login, url):
    login(organiser)
    assert client.get(url).status_code == 404


def test_id_at_the_limit_still_reaches_the_view(client):
    resp = client.get("/events/2147483647")
    assert resp.status_code == 404 and "event" in resp.get_data(as_text=True).lower()


@pytest.mark.parametrize(
    "query",
    ["page=99999999999999999999", "page=2147483648", "page=-1", "page=²", "year=-1", "year=10000", "year=0"],
)
def test_numbers_in_the_query_never_break_the_events_list(client, query):
    resp = client.get(f"/events?{query}")
    assert resp.status_code in (200, 400)
    if query.startswith("year"):
        assert resp.status_code == 400 and "year" in resp.get_data(as_text=True)


def test_huge_page_is_the_first_page(client, app):
    clock.freeze(factories.NOW)
    factories.make_event_row(title="Listed event")
    resp = client.get("/events?page=99999999999999999999&when=all")
    assert resp.status_code == 200 and "Listed event" in resp.get_data(as_text=True)


# A GET changes nothing (mail scanners and link previews follow links) ----------------------------

#: The tables a GET may write, and why that is acceptable (docs/security.md, "A GET changes nothing").
GET_WRITES_ALLOWED: dict[str, str] = {
    "audit_log": "a download of personal data is audited (organisers' and reviewers' exports only)",
    "rendered_pdfs": "the agenda PDF's cache: the same content gives the same row",
    "rendered_reports": "the activity report's cache, likewise",
    "calendar_feeds": "a personal calendar's secret address, made once per email on first use",
    "platforms": "the default platforms, put in an empty table on first use",
    "event_kinds": "the default kinds of event, put in an empty table on first use",
    "calendar_entries": "an event's calendar entry kept ready, built on the first read after a change (issue 19)",
    "calendar_zones": "a time zone's calendar definition kept ready, likewise",
}


class Writes:
    """The INSERT / UPDATE / DELETE statements an engine runs inside a ``with`` block."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.statements.append(" ".join(statement.split())[:90])

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._before)


def walk_gets(app, users: dict, world: dict | None) -> dict[str, set[str]]:
    """Every GET route as each persona that may call it: endpoint -> the tables it wrote."""
    writers: dict[str, set[str]] = defaultdict(set)
    clients = {"guest": (app.test_client(), None)}
    clients.update({role: (signed_in(app, user), user) for role, user in users.items()})
    fallback = {"ids": {}, "tokens": {}, "strings": {}}
    for rule in rules_in_order(app):
        if "GET" not in rule.methods:
            continue
        view = app.view_functions[rule.endpoint]
        url = build(rule, path_values(rule, world or fallback))
        for persona, (client, user) in clients.items():
            if not policy_of(view).allows(user) or (persona == "admin" and policy_of(view).allows(users["organiser"])):
                continue  # an administrator holds every role: only the pages an organiser may not open
            with Writes(db.engine) as writes:
                resp = client.get(url)
            assert resp.status_code < 500, url
            for statement in writes.statements:
                writers[rule.endpoint].add(re.sub(r"^(INSERT INTO|UPDATE|DELETE FROM) (\w+).*", r"\2", statement))
    return writers


def test_no_get_writes_except_the_listed(app, make_user):
    """First on empty tables (defaults created on first use), then with a little of everything,
    with the personal calendars not yet made (the manage page makes one on first view)."""
    clock.freeze(factories.NOW)
    users = make_users(make_user)
    writers = walk_gets(app, users, None)
    world = build_world(users)
    db.session.execute(sa.delete(CalendarFeed))
    db.session.commit()
    for endpoint, tables in walk_gets(app, users, world).items():
        writers[endpoint] |= tables
    print("\n".join(f"{k}: {sorted(v)}" for k, v in sorted(writers.items())))
    assert set().union(*writers.values()) <= set(GET_WRITES_ALLOWED), writers
    assert all("export" in k for k, tables in writers.items() if "audit_log" in tables), writers
    personal = {r.endpoint for r in app.url_map.iter_rules() if policy_of(app.view_functions[r.endpoint]).kind == TOKEN}
    first_use = {"calendar_feeds", "platforms", "event_kinds", "calendar_entries", "calendar_zones"}
    assert all(writers[k] <= first_use for k in personal if k in writers), writers
    assert "invitations.open_link" not in writers
