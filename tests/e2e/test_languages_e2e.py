"""The interface in each of the region's languages, in Chromium (issue 13): a participant and an
organiser of each language sign in, and a guest comes with only Accept-Language; on each main page
``<html lang>`` is the language's BCP 47 tag, the page weighs under 150 KB, and no English word of
the interface is visible outside names and data.

An "English word of the interface" is a word of the catalogue's English messages (messages.pot)
that the language's own catalogue never uses; names, titles, addresses, zone names and the
products kept in every language (Zoom, CSV, PDF...) do not count. These tests pass fully once the
catalogues are complete; until then they list the English they find.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.factories import make_event_row
from webinar_mgr.directory.models import Organisation
from webinar_mgr.extensions import db

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "webinar_mgr" / "translations"
LANGS = {"th": "th", "vi": "vi", "id": "id", "zh_Hans": "zh-Hans"}
MAX_PAGE_BYTES = 150 * 1024
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
KEPT = {"zoom", "teams", "csv", "xlsx", "pdf", "ics", "icalendar", "utc", "api", "url", "google", "outlook", "ok"}
DATA = re.compile(r"\S+@\S+|\bhttps?://\S+|\b[A-Z][A-Za-z_]+/[A-Za-z_/+-]+")


def _words(texts) -> set[str]:
    out: set[str] = set()
    for text in texts:
        out |= {w.lower() for w in WORD.findall(re.sub(r"%\(\w+\)[sd]|<[^>]+>", " ", text or ""))}
    return out


def _vocabulary(lang: str) -> set[str]:
    """English words of the interface that the catalogue of ``lang`` does not itself use."""
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        english = _words(m.id if isinstance(m.id, str) else " ".join(m.id) for m in read_po(f) if m.id)
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    used = _words((" ".join(m.string) if isinstance(m.string, (list, tuple)) else m.string) for m in catalog if m.id)
    return english - used - KEPT


# A time zone's option ("UTC+07:00 · Bangkok (Asia/Bangkok)"): a place name, data.
ZONE_OPTION = re.compile(r"^\s*UTC[+−±]\d\d:\d\d · ")


def _english(text: str, vocabulary: set[str], data_words: set[str]) -> list[str]:
    found = []
    for line in text.splitlines():
        if ZONE_OPTION.match(line):
            continue
        rest = DATA.sub(" ", line)
        words = [w for w in WORD.findall(rest) if w.lower() in vocabulary and w.lower() not in data_words]
        if words:
            found.append(f"{' '.join(words)!s}  <- {line.strip()[:100]}")
    return found


@pytest.fixture
def setting(app, make_user):
    org = Organisation(name="Kingdom of Thailand", sector="member_government", country_code="TH")
    db.session.add(org)
    db.session.commit()
    event = make_event_row(title="Safe migration and online recruitment", summary="A regional webinar.")
    users = {}
    for lang in LANGS:
        users[lang] = (
            make_user("participant", email=f"p-{lang}@example.org", name=f"Pat {lang}", language=lang),
            make_user("organiser", email=f"o-{lang}@example.org", name=f"Orla {lang}", language=lang),
        )
    data = _words([event.title, event.summary, org.name, app.config["ORGANISATION_NAME"]]) | {"pat", "orla"}
    data |= _words(app.config["LANGUAGES"].values())  # the switcher names each language in itself
    return event, users, data | set(LANGS) | {"hans"}


def _walk(page, base: str, paths: list[str], lang: str, data_words: set[str]) -> list[str]:
    problems = []
    vocabulary = _vocabulary(lang)
    for path in paths:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (lang, path, response and response.status)
        assert page.locator("html").get_attribute("lang") == LANGS[lang], (lang, path)
        size = len(response.body())
        if size > MAX_PAGE_BYTES:
            problems.append(f"{lang} {path}: {size // 1024} KB (over 150 KB)")
        text = page.locator("body").inner_text() + "\n" + page.title()
        problems += [f"{lang} {path}: {line}" for line in _english(text, vocabulary, data_words)]
    return problems


def _sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", "correct-horse-battery")
    page.locator("form.stacked button[type=submit], main form button[type=submit]").first.click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("lang", list(LANGS))
def test_signed_in_in_each_language_no_english_outside_names_and_data(app, live_server, browser, setting, lang):
    event, users, data_words = setting
    participant, organiser = users[lang]
    problems = []
    for user, paths in (
        (participant, ["/", "/events", f"/events/{event.id}", "/registrations/mine", "/commitments/mine", "/profile"]),
        (
            organiser,
            [f"/events/{event.id}", f"/events/{event.id}/edit", f"/events/{event.id}/invitations", "/directory/"],
        ),
    ):
        context = browser.new_context(locale="en-US", timezone_id="Asia/Bangkok")  # the profile decides
        page = context.new_page()
        _sign_in(page, live_server, user.email)
        problems += _walk(page, live_server, paths, lang, data_words)
        context.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", list(LANGS))
def test_guest_with_only_accept_language(app, live_server, browser, setting, lang):
    event, _users, data_words = setting
    header = {"th": "th-TH,th;q=0.9", "vi": "vi-VN,vi;q=0.9", "id": "id-ID,id;q=0.9", "zh_Hans": "zh-CN,zh;q=0.9"}
    context = browser.new_context(extra_http_headers={"Accept-Language": header[lang]}, timezone_id="Asia/Bangkok")
    page = context.new_page()
    problems = _walk(
        page,
        live_server,
        ["/", "/events", f"/events/{event.id}", f"/events/{event.id}/register", "/login"],
        lang,
        data_words,
    )
    context.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_footer_switcher_works_without_javascript(app, live_server, browser, setting):
    event, _users, _data = setting
    context = browser.new_context(java_script_enabled=False, locale="en-US", timezone_id="Asia/Bangkok")
    page = context.new_page()
    page.goto(f"{live_server}/events/{event.id}")
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#footer-language", "zh_Hans")
    page.locator("form.language-switcher button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/events/{event.id}") or f"/events/{event.id}?" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.goto(f"{live_server}/events")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"  # remembered (cookie)
    context.close()
