"""Languages (issue 13): which language a page is in (profile, switcher cookie, Accept-Language),
<html lang>, the footer's switcher, unknown codes, catalogues compiled at start (a broken
placeholder shows English), mails in the recipient's language, and the one date format (issue 16)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from flask_babel import force_locale, gettext
from markupsafe import escape

from tests.factories import NOW, add_item, make_event_row, registrant_data
from webinar_mgr import clock, i18n
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Contact
from webinar_mgr.events import settings
from webinar_mgr.events import translations as event_translations
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations import services as registrations

THAI = re.compile(r"[\u0e00-\u0e7f]")


def use_catalogues(app, directory: Path) -> None:
    """Point the app's translations at ``directory`` (compiled first), as create_app does."""
    i18n.compile_catalogues(directory, force=True)
    cfg = app.extensions["babel"]
    cfg.translation_directories = [str(directory)]
    cfg.instance.domain_instance.cache.clear()


def write_catalogue(directory: Path, lang: str, entries: dict[str, str]) -> Path:
    catalog = Catalog(locale=lang)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    path = directory / lang / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog)
    return path


@pytest.fixture
def thai_catalogue(app, tmp_path):
    """A small Thai catalogue of this test's own (the translators' one may be unfinished)."""
    write_catalogue(
        tmp_path,
        "th",
        {
            "Sign in": "เข้าสู่ระบบ",
            "Invitation: %(title)s": "คำเชิญ: %(title)s",
            "Details: %(url)s": "รายละเอียด: %(url)s",
            "Registration confirmed: %(title)s": "ยืนยันการลงทะเบียน: %(title)s",
            # a translator's slip: the placeholder's name is translated; English must be shown
            "Times are shown in %(zone)s.": "เวลาแสดงใน %(เขต)s",
        },
    )
    write_catalogue(tmp_path, "vi", {"Registration confirmed: %(title)s": "Xác nhận đăng ký: %(title)s"})
    use_catalogues(app, tmp_path)
    yield tmp_path
    use_catalogues(app, Path(app.root_path) / "translations")


def lang_of(page: str) -> str:
    return re.search(r'<html[^>]* lang="([^"]+)"', page).group(1)


# Choosing the language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("th", "th"),
        ("th-TH", "th"),
        ("vi-VN", "vi"),
        ("id", "id"),
        ("in", "id"),
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh_Hans", "zh_Hans"),
        ("zh-Hans-HK", "zh_Hans"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("km", None),
        ("", None),
        (None, None),
        ("../../etc", None),
        ("x" * 100, None),
        ("th;q=1", None),
    ],
)
def test_language_tags_name_an_offered_language_or_none(app, tag, expected):
    assert i18n.normalise_language(tag) == expected


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("th-TH,th;q=0.9,en;q=0.5", "th"),
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh-TW,vi;q=0.5", "vi"),  # Traditional is not offered: the next choice
        ("km-KH,km;q=0.9", "en"),  # not offered: English
        ("xx-garbage;;q=abc", "en"),
        ("", "en"),
    ],
)
def test_guest_gets_the_browsers_language_and_html_lang_in_bcp47(client, accept, lang):
    resp = client.get("/login", headers={"Accept-Language": accept})
    assert resp.status_code == 200
    assert lang_of(resp.get_data(as_text=True)) == lang


def test_the_switcher_remembers_the_choice_in_a_cookie_and_goes_back(client):
    page = client.get("/login", headers={"Accept-Language": "th"}).get_data(as_text=True)
    assert 'action="/language"' in page and 'name="language"' in page and "Tiếng Việt" in page
    resp = client.post("/language", data={"language": "vi", "next": "/events/"})
    assert resp.status_code == 303 and resp.location.endswith("/events/")
    assert "lang=vi" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    # the cookie beats Accept-Language
    assert lang_of(client.get("/login", headers={"Accept-Language": "th"}).get_data(as_text=True)) == "vi"


