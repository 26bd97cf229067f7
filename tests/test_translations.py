"""The catalogues (issue 13): complete, no fuzzy entry, placeholders as in the source; and a
pseudo-locale walk that finds English on the main pages outside the catalogue.

``test_catalogue_is_complete`` fails until the translators have finished; it lists the entries.
The pseudo-locale test extracts the messages from the source as they are now (so a string added
today and wrapped in gettext counts as in the catalogue), gives every message a pseudo translation
"⟦...⟧", renders the main pages as a guest, a participant and an organiser under it, and reports
every visible Latin word outside "⟦...⟧" that is not a name or data.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from tests.factories import make_event_row
from webinar_mgr import i18n
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "webinar_mgr" / "translations"
LANGUAGES = ["id", "th", "vi", "zh_Hans"]
SHOWN = 25  # entries listed per problem in a failure message


def _read(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _msgid(message) -> str:
    return message.id[0] if isinstance(message.id, (list, tuple)) else message.id


def catalogue_problems(catalog: Catalog, template: Catalog | None = None) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {"untranslated": [], "fuzzy": [], "placeholders": [], "missing": []}
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(strings):
            problems["untranslated"].append(_msgid(message))
        elif message.fuzzy:
            problems["fuzzy"].append(_msgid(message))
        why = i18n.placeholder_problem(message)
        if why:
            problems["placeholders"].append(f"{_msgid(message)!r}: {why}")
    if template is not None:
        have = {m.id if not isinstance(m.id, list) else tuple(m.id) for m in catalog if m.id}
        for m in template:
            key = tuple(m.id) if isinstance(m.id, list) else m.id
            if m.id and key not in have:
                problems["missing"].append(_msgid(m))
    return problems


def _report(lang: str, problems: dict[str, list[str]]) -> str:
    lines = [f"catalogue {lang}:"]
    for kind, entries in problems.items():
        if entries:
            lines.append(f"  {len(entries)} {kind}:")
            lines += [f"    - {e}" for e in entries[:SHOWN]]
            if len(entries) > SHOWN:
                lines.append(f"    ... and {len(entries) - SHOWN} more")
    return "\n".join(lines)


def test_every_offered_language_has_a_catalogue(app):
    for code in app.config["LANGUAGES"]:
        if code != app.config["BABEL_DEFAULT_LOCALE"]:
            assert (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").exists(), code


def extract_messages(directory: Path) -> Catalog:
    """The messages of the source as it is now (templates, code, forms' lazy labels), extracted as
    `make translations` does: not the committed messages.pot, which may lag behind the code."""
    pot = directory / "current.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def current_messages(tmp_path_factory) -> Catalog:
    return extract_messages(tmp_path_factory.mktemp("pot"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_is_complete(lang, current_messages):
    """Untranslated, fuzzy, broken placeholders, and messages of the source the catalogue lacks
    (extract and update: `make translations`). Fails, listing the entries, until the work is done."""
    problems = catalogue_problems(_read(lang), current_messages)
    assert not any(problems.values()), _report(lang, problems)


def test_the_check_finds_each_kind_of_problem():
    catalog = Catalog(locale="th")
    catalog.add("Sign in", "เข้าสู่ระบบ")
    catalog.add("Events", "")
    catalog.add("Review", "ทบทวน", flags=["fuzzy"])
    catalog.add("Invitation: %(title)s", "คำเชิญ: %(ชื่อ)s")
    catalog.add(("%(n)d guest", "%(n)d guests"), ("ผู้เข้าร่วม %(n)d คน",))
    template = Catalog()
    template.add("Sign in")
    template.add("Audit log")
    problems = catalogue_problems(catalog, template)
    assert problems["untranslated"] == ["Events"]
    assert problems["fuzzy"] == ["Review"]
    assert len(problems["placeholders"]) == 1 and "Invitation" in problems["placeholders"][0]
    assert problems["missing"] == ["Audit log"]


# The pseudo-locale walk ------------------------------------------------------------------------

OPEN, CLOSE = "⟦", "⟧"
# Names, products and codes that stay as they are in every language.
KEPT = {
    "UTC", "GMT", "CSV", "XLSX", "PDF", "ICS", "iCalendar", "Zoom", "Teams", "Webex", "API", "URL", "OK",
    "Bali", "Process", "English", "Bahasa", "Indonesia", "Ti", "ng", "Vi", "t", "min", "h",
    "https", "http", "www", "org", "example", "com",
}  # fmt: skip
# Time zone identifiers (Asia/Bangkok) are data.
ZONE = re.compile(r"\b[A-Z][A-Za-z_]+/[A-Za-z_/+-]+\b")
# An address, with the role code the audit's stored summaries put after it ("a@b.org (organiser)").
EMAIL = re.compile(r"\S+@\S+(?: \([a-z_]+\))?")
URLISH = re.compile(r"\b\w+://\S+|/[\w./?=&%-]+")
# Codes are data: ISO country codes (TH), identifiers (annual_meeting).
CODE = re.compile(r"\b[A-Z]{2}\b|\b[a-z]+(?:_[a-z]+)+\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")


def pseudo_catalogue(directory: Path, lang: str = "th") -> int:
    """Extract the messages from the source now and write a catalogue whose every entry is its
    source wrapped in ⟦ ⟧ (placeholders kept), as ``lang``; returns the number of messages."""
    template = extract_messages(directory)
    catalog = Catalog(locale=lang)
    for m in template:
        if not m.id:
            continue
        if isinstance(m.id, (list, tuple)):
            catalog.add(tuple(m.id), (OPEN + m.id[1] + CLOSE,), flags=m.flags)
        else:
            catalog.add(m.id, OPEN + m.id + CLOSE, flags=m.flags)
    po = directory / lang / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    with po.open("wb") as f:
        write_po(f, catalog)
    return len(catalog)


class _Visible(HTMLParser):
    """The text a reader sees or hears: text nodes (not script/style) and the attributes read out
    (placeholder, title, aria-label, alt, the value of buttons)."""

    SKIP = {"script", "style", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        attrs = dict(attrs)
        for name in ("placeholder", "title", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.parts.append(data)


def _strip_translated(text: str) -> str:
    previous = None
    while previous != text:  # innermost first: a translated label inside a translated sentence
        previous = text
        text = re.sub(OPEN + "[^" + OPEN + CLOSE + "]*" + CLOSE, " ", text)
    return text


def english_outside_catalogue(html: str, data_words: set[str]) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    # One text: a message may hold markup (<code>, <a>), which splits it into several parts.
    text = _strip_translated("\n".join(" ".join(p.split()) for p in parser.parts))
    found = []
    for line in text.split("\n"):
        rest = CODE.sub(" ", EMAIL.sub(" ", URLISH.sub(" ", ZONE.sub(" ", line))))
        words = [w for w in WORD.findall(rest) if w not in KEPT and w.lower() not in data_words]
        if words:
            found.append(line.strip()[:120])
    return found


@pytest.fixture
def pseudo(app, tmp_path):
    count = pseudo_catalogue(tmp_path)
    assert count > 500
    i18n.compile_catalogues(tmp_path, force=True)
    cfg = app.extensions["babel"]
    cfg.translation_directories = [str(tmp_path)]
    cfg.instance.domain_instance.cache.clear()
    yield
    cfg.translation_directories = [str(TRANSLATIONS)]
    cfg.instance.domain_instance.cache.clear()


def _data_words() -> set[str]:
    words: set[str] = set()
    for model, columns in ((Contact, ("name", "email")), (Organisation, ("name", "short_name"))):
        for row in db.session.query(model).all():
            for col in columns:
                words |= {w.lower() for w in WORD.findall(getattr(row, col) or "")}
    return words


def test_pseudo_locale_finds_no_english_outside_the_catalogue(app, client, make_user, login, pseudo):
    org = Organisation(name="Kingdom of Thailand", sector="member_government", country_code="TH")
    db.session.add(org)
    db.session.commit()
    event = make_event_row(title="Safe migration and online recruitment", summary="A regional webinar.")
    organiser = make_user("organiser", email="org@example.org", name="Orla Quist", language="th")
    participant = make_user("participant", email="pat@example.org", name="Pat Nguyen", language="th")
    admin = make_user("admin", email="ada@example.org", name="Ada Lovel", language="th")
    data = _data_words() | {w.lower() for w in WORD.findall(f"{event.title} {event.summary}")}
    data |= {"orla", "quist", "pat", "nguyen", "ada", "lovel"}  # the users' names
    data |= {w.lower() for w in WORD.findall(app.config["ORGANISATION_NAME"])}
    pages = {
        "guest": ["/", "/events", f"/events/{event.id}", f"/events/{event.id}/register", "/login"],
        participant: ["/registrations/mine", "/commitments/mine", "/profile"],
        organiser: [
            f"/events/{event.id}",
            f"/events/{event.id}/edit",
            f"/events/{event.id}/invitations",
            f"/events/{event.id}/registrations",
            "/directory/",
            "/review",
            "/audit/",
            "/commitments",
            f"/events/{event.id}/translations?language=th",
            f"/events/{event.id}/attendance",
            "/directory/contacts/new",
            "/directory/organisations",
            "/directory/import",
            "/events/new",
        ],
        admin: ["/admin/users", "/admin/outbox/", "/events/settings"],
    }
    leaks: list[str] = []
    for who, paths in pages.items():
        if who == "guest":
            client.set_cookie("lang", "th")
        else:
            client.post("/logout")
            login(who)
        for path in paths:
            resp = client.get(path, follow_redirects=True)
            assert resp.status_code == 200, (who, path, resp.status_code)
            for text in english_outside_catalogue(resp.get_data(as_text=True), data):
                leaks.append(f"{path} ({'guest' if who == 'guest' else who.email}): {text}")
    assert not leaks, f"{len(leaks)} texts with English outside the catalogue:\n" + "\n".join(leaks)
