"""Demo data (issue 15): on the held technology webinar, registration questions with answers from
its confirmed registrants, and an anonymous feedback survey (sent when the event ended) answered by
most attendees. participant@example.org has not answered, so the demo shows their link working
(`flask shell`: questions.services.make_link(reg)). Idempotent: skipped when the event has questions."""

from __future__ import annotations

import random

import sqlalchemy as sa

from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.events.models import STATUS_HELD, Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional
from webinar_mgr.registrations import questions as q
from webinar_mgr.registrations.models import STATUS_CONFIRMED, Registration

from .models import FeedbackAnswer, FeedbackReceipt, FeedbackResponse, FeedbackSurvey

LANGUAGES = ["Bahasa Indonesia", "Thai", "Vietnamese", "Chinese"]
TOPICS = ["Online recruitment", "Financial investigations", "Platform cooperation", "Survivor support"]
USEFUL = ["Very useful", "Useful", "Somewhat useful", "Not useful"]
NEXT = [
    "Case studies of cooperation with platforms in the region.",
    "More time for questions from member governments.",
    "How to preserve digital evidence across borders.",
    "",
]


def _add(event, purpose, position, kind, label, **kw) -> q.Question:
    item = q.Question(event_id=event.id, purpose=purpose, position=position, kind=kind, label=label, **kw)
    db.session.add(item)
    db.session.flush()
    return item


@transactional
def seed(echo) -> None:
    event = (
        db.session.scalars(
            sa.select(Event)
            .where(Event.status == STATUS_HELD, Event.title.ilike("%technology%"))
            .order_by(Event.starts_at)
        )
        .unique()
        .first()
    )
    if event is None:
        echo("questions: no held technology webinar for the demo questions")
        return
    if db.session.scalar(sa.select(q.Question.id).where(q.Question.event_id == event.id).limit(1)):
        echo("questions: demo questions already present")
        return
    rng = random.Random(15)
    reg_purpose = q.PURPOSE_REGISTRATION
    interp = _add(
        event, reg_purpose, 1, q.YES_NO, "Will you need interpretation?", help_text="Into a language of the region."
    )
    lang = _add(
        event,
        reg_purpose,
        2,
        q.SINGLE,
        "Into which language?",
        required=True,
        choices=LANGUAGES,
        condition_question_id=interp.id,
        condition_value=q.YES,
    )
    topics = _add(event, reg_purpose, 3, q.MULTIPLE, "Which topics matter most to your work?", choices=TOPICS)
    listed = _add(event, reg_purpose, 4, q.CONSENT, "I agree to be listed among the participants in the meeting report")
    regs = (
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status == STATUS_CONFIRMED)
            .order_by(Registration.id)
        )
        .unique()
        .all()
    )
    for reg in regs:
        needs = rng.random() < 0.25
        given = [q.GivenAnswer(interp, q.YES if needs else q.NO, [q.YES if needs else q.NO])]
        if needs:
            choice = rng.choice(LANGUAGES)
            given.append(q.GivenAnswer(lang, choice, [choice]))
        picked = [t for t in TOPICS if rng.random() < 0.5] or [TOPICS[0]]
        given.append(q.GivenAnswer(topics, "; ".join(picked), picked))
        if rng.random() < 0.8:
            given.append(q.GivenAnswer(listed, q.YES, [q.YES]))
        q.save_registration_answers(reg, given)

    fb = q.PURPOSE_FEEDBACK
    useful = _add(event, fb, 1, q.SINGLE, "How useful was the webinar for your work?", required=True, choices=USEFUL)
    again = _add(event, fb, 2, q.YES_NO, "Would you attend a follow-up session?")
    nxt = _add(event, fb, 3, q.LONG_TEXT, "What should the next webinar cover?")
    ended = event.ends_at or event.starts_at
    db.session.add(FeedbackSurvey(event_id=event.id, enabled=True, anonymous=True, sent_at=ended))
    attended = (
        db.session.scalars(
            sa.select(Registration)
            .join(AttendanceRecord, AttendanceRecord.registration_id == Registration.id)
            .where(Registration.event_id == event.id, AttendanceRecord.attended.is_(True))
            .order_by(Registration.id)
        )
        .unique()
        .all()
    )
    answered = 0
    for reg in attended:
        if reg.email == "participant@example.org" or rng.random() < 0.35:
            continue
        day = ended.replace(hour=0, minute=0, second=0, microsecond=0)
        db.session.add(FeedbackReceipt(event_id=event.id, registration_id=reg.id, answered_on=day))
        response = FeedbackResponse(event_id=event.id, registration_id=None, submitted_on=day)
        rating = rng.choices(USEFUL, weights=[5, 4, 2, 1])[0]
        yes = rng.random() < 0.7
        response.answers = [
            FeedbackAnswer(
                question_id=useful.id, position=1, kind=useful.kind, label=useful.label, value=rating, values=[rating]
            ),
            FeedbackAnswer(
                question_id=again.id,
                position=2,
                kind=again.kind,
                label=again.label,
                value=q.YES if yes else q.NO,
                values=[q.YES if yes else q.NO],
            ),
        ]
        text = rng.choice(NEXT)
        if text:
            response.answers.append(
                FeedbackAnswer(question_id=nxt.id, position=3, kind=nxt.kind, label=nxt.label, value=text)
            )
        db.session.add(response)
        answered += 1
    echo(f"questions: 4 registration questions answered by {len(regs)}, a feedback survey answered by {answered}")
