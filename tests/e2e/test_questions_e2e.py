"""Registration questions and the feedback survey in Chromium (issue 15): an organiser adds two
questions (the second shown only for a "yes" to the first), a guest registers answering them (the
second appears when they answer "yes"); an attendee answers the feedback survey through the link
of the mail captured by the suite's SMTP server, and the link then says it was already answered.
Pages at 1280 and 390 px fit the width, axe finds no violation. QUESTIONS_SCREENSHOTS=dir saves
screenshots."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import register
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.questions import services as feedback
from webinar_mgr.questions.models import FeedbackResponse
from webinar_mgr.registrations import questions as q
from webinar_mgr.registrations.models import Registration

pytestmark = pytest.mark.e2e
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SHOTS = os.environ.get("QUESTIONS_SCREENSHOTS")


def _axe(page) -> list[str]:
    page.add_script_tag(content=AXE)
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")


def _check(page, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        scroll, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= window, (page.url, width, scroll)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert _axe(page) == []


def _event(**kw) -> Event:
    kind = db.session.scalar(sa.select(EventKind).where(EventKind.code == "webinar"))
    if kind is None:
        kind = EventKind(code="webinar", label="Regional webinar")
        db.session.add(kind)
        db.session.flush()
    start = clock.now().replace(microsecond=0) + timedelta(days=14)
    values = dict(
        title="Regional Webinar: Online recruitment",
        kind_id=kind.id,
        status="scheduled",
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        audience="open",
    )
    values.update(kw)
    event = Event(**values)
    db.session.add(event)
    db.session.commit()
    return event


def test_organiser_adds_questions_and_a_guest_registers_with_them(app, live_server, browser, organiser):
    event = _event()
    context = browser.new_context(bypass_csp=True, timezone_id="Asia/Bangkok")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#email", organiser.email)
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server}/events/{event.id}/questions")
    section = page.locator("#registration")
    section.locator("summary").click()
    page.fill("#label-new-registration", "Do you need interpretation?")
    page.select_option("#kind-new-registration", "yes_no")
    section.get_by_label("An answer is required").check()
    section.get_by_role("button", name="Add the question").click()
    page.wait_for_url(re.compile(r".*/questions#registration$"))
    # A choice question with no choices: refused with a clear message, nothing saved.
    page.locator("#registration summary").click()
    page.fill("#label-new-registration", "Into which language?")
    page.select_option("#kind-new-registration", "single_choice")
    page.locator("#registration").get_by_role("button", name="Add the question").click()
    assert "at least one choice" in page.locator("main").inner_text()
    assert len(q.questions_of(event.id)) == 1
    page.fill("#choices-new-registration", "Thai\nVietnamese\nBahasa Indonesia")
    first = q.questions_of(event.id)[0]
    page.select_option("#cond-new-registration", str(first.id))
    page.fill("#condv-new-registration", "yes")
    page.locator("#registration").get_by_label("An answer is required").check()
    page.locator("#registration").get_by_role("button", name="Add the question").click()
    page.wait_for_url(re.compile(r".*/questions#registration$"))
    table = page.locator("#registration table").inner_text()
    assert "Into which language?" in table and "if “Do you need interpretation?” is “yes”" in table
    _check(page, "questions-manage")
    context.close()

    guest = browser.new_context(bypass_csp=True, timezone_id="Asia/Bangkok").new_page()
    guest.goto(f"{live_server}/events/{event.id}/register")
    lang_group = guest.locator(f"#q_{first.id + 1}-group")
    assert not lang_group.is_visible()  # shown only after a "yes"
    guest.get_by_label("Full name").fill("Lina Ho")
    guest.get_by_label("Email").fill("lina.ho@example.com")
    guest.get_by_text("My organisation is not in the list").click()
    guest.get_by_label("Its name").fill("Migrant Care Network")
    guest.get_by_label("Its sector").select_option("civil_society")
    guest.get_by_label("I agree that my details").check()
    guest.locator(f"#q_{first.id}-group").get_by_label("Yes").check()
    assert lang_group.is_visible()
    _check(guest, "register-with-questions")
    guest.get_by_role("button", name="Register").click()  # the language is required once shown
    assert "Please answer this question." in guest.locator(f"#q_{first.id + 1}-group").inner_text()
    guest.locator(f"#q_{first.id + 1}-group").get_by_label("Thai").check()
    guest.get_by_label("I agree that my details").check()
    guest.get_by_role("button", name="Register").click()
    guest.wait_for_url(re.compile(r".*/registrations/manage/.*"))
    db.session.expire_all()
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "lina.ho@example.com"))
    assert [a.value for a in q.answers_by_registration([reg.id])[reg.id]] == ["yes", "Thai"]


def test_attendee_answers_the_feedback_survey_through_the_mailed_link(app, live_server, browser, organiser, mailbox):
    start = clock.now().replace(microsecond=0) - timedelta(days=1)
    event = _event(
        title="Regional Webinar: Technology", status="held", starts_at=start, ends_at=start + timedelta(hours=2)
    )
    useful = q.add_question(
        event,
        q.QuestionInput(
            kind=q.SINGLE, label="How useful was it?", choices="Very useful\nUseful\nNot useful", required=True
        ),
        actor=organiser,
        purpose=q.PURPOSE_FEEDBACK,
    )
    q.add_question(
        event,
        q.QuestionInput(kind=q.LONG_TEXT, label="What should we change?"),
        actor=organiser,
        purpose=q.PURPOSE_FEEDBACK,
    )
    feedback.save_settings(event, enabled=True, anonymous=True, intro="Five questions at most.", actor=organiser)
    reg = register(event, "ana.cruz@example.org", "Ana Cruz")
    db.session.add(
        AttendanceRecord(event_id=event.id, registration_id=reg.id, name=reg.name, minutes=90, attended=True)
    )
    db.session.commit()
    assert feedback.send_due() == 1
    mail.deliver_due()
    body = mailbox.to("ana.cruz@example.org")[0].get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/feedback/\S+", body).group(0)

    page = browser.new_context(bypass_csp=True, timezone_id="Asia/Bangkok").new_page()
    page.goto(link)
    assert "anonymous" in page.locator("main").inner_text()
    page.get_by_role("button", name="Send my answers").click()  # the required answer is missing
    assert "Please answer this question." in page.locator(f"#{useful.field_name}-group").inner_text()
    _check(page, "feedback-survey")
    page.get_by_label("Very useful").check()
    page.get_by_label("What should we change?").fill("More time for questions.")
    page.get_by_role("button", name="Send my answers").click()
    assert "Thank you" in page.locator("main").inner_text()
    page.goto(link)  # the second use
    assert "already answered" in page.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackResponse)) == 1
    assert db.session.scalar(sa.select(FeedbackResponse.registration_id)) is None

    page.goto(f"{live_server}/login")
    page.fill("#email", organiser.email)
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server}/events/{event.id}/feedback")
    assert page.locator("svg[role=img]").count() == 1
    assert "More time for questions." in page.locator("main").inner_text()
    _check(page, "feedback-results")
