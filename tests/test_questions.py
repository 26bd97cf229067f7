"""Registration questions and feedback surveys (issue 15): each rule, bad input, mails through the
suite's real SMTP server."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from tests.factories import NOW, make_event_row, register, registrant_data
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.errors import Conflict, ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.questions import services as feedback
from webinar_mgr.questions.models import FeedbackAnswer, FeedbackReceipt, FeedbackResponse, FeedbackSurvey
from webinar_mgr.registrations import questions as q
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration


def _q(event, organiser, kind, label, purpose=q.PURPOSE_REGISTRATION, **kw):
    return q.add_question(event, q.QuestionInput(kind=kind, label=label, **kw), actor=organiser, purpose=purpose)


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


@pytest.fixture
def event(app):
    return make_event_row(title="Online recruitment")


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# Defining questions --------------------------------------------------------------------------


def test_a_choice_question_needs_choices_and_nothing_is_saved(event, organiser):
    with pytest.raises(ValidationFailed) as exc:
        _q(event, organiser, q.SINGLE, "Which session?", choices="  \n ")
    assert "at least one choice" in exc.value.field_errors["choices"][0]
    with pytest.raises(ValidationFailed) as exc:
        _q(event, organiser, q.MULTIPLE, "Topics", choices="Law\nlaw")
    assert "the same" in exc.value.field_errors["choices"][0]
    with pytest.raises(ValidationFailed) as exc:
        _q(event, organiser, "essay", "  ")
    assert set(exc.value.field_errors) == {"kind", "label"}
    assert q.questions_of(event.id) == []


def test_a_condition_must_look_at_an_earlier_choice_question(event, organiser):
    interp = _q(event, organiser, q.YES_NO, "Do you need interpretation?")
    text_q = _q(event, organiser, q.SHORT_TEXT, "Your role")
    lang = _q(
        event,
        organiser,
        q.SINGLE,
        "Into which language?",
        choices="Thai\nBahasa Indonesia",
        condition_question_id=interp.id,
        condition_value="yes",
    )
    assert lang.condition_question_id == interp.id
    # On a later question: refused, with the reason.
    later = _q(event, organiser, q.YES_NO, "Later question")
    with pytest.raises(ValidationFailed) as exc:
        q.update_question(
            text_q,
            q.QuestionInput(
                kind=q.SHORT_TEXT, label="Your role", condition_question_id=later.id, condition_value="yes"
            ),
            actor=organiser,
        )
    assert "earlier question" in exc.value.field_errors["condition_question_id"][0]
    # On itself: refused.
    with pytest.raises(ValidationFailed) as exc:
        q.update_question(
            interp,
            q.QuestionInput(kind=q.YES_NO, label="x", condition_question_id=interp.id, condition_value="yes"),
            actor=organiser,
        )
    assert "its own answer" in exc.value.field_errors["condition_question_id"][0]
    # On a text question, or a value it cannot have: refused.
    with pytest.raises(ValidationFailed) as exc:
        _q(event, organiser, q.SHORT_TEXT, "x", condition_question_id=text_q.id, condition_value="a")
    assert "single choice" in exc.value.field_errors["condition_question_id"][0]
    with pytest.raises(ValidationFailed) as exc:
        _q(event, organiser, q.SHORT_TEXT, "x", condition_question_id=interp.id, condition_value="maybe")
    assert "yes, no" in exc.value.field_errors["condition_value"][0]
    db.session.refresh(text_q)
    assert text_q.condition_question_id is None and len(q.questions_of(event.id)) == 4


def test_reorder_and_remove_keep_conditions_valid(event, organiser):
    interp = _q(event, organiser, q.YES_NO, "Interpretation?")
    lang = _q(event, organiser, q.SHORT_TEXT, "Language", condition_question_id=interp.id, condition_value="yes")
    other = _q(event, organiser, q.SHORT_TEXT, "Other")
    with pytest.raises(ValidationFailed, match="must stay below"):
        q.move_question(lang, "up", actor=organiser)
    with pytest.raises(ValidationFailed, match="depends on this question"):
        q.remove_question(interp, actor=organiser)
    q.move_question(other, "up", actor=organiser)
    assert [x.label for x in q.questions_of(event.id)] == ["Interpretation?", "Other", "Language"]
    with pytest.raises(ValidationFailed):
        q.move_question(interp, "up", actor=organiser)


# Answering on the registration form -----------------------------------------------------------


def _survey_questions(event, organiser):
    interp = _q(event, organiser, q.YES_NO, "Do you need interpretation?", required=True)
    lang = _q(
        event,
        organiser,
        q.SINGLE,
        "Into which language?",
        choices="Thai\nVietnamese",
        required=True,
        condition_question_id=interp.id,
        condition_value="yes",
    )
    topics = _q(event, organiser, q.MULTIPLE, "Topics", choices="Law\nTechnology\nVictims")
    n = _q(event, organiser, q.NUMBER, "Years in the field")
    d = _q(event, organiser, q.DATE, "Arrival date")
    c = _q(event, organiser, q.COUNTRY, "Country of posting")
    ok = _q(event, organiser, q.CONSENT, "I may be photographed", required=True)
    return interp, lang, topics, n, d, c, ok


def test_a_required_answer_missing_refuses_the_registration_and_saves_nothing(app, event, organiser):
    interp, lang, *_rest, ok = _survey_questions(event, organiser)
    data = registrant_data()
    data.answers_form = MultiDict({interp.field_name: "yes"})
    with pytest.raises(ValidationFailed) as exc:
        registrations.register(event.id, data)
    errors = exc.value.field_errors
    assert errors[lang.field_name] == ["Please answer this question."]  # shown: interpretation is "yes"
    assert errors[ok.field_name] == ["Please tick this box to go on."]
    assert _count(Registration) == 0 and _count(q.RegistrationAnswer) == 0


def test_answers_are_saved_with_the_registration_and_hidden_ones_dropped(app, event, organiser):
    interp, lang, topics, n, d, c, ok = _survey_questions(event, organiser)
    data = registrant_data()
    data.answers_form = MultiDict(
        [
            (interp.field_name, "no"),
            (lang.field_name, "Thai"),  # hidden (interpretation is "no"): dropped, not refused
            (topics.field_name, "Law"),
            (topics.field_name, "Victims"),
            (n.field_name, "12,5"),
            (d.field_name, "2026-03-31"),
            (c.field_name, "TH"),
            (ok.field_name, "yes"),
        ]
    )
    reg = registrations.register(event.id, data)
    answers = {a.label: a.value for a in q.answers_by_registration([reg.id])[reg.id]}
    assert answers == {
        "Do you need interpretation?": "no",
        "Topics": "Law; Victims",
        "Years in the field": "12.5",
        "Arrival date": "2026-03-31",
        "Country of posting": "Thailand",
        "I may be photographed": "yes",
    }


def test_bad_answers_are_refused_each_with_its_message(app, event, organiser):
    interp, lang, topics, n, d, c, ok = _survey_questions(event, organiser)
    given, errors = q.check_answers(
        q.questions_of(event.id),
        MultiDict(
            [
                (interp.field_name, "maybe"),
                (topics.field_name, "Cooking"),
                (n.field_name, "twelve"),
                (d.field_name, "31/03/2026"),
                (c.field_name, "XX"),
                (ok.field_name, "yes"),
            ]
        ),
    )
    assert errors[interp.field_name] == ["Choose one of the answers offered."]
    assert lang.field_name not in errors  # its condition's answer is not valid: not shown
    assert "among the answers" in errors[topics.field_name][0]
    assert "number" in errors[n.field_name][0]
    assert "year-month-day" in errors[d.field_name][0]
    assert "country" in errors[c.field_name][0]
    assert [a.question.id for a in given] == [ok.id]


def test_editing_or_removing_a_question_keeps_the_answers_given(app, event, organiser):
    topics = _q(event, organiser, q.SINGLE, "Your sector?", choices="Police\nNGO")
    data = registrant_data()
    data.answers_form = MultiDict({topics.field_name: "Police"})
    reg = registrations.register(event.id, data)
    q.update_question(
        topics,
        q.QuestionInput(kind=q.SINGLE, label="Where do you work?", choices="Law enforcement\nNGO"),
        actor=organiser,
    )
    a = q.answers_by_registration([reg.id])[reg.id][0]
    assert (a.label, a.value, a.question_id) == ("Your sector?", "Police", topics.id)
    q.remove_question(topics, actor=organiser)
    a = q.answers_by_registration([reg.id])[reg.id][0]
    assert (a.label, a.value, a.question_id) == ("Your sector?", "Police", None)
    # The export still carries it, under its old label.
    f = registrations.export(event.id, "csv", actor=organiser)
    rows = list(csv.reader(io.StringIO(f.body.decode("utf-8-sig"))))
    assert rows[0][-1] == "Your sector?" and rows[1][-1] == "Police"


def test_the_registration_form_shows_questions_and_refuses_without_script(client, event, organiser):
    interp = _q(event, organiser, q.YES_NO, "Do you need interpretation?", required=True)
    lang = _q(
        event,
        organiser,
        q.SHORT_TEXT,
        "Into which language?",
        required=True,
        condition_question_id=interp.id,
        condition_value="yes",
    )
    page = client.get(f"/events/{event.id}/register")
    html = page.get_data(as_text=True)
    assert "Do you need interpretation?" in html and f'data-show-if="q_{interp.id}"' in html
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    form = {
        "csrf_token": token.group(1),
        "name": "Ana Cruz",
        "email": "ana@example.org",
        "organisation_name": "NGO X",
        "sector": "civil_society",
        "timezone": "Asia/Manila",
        "consent": "y",
        interp.field_name: "yes",
    }
    resp = client.post(f"/events/{event.id}/register", data=form)
    assert resp.status_code == 422
    assert "Into which language?: Please answer this question." in resp.get_data(as_text=True)  # in the summary
    assert _count(Registration) == 0
    form[lang.field_name] = "Thai"
    resp = client.post(f"/events/{event.id}/register", data=form)
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration))
    assert [a.value for a in q.answers_by_registration([reg.id])[reg.id]] == ["yes", "Thai"]


def test_copy_questions_keeps_order_and_conditions(app, event, organiser):
    interp = _q(event, organiser, q.YES_NO, "Interpretation?")
    _q(event, organiser, q.SHORT_TEXT, "Language", condition_question_id=interp.id, condition_value="yes")
    _q(event, organiser, q.LONG_TEXT, "What did you learn?", purpose=q.PURPOSE_FEEDBACK)
    target = make_event_row(title="Next year")
    copies = q.copy_questions(event, target, actor=organiser)
    reg_q = q.questions_of(target.id)
    assert [x.label for x in reg_q] == ["Interpretation?", "Language"]
    assert reg_q[1].condition_question_id == reg_q[0].id and reg_q[1].condition_value == "yes"
    assert [x.label for x in q.questions_of(target.id, q.PURPOSE_FEEDBACK)] == ["What did you learn?"]
    assert len(copies) == 3


# Feedback after the event ---------------------------------------------------------------------


def _held_event_with_attendees(organiser, *, anonymous=False):
    start = clock.now() - timedelta(days=2)
    event = make_event_row(title="Technology webinar", starts_at=start, ends_at=start + timedelta(hours=2))
    rating = _q(
        event,
        organiser,
        q.SINGLE,
        "How useful was it?",
        q.PURPOSE_FEEDBACK,
        choices="Very\nSomewhat\nNot",
        required=True,
    )
    _q(event, organiser, q.LONG_TEXT, "What should we change?", q.PURPOSE_FEEDBACK)
    feedback.save_settings(event, enabled=True, anonymous=anonymous, intro=None, actor=organiser)
    ana = register(event, "ana@example.org", "Ana")
    ben = register(event, "ben@example.org", "Ben")
    register(event, "absent@example.org", "Absent")
    for r in (ana, ben):
        db.session.add(
            AttendanceRecord(event_id=event.id, registration_id=r.id, name=r.name, minutes=60, attended=True)
        )
    db.session.commit()
    return event, rating, ana, ben


def _link_in(msg) -> str:
    body = msg.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/feedback/(\S+)", body).group(1)


def test_survey_is_sent_once_to_attendees_after_the_event(app, organiser, mailbox):
    event, *_ = _held_event_with_attendees(organiser)
    future = make_event_row(title="Not yet")
    _q(future, organiser, q.SHORT_TEXT, "x", q.PURPOSE_FEEDBACK)
    feedback.save_settings(future, enabled=True, anonymous=False, intro=None, actor=organiser)
    assert feedback.send_due() == 2
    assert feedback.send_due() == 0  # once
    mail.deliver_due()
    assert len(mailbox.to("ana@example.org")) == 1 and len(mailbox.to("ben@example.org")) == 1
    assert mailbox.to("absent@example.org") == []
    msg = mailbox.to("ana@example.org")[0]
    assert "Technology webinar" in msg["Subject"]
    assert _link_in(msg)


def test_answering_through_the_link_works_once(app, organiser, mailbox):
    event, rating, ana, _ben = _held_event_with_attendees(organiser)
    feedback.send_due()
    mail.deliver_due()
    token = _link_in(mailbox.to("ana@example.org")[0])
    with pytest.raises(ValidationFailed) as exc:
        feedback.submit(token, MultiDict({}))
    assert exc.value.field_errors[rating.field_name] == ["Please answer this question."]
    assert _count(FeedbackReceipt) == 0 and _count(FeedbackResponse) == 0  # nothing half-saved
    feedback.submit(token, MultiDict({rating.field_name: "Very"}))
    with pytest.raises(Conflict, match="already answered"):
        feedback.submit(token, MultiDict({rating.field_name: "Not"}))
    with pytest.raises(Conflict, match="already answered"):
        feedback.open_link(token)
    resp = db.session.scalar(sa.select(FeedbackResponse))
    assert resp.registration_id == ana.id
    res = feedback.results(event.id)
    assert res.responses == 1 and res.questions[0].counts == [("Very", 1), ("Somewhat", 0), ("Not", 0)]


def test_an_anonymous_survey_stores_no_link_to_the_person(app, organiser):
    event, rating, ana, _ben = _held_event_with_attendees(organiser, anonymous=True)
    token = feedback.make_link(ana).rsplit("/", 1)[1]
    feedback.submit(token, MultiDict({rating.field_name: "Somewhat"}))
    resp = db.session.scalar(sa.select(FeedbackResponse))
    assert resp.registration_id is None
    assert (resp.submitted_on.hour, resp.submitted_on.minute, resp.submitted_on.second) == (0, 0, 0)
    assert db.session.scalar(sa.select(FeedbackAnswer.value)) == "Somewhat"
    # anonymity cannot change once answered
    with pytest.raises(ValidationFailed, match="anonymity cannot change"):
        feedback.save_settings(event, enabled=True, anonymous=False, intro=None, actor=organiser)
    assert db.session.scalar(sa.select(FeedbackSurvey.anonymous)) is True


def test_a_changed_or_foreign_link_is_refused(app, organiser):
    event, rating, ana, _ben = _held_event_with_attendees(organiser)
    token = feedback.make_link(ana).rsplit("/", 1)[1]
    with pytest.raises(ValidationFailed, match="not valid"):
        feedback.open_link(token[:-3] + "abc")


def test_the_survey_pages_and_results(client, login, organiser, app, mailbox):
    event, rating, ana, _ben = _held_event_with_attendees(organiser)
    token = feedback.make_link(ana).rsplit("/", 1)[1]
    page = client.get(f"/feedback/{token}")
    assert page.status_code == 200 and "How useful was it?" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post(f"/feedback/{token}", data={"csrf_token": csrf}).status_code == 422
    ok = client.post(f"/feedback/{token}", data={"csrf_token": csrf, rating.field_name: "Very"})
    assert ok.status_code == 200 and "Thank you" in ok.get_data(as_text=True)
    again = client.get(f"/feedback/{token}")
    assert again.status_code == 409 and "already answered" in again.get_data(as_text=True)
    assert client.get(f"/events/{event.id}/feedback").status_code in (302, 401, 403)
    login(organiser)
    res = client.get(f"/events/{event.id}/feedback")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and 'role="img"' in html and "Very: 1" in html


def test_the_bar_colour_contrasts_at_least_3_to_1():
    from webinar_mgr.reports.charts import contrast_ratio  # import here: reports is a higher module

    assert contrast_ratio(feedback.BAR) >= 3


def test_answers_in_the_list_and_the_api(client, login, app, event, organiser):
    from tests.support import auth, token_for  # import here: only this test uses the API helpers

    sector = _q(event, organiser, q.SINGLE, "Your sector?", choices="Police\nNGO")
    data = registrant_data(accessibility_needs="Captions, please")
    data.answers_form = MultiDict({sector.field_name: "NGO"})
    registrations.register(event.id, data)
    body = client.get(
        f"/api/v1/events/{event.id}/registrations", headers=auth(token_for(organiser, "registrations:read"))
    )
    item = body.get_json()["items"][0]
    assert item["answers"] == [{"question_id": sector.id, "label": "Your sector?", "value": "NGO", "values": ["NGO"]}]
    assert item["accessibility_needs"] == "Captions, please"
    login(organiser)
    html = client.get(f"/events/{event.id}/registrations").get_data(as_text=True)
    assert "<dt>Your sector?</dt><dd>NGO</dd>" in html
    manage = client.get(f"/events/{event.id}/questions").get_data(as_text=True)
    assert "Your sector?" in manage and "Built in" in manage


def test_results_in_the_review_page_and_the_activity_report(client, login, app, organiser):
    from webinar_mgr.reports import services as reports  # import here: reports sits above questions
    from webinar_mgr.reports.pdf import activity_report_html  # import here: as above

    event, rating, ana, ben = _held_event_with_attendees(organiser)
    for reg, answer in ((ana, "Very"), (ben, "Somewhat")):
        feedback.submit(feedback.make_link(reg).rsplit("/", 1)[1], MultiDict({rating.field_name: answer}))
    login(organiser)
    html = client.get(f"/review/events/{event.id}").get_data(as_text=True)
    assert "Feedback after the event" in html and "Very: 1; Somewhat: 1; Not: 0" in html
    day = event.starts_at.date()
    report = activity_report_html(reports.activity_report(day - timedelta(days=1), day + timedelta(days=1)))
    section = report[report.index("Feedback after the events") :]
    assert "Technology webinar" in section and "How useful was it?" in section and "2 answers" in section


def test_demo_data_on_the_held_technology_webinar(app):
    from webinar_mgr.cli import run_seed  # import here: the whole demo is seeded by this test only

    clock.unfreeze()
    run_seed(lambda *_a, **_k: None)
    event = db.session.scalar(sa.select(Event).where(Event.status == "held", Event.title.ilike("%technology%")))
    labels = [x.label for x in q.questions_of(event.id)]
    assert labels[:2] == ["Will you need interpretation?", "Into which language?"]
    answered = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(q.RegistrationAnswer.registration_id)))
        .join(Registration)
        .where(Registration.event_id == event.id)
    )
    assert answered > 5
    res = feedback.results(event.id)
    assert res.anonymous and res.responses > 3 and sum(c for _l, c in res.questions[0].counts) == res.responses
    participant = db.session.scalar(
        sa.select(Registration).where(
            Registration.event_id == event.id, Registration.email == "participant@example.org"
        )
    )
    opened = feedback.open_link(feedback.make_link(participant).rsplit("/", 1)[1])  # not answered yet: it opens
    assert opened.questions[0].label == "How useful was the webinar for your work?"


def _csrf(client, url) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def test_the_questions_page_refuses_bad_input_with_a_message_and_saves_nothing(client, login, event, organiser):
    url = f"/events/{event.id}/questions"
    assert client.get(url).status_code in (302, 401, 403)
    login(organiser)
    token = _csrf(client, url)
    resp = client.post(
        url, data={"csrf_token": token, "purpose": "registration", "kind": "single_choice", "label": "Which?"}
    )
    assert resp.status_code == 422 and "at least one choice" in resp.get_data(as_text=True)
    assert q.questions_of(event.id) == []
    ok = client.post(
        url, data={"csrf_token": token, "purpose": "registration", "kind": "yes_no", "label": "Interpretation?"}
    )
    assert ok.status_code == 302
    first = q.questions_of(event.id)[0]
    resp = client.post(
        f"{url}/{first.id}",
        data={
            "csrf_token": token,
            "kind": "yes_no",
            "label": "Interpretation?",
            "condition_question_id": first.id,
            "condition_value": "yes",
        },
    )
    assert resp.status_code == 422 and "its own answer" in resp.get_data(as_text=True)
    resp = client.post(f"{url}/{first.id}", data={"csrf_token": token, "action": "up"})
    assert resp.status_code == 422 and "cannot move further" in resp.get_data(as_text=True)
    other = make_event_row(title="Another")
    assert client.post(f"/events/{other.id}/questions/{first.id}", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{url}/{first.id}", data={"csrf_token": token, "action": "remove"}).status_code == 302
    assert q.questions_of(event.id) == []
    resp = client.post(f"/events/{event.id}/feedback/settings", data={"csrf_token": token, "enabled": "y"})
    assert resp.status_code == 422 and "at least one feedback question" in resp.get_data(as_text=True)
    assert feedback.survey_of(event.id) is None


def test_behind_an_invitation_link_the_questions_are_asked_too(client, app, organiser):
    from webinar_mgr.directory.models import Contact  # import here: only this test adds a contact
    from webinar_mgr.invitations import services as invitations  # import here: as above
    from webinar_mgr.invitations.models import Invitation  # import here: as above

    event = make_event_row(title="By invitation", audience="invitation")
    need = _q(event, organiser, q.SHORT_TEXT, "Dietary needs", required=True)
    contact = Contact(name="Lina Ho", email="lina.ho@example.com")
    db.session.add(contact)
    db.session.flush()
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="civil_society")
    db.session.add(inv)
    db.session.commit()
    url = f"/i/{invitations.make_token(inv)}"
    html = client.get(url).get_data(as_text=True)
    assert "Dietary needs" in html
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    form = {
        "csrf_token": token.group(1),
        "name": "Lina Ho",
        "organisation_name": "NGO X",
        "sector": "civil_society",
        "timezone": "Asia/Manila",
        "consent": "y",
    }
    assert client.post(url, data=form).status_code == 422
    assert _count(Registration) == 0
    form[need.field_name] = "Vegetarian"
    assert client.post(url, data=form).status_code == 302
    reg = db.session.scalar(sa.select(Registration))
    assert [a.value for a in q.answers_by_registration([reg.id])[reg.id]] == ["Vegetarian"]


def test_a_survey_link_expires_90_days_after_it_is_sent(app, organiser):
    event, rating, ana, _ben = _held_event_with_attendees(organiser)
    token = feedback.make_link(ana).rsplit("/", 1)[1]
    clock.advance(timedelta(days=feedback.LINK_DAYS - 1))
    feedback.open_link(token)  # still open
    clock.advance(timedelta(days=2))
    with pytest.raises(ValidationFailed, match="expired"):
        feedback.submit(token, MultiDict({rating.field_name: "Very"}))
    assert _count(FeedbackResponse) == 0


def test_a_signed_in_reader_answers_on_the_one_step_form(client, login, make_user, event, organiser):
    member = make_user("participant")
    topics = _q(event, organiser, q.MULTIPLE, "Topics", choices="Law\nTechnology", required=True)
    login(member)
    url = f"/events/{event.id}/register"
    token = _csrf(client, url)
    form = {"csrf_token": token, "organisation_name": "NGO X", "sector": "civil_society"}
    resp = client.post(url, data=form)
    assert resp.status_code == 422 and "Please answer this question." in resp.get_data(as_text=True)
    assert _count(Registration) == 0
    resp = client.post(url, data={**form, topics.field_name: ["Law", "Technology"]})
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration))
    assert q.answers_by_registration([reg.id])[reg.id][0].values == ["Law", "Technology"]