def test_the_switcher_refuses_an_unknown_language_with_a_clear_message(client):
    resp = client.post("/language", data={"language": "klingon", "next": "/events/"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "klingon" in body and "not one of the languages offered" in body and "Bahasa Indonesia" in body
    assert "Set-Cookie" not in resp.headers or "lang=" not in resp.headers.get("Set-Cookie", "")


def test_the_switcher_never_redirects_elsewhere(client):
    resp = client.post("/language", data={"language": "th", "next": "https://evil.example/"})
    assert resp.status_code == 303 and "evil" not in resp.location


def test_an_unknown_cookie_falls_back_without_breaking(client):
    client.set_cookie("lang", "xx-YY")
    resp = client.get("/login", headers={"Accept-Language": "id"})
    assert resp.status_code == 200 and lang_of(resp.get_data(as_text=True)) == "id"
    client.set_cookie("lang", "../../../etc/passwd")
    assert lang_of(client.get("/login").get_data(as_text=True)) == "en"


def test_signed_in_the_profile_decides_and_the_switcher_changes_the_profile(client, make_user, login):
    user = make_user("participant", language="th")
    login(user)
    assert lang_of(client.get("/profile", headers={"Accept-Language": "vi"}).get_data(as_text=True)) == "th"
    client.post("/language", data={"language": "zh_Hans", "next": "/profile"})
    db.session.expire_all()
    assert db.session.get(type(user), user.id).language == "zh_Hans"
    assert lang_of(client.get("/profile").get_data(as_text=True)) == "zh-Hans"


def test_a_profile_with_an_unknown_language_shows_english(client, make_user, login):
    user = make_user("participant")
    user.language = "tlh"  # a value left by an old version or a hand-edited row
    db.session.commit()
    login(user)
    resp = client.get("/profile")
    assert resp.status_code == 200 and lang_of(resp.get_data(as_text=True)) == "en"


def test_the_profile_refuses_a_language_not_offered(client, make_user, login):
    user = make_user("participant")
    login(user)
    resp = client.post("/profile", data={"name": "A", "timezone": "Asia/Bangkok", "language": "tlh"})
    assert resp.status_code in (200, 400, 422)
    assert "“tlh” is not one of the languages offered" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).language == "en"


# Catalogues -------------------------------------------------------------------------------------


def test_a_broken_placeholder_shows_english_and_the_page_works(app, client, thai_catalogue):
    problems = i18n.compile_catalogues(thai_catalogue, force=True)
    assert any("Times are shown in" in p for p in problems)
    resp = client.get("/login", headers={"Accept-Language": "th"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "เข้าสู่ระบบ" in page  # the good entry is used
    assert "Times are shown in" in page  # the broken one is English


def test_a_stale_mo_is_compiled_again_and_a_fresh_one_left_alone(tmp_path):
    po = write_catalogue(tmp_path, "th", {"Sign in": "เข้าสู่ระบบ"})
    i18n.compile_catalogues(tmp_path)
    mo = po.with_suffix(".mo")
    assert mo.exists()
    before = mo.stat().st_mtime_ns
    i18n.compile_catalogues(tmp_path)
    assert mo.stat().st_mtime_ns == before


def test_placeholders_are_compared_by_name_and_kind():
    assert i18n.placeholders("%(n)d of %(total)d, 100%%") == ["%(n)d", "%(total)d"]
    assert i18n.placeholders("%s and %(x)s") == ["%(x)s", "%s"]


# Mails in the recipient's language -------------------------------------------------------------


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


def _invite(contact: Contact, event) -> None:
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="member")
    db.session.add(inv)
    db.session.commit()
    invitations.request_send(event.id, actor=None, ids=[inv.id])
    invitations.send_requested()
    mail.deliver_due()


def test_a_thai_contact_gets_a_thai_invitation_and_an_english_one_english(app, mailbox, frozen, thai_catalogue):
    event = make_event_row(audience="invitation")
    somchai = Contact(name="Somchai P.", email="somchai@example.go.th", timezone="Asia/Bangkok", language="th")
    ana = Contact(name="Ana Cruz", email="ana@example.org", timezone="Asia/Manila")
    db.session.add_all([somchai, ana])
    db.session.commit()
    _invite(somchai, event)
    _invite(ana, event)
    thai = mailbox.to("somchai@example.go.th")[0]
    assert str(thai["Subject"]) == f"คำเชิญ: {event.title}"
    body = thai.get_body(("plain",)).get_content()
    assert THAI.search(body)  # the date at least: Thai month and weekday names
    english = mailbox.to("ana@example.org")[0]
    assert str(english["Subject"]) == f"Invitation: {event.title}"
    assert not THAI.search(english.get_body(("plain",)).get_content())


def test_a_guest_registering_in_vietnamese_gets_vietnamese_mail(app, client, mailbox, frozen, thai_catalogue):
    event = make_event_row(audience="open")
    client.set_cookie("lang", "vi")
    resp = client.get(f"/events/{event.id}/register")
    assert resp.status_code == 200 and lang_of(resp.get_data(as_text=True)) == "vi"
    with app.test_request_context(headers={"Cookie": "lang=vi"}):
        reg = registrations.register(event.id, registrant_data(email="lan@example.vn"))
    assert reg.language == "vi"
    mail.deliver_due()
    msg = mailbox.to("lan@example.vn")[0]
    assert str(msg["Subject"]) == f"Xác nhận đăng ký: {event.title}"
    raw = message_from_bytes(msg.as_bytes())
    calendars = [p for p in raw.walk() if p.get_content_type() == "text/calendar"]
    assert calendars, "a confirmation carries its calendar entry"


def test_recipient_language_takes_the_first_offered(app):
    assert i18n.recipient_language(None, "tlh", "th", "vi") == "th"
    assert i18n.recipient_language(None, "") == "en"


# Dates: one format, the zone named; numbers and lists by locale ---------------------------------


def test_one_format_in_every_language_with_the_zone_named(app):
    moment = datetime(2026, 12, 23, 7, 0, tzinfo=UTC)
    with app.test_request_context():
        for lang in ("en", "th", "vi", "id", "zh_Hans"):
            with force_locale(lang):
                text = i18n.format_in_zone(moment, "Asia/Bangkok")
                assert "(UTC+07)" in text and "2026" in text, (lang, text)  # Gregorian year, even in Thai
                assert "14" in text
        with force_locale("th"):
            assert THAI.search(i18n.format_in_zone(moment, "Asia/Bangkok"))
            assert "2569" not in i18n.format_in_zone(moment, "Asia/Bangkok")  # no Buddhist era alone
        assert i18n.format_range(moment, moment.replace(hour=8, minute=30), "Asia/Bangkok").endswith(
            "14:00–15:30 (UTC+07)"
        )


def test_numbers_and_lists_follow_the_locale(app):
    with app.test_request_context():
        with force_locale("id"):
            assert i18n.format_number(1234.5) == "1.234,5"
        with force_locale("en"):
            assert i18n.format_list(["A", "B", "C"]) == "A, B, and C"
        with force_locale("zh_Hans"):
            assert i18n.format_list(["甲", "乙", "丙"]) == "甲、乙和丙"


def test_contact_language_is_stored(app):
    c = Contact(name="X", email="x@example.org", language="th")
    db.session.add(c)
    db.session.commit()
    assert db.session.scalar(sa.select(Contact.language).where(Contact.email == "x@example.org")) == "th"


# The directory: a contact's language (form and CSV) ---------------------------------------------


def test_contact_form_and_csv_take_a_language_and_refuse_one_not_offered(client, organiser, login):
    login(organiser)
    resp = client.post(
        "/directory/contacts/new", data={"name": "Lan Nguyen", "email": "lan@example.vn", "language": "vi-VN"}
    )
    assert resp.status_code == 302
    assert db.session.scalar(sa.select(Contact.language).where(Contact.email == "lan@example.vn")) == "vi"
    resp = client.post("/directory/contacts/new", data={"name": "K", "email": "k@example.org", "language": "tlh"})
    assert resp.status_code in (200, 400, 422) and "is not a language offered" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(Contact.id).where(Contact.email == "k@example.org")) is None

    csv = b"name,email,lang\nSomchai P.,somchai@example.go.th,th-TH\nBad,bad@example.org,xx\n"
    rows = {r.email: r for r in directory.preview_contacts_csv(csv).rows}
    assert rows["somchai@example.go.th"].language == "th"
    assert any("is not a language offered" in e for e in rows["bad@example.org"].errors)


# Time zone pickers and the regional clock -------------------------------------------------------


def test_zone_picker_groups_by_region_members_first_with_offsets_and_current_names(client, make_user, login):
    user = make_user("participant", timezone="Asia/Rangoon", language="th")  # a legacy name
    login(user)
    page = client.get("/profile").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="timezone".*?</select>', page, re.S).group(0)
    assert "data-filterable" in select  # the search box of static/js/app.js
    groups = re.findall(r'<optgroup label="([^"]+)"', select)
    assert len(groups) >= 8 and groups[-1] == "UTC"
    first = select.split("<optgroup")[1]
    for zone in ("Asia/Bangkok", "Asia/Jakarta", "Asia/Manila", "Pacific/Fiji", "Asia/Kabul", "Asia/Tehran"):
        assert f'value="{zone}"' in first
    assert 'value="America/New_York"' not in first
    assert re.search(r'<option selected value="Asia/Yangon">|<option value="Asia/Yangon" selected', select)
    assert 'value="Asia/Rangoon"' not in select and 'value="Asia/Saigon"' not in select
    assert "UTC+06:30 · ย่างกุ้ง (Asia/Yangon)" in select  # the city in the reader's language
    assert "UTC+05:45 · " in select  # Kathmandu's quarter hour


def test_a_legacy_zone_is_saved_as_its_current_name(client, make_user, login):
    user = make_user("participant")
    login(user)
    resp = client.post("/profile", data={"name": "P", "timezone": "Asia/Saigon", "language": "vi"})
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(type(user), user.id)
    assert (saved.timezone, saved.language) == ("Asia/Ho_Chi_Minh", "vi")


def test_regional_clock_defaults_cover_utc3_to_utc13(app):
    with app.test_request_context():
        zones = [z for z, _label in settings.region_zones()]
        moment = datetime(2026, 7, 1, tzinfo=UTC)
        offsets = [moment.astimezone(ZoneInfo(z)).utcoffset().total_seconds() / 3600 for z in zones]
        assert offsets == sorted(offsets) and offsets[0] == 3 and offsets[-1] == 13
        assert len(zones) == 15
        with force_locale("th"):
            assert THAI.search(dict(settings.region_zones())["Asia/Yangon"])


# Event translations ------------------------------------------------------------------------------


def test_organisers_translate_an_event_and_readers_see_their_language(app, client, organiser, login, frozen):
    event = make_event_row(title="Safe migration and online recruitment", objectives=["Share practice"])
    item = add_item(organiser, event, 10, 0, 30, "Opening remarks")
    login(organiser)
    assert client.get(f"/events/{event.id}/translations?language=th").status_code == 200
    resp = client.post(
        f"/events/{event.id}/translations",
        data={
            "language": "th",
            "title": "การย้ายถิ่นที่ปลอดภัย",
            "summary": "การสัมมนาระดับภูมิภาค",
            "objectives": "แลกเปลี่ยนแนวปฏิบัติ\n",
            f"item-{item.id}": "กล่าวเปิด",
        },
    )
    assert resp.status_code == 302
    # a language not offered, or the source language: refused with a message, nothing saved
    for code in ("xx", "en", "zh-TW"):
        resp = client.post(f"/events/{event.id}/translations", data={"language": code, "title": "T"})
        assert resp.status_code == 422, code
        assert "is not a language offered for translations" in resp.get_data(as_text=True)
    assert client.get(f"/events/{event.id}/translations?language=klingon").status_code == 400
    client.post("/logout")

    guest = app.test_client()
    guest.set_cookie("lang", "th")
    page = guest.get(f"/events/{event.id}").get_data(as_text=True)
    assert "<h1>การย้ายถิ่นที่ปลอดภัย</h1>" in page and "แลกเปลี่ยนแนวปฏิบัติ" in page and "กล่าวเปิด" in page
    assert "has not been translated" not in page
    guest.set_cookie("lang", "vi")
    page = guest.get(f"/events/{event.id}").get_data(as_text=True)
    assert "<h1>Safe migration and online recruitment</h1>" in page and "Opening remarks" in page
    with app.test_request_context(), force_locale("vi"):
        note = gettext("This event has not been translated into your language; it is shown in English.")
    assert str(escape(note)) in page  # the note, in the reader's language
    guest.set_cookie("lang", "en")
    assert "has not been translated" not in guest.get(f"/events/{event.id}").get_data(as_text=True)
    db.session.expire_all()
    assert [t.language for t in db.session.get(type(event), event.id).translations] == ["th"]


def test_a_thai_invitation_carries_the_thai_title(app, mailbox, frozen, organiser, thai_catalogue):
    event = make_event_row(audience="invitation")
    event_translations.save_translation(event, "th", title="การย้ายถิ่นที่ปลอดภัย", actor=organiser)
    somchai = Contact(name="Somchai P.", email="somchai@example.go.th", timezone="Asia/Bangkok", language="th")
    db.session.add(somchai)
    db.session.commit()
    _invite(somchai, event)
    invitation = mailbox.to("somchai@example.go.th")[0]
    assert str(invitation["Subject"]) == "คำเชิญ: การย้ายถิ่นที่ปลอดภัย"
    body = invitation.get_body(("plain",)).get_content()
    assert "การย้ายถิ่นที่ปลอดภัย" in body and event.title not in body


# With the translators' own catalogues ------------------------------------------------------------


def _translated(lang: str, msgid: str) -> str:
    """The catalogue's translation of ``msgid`` (fails, naming it, while it is missing)."""
    with (Path(__file__).resolve().parents[1] / f"webinar_mgr/translations/{lang}/LC_MESSAGES/messages.po").open(
        "rb"
    ) as f:
        message = read_po(f, locale=lang).get(msgid)
    assert message is not None and message.string and not message.fuzzy, f"{lang}: {msgid!r} is not translated yet"
    return message.string


def test_thai_contact_gets_thai_invitation_and_calendar_text_real_catalogue(app, mailbox, frozen):
    event = make_event_row(audience="open", online_url="https://meet.example.org/j/1")
    somchai = Contact(name="Somchai P.", email="somchai@example.go.th", timezone="Asia/Bangkok", language="th")
    db.session.add(somchai)
    db.session.commit()
    _invite(somchai, event)
    msg = mailbox.to("somchai@example.go.th")[0]
    assert str(msg["Subject"]) == _translated("th", "Invitation: %(title)s") % {"title": event.title}
    assert THAI.search(msg.get_body(("plain",)).get_content())
    # registering from the invitation (no language chosen in the browser): the contact's language
    mailbox.clear()
    with app.test_request_context():
        registrations.register(event.id, registrant_data(name="Somchai P.", email="somchai@example.go.th"))
    mail.deliver_due()
    confirmation = mailbox.to("somchai@example.go.th")[0]
    subject = _translated("th", "Registration confirmed: %(title)s") % {"title": event.title}
    assert str(confirmation["Subject"]) == subject
    calendar = next(p for p in confirmation.walk() if p.get_content_type() == "text/calendar")
    ics_text = calendar.get_content().replace("\r\n ", "")
    details = _translated("th", "Details: %(url)s").split("%(url)s")[0].strip()
    assert details in ics_text and "DESCRIPTION" in ics_text


def test_guest_registering_with_the_vietnamese_interface_gets_vietnamese_mail_real_catalogue(
    app, client, mailbox, frozen
):
    event = make_event_row(audience="open")
    with app.test_request_context(headers={"Accept-Language": "vi-VN,vi;q=0.9"}):
        reg = registrations.register(event.id, registrant_data(email="lan@example.vn"))
    assert reg.language == "vi"
    mail.deliver_due()
    msg = mailbox.to("lan@example.vn")[0]
    assert str(msg["Subject"]) == _translated("vi", "Registration confirmed: %(title)s") % {"title": event.title}


def test_wtforms_own_messages_come_in_the_readers_language(app, client, thai_catalogue):
    write_catalogue(thai_catalogue, "th", {"This field is required.": "จำเป็นต้องกรอกช่องนี้", "Sign in": "เข้าสู่ระบบ"})
    use_catalogues(app, thai_catalogue)
    resp = client.post("/login", data={"email": "", "password": ""}, headers={"Accept-Language": "th"})
    page = resp.get_data(as_text=True)
    assert "จำเป็นต้องกรอกช่องนี้" in page and "This field is required." not in page
    client.set_cookie("lang", "zh_Hans")  # WTForms' own Chinese catalogue still answers first
    page = client.post("/login", data={"email": "", "password": ""}).get_data(as_text=True)
    assert "This field is required." not in page


def test_a_stray_percent_sign_in_a_translation_is_a_problem():
    catalog = Catalog(locale="th")
    catalog.add("%(n)d%% of places taken", "%(n)d% ของที่นั่ง")
    catalog.add("%(n)d seats, %(pct)d%% taken", "%(n)d ที่นั่ง ใช้แล้ว %(pct)d%%")
    messages = [m for m in catalog if m.id]
    assert "cannot be formatted" in i18n.placeholder_problem(messages[0])
    assert i18n.placeholder_problem(messages[1]) is None


def test_warm_up_loads_every_offered_languages_babel_data():
    """i18n.warm_up (production's start): Babel's data of each offered language is in memory after
    it, so the first mail in that language does not read it (a new process: this one has read some)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json\n"
        "import babel.localedata as ld\n"
        "from webinar_mgr import create_app, i18n\n"
        "app = create_app('testing')\n"
        "with app.app_context():\n"
        "    before = set(ld._cache)\n"
        "    i18n.warm_up()\n"
        "    print(json.dumps([sorted(before), sorted(ld._cache), sorted(app.config['LANGUAGES'])]))\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    before, after, offered = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"en", "id", "th", "vi", "zh_Hans"} <= set(offered)
    assert not set(offered) & set(before) and set(offered) <= set(after)
