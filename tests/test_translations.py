"""The catalogues (issue 13): complete, no fuzzy entry, placeholders as in the source; and a
pseudo-locale walk that finds English on the main pages outside the catalogue.

``test_catalogue_is_complete`` fails until the translators have finished; it lists the entries.
The pseudo-locale test extracts the messages from the source as they are now (so a string added
today and wrapped in gettext counts as in the catalogue), gives every message a pseudo translation
"⟦...⟧", renders the main pages as a guest, a participant and an organiser under it, and reports
every visible Latin word outside "⟦...⟧" that is not a name or data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tests.factories import make_event_row
from tests.pseudolocale import WORD, english_outside_catalogue, extract_messages, pseudo  # noqa: F401 (a fixture)
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


# The pseudo-locale walk (tests/pseudolocale.py) -----------------------------------------------


def _data_words() -> set[str]:
    words: set[str] = set()
    for model, columns in ((Contact, ("name", "email")), (Organisation, ("name", "short_name"))):
        for row in db.session.query(model).all():
            for col in columns:
                words |= {w.lower() for w in WORD.findall(getattr(row, col) or "")}
    return words


@pytest.mark.usefixtures("pseudo")
def test_pseudo_locale_finds_no_english_outside_the_catalogue(app, client, make_user, login):
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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_compiles_without_errors(lang):
    """What `pybabel compile` (and so `make translations`) checks: for a language with one plural
    form, the form is checked against the singular, so it may not use a placeholder the singular
    lacks (the commitment reminder's "%(num)d days" once broke the Thai and Indonesian builds)."""
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _read(lang).check() if errors]
    assert problems == [], problems
