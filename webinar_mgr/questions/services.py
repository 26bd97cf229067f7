"""Feedback after the event: the survey's settings, the invitations to answer (queued by the
worker once the event has ended, to the registrants whose attendance is recorded), answering once
through a personal signed link, and the results per question.

The survey's questions are the event's questions with purpose "feedback"
(registrations/questions.py: the same kinds, conditions and checks as the registration form).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock, jobs, links, text, tokens
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import Conflict, ValidationFailed
from webinar_mgr.events.models import STATUS_CANCELLED, STATUS_DRAFT, Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_recipient_language
from webinar_mgr.mail import services as mail
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.registrations import questions as q
from webinar_mgr.registrations.models import Registration

from .models import FeedbackAnswer, FeedbackReceipt, FeedbackResponse, FeedbackSurvey

SALT = "feedback-survey"
MAIL_CATEGORY = "feedback"


def survey_of(event_id: int) -> FeedbackSurvey | None:
    return db.session.scalar(sa.select(FeedbackSurvey).where(FeedbackSurvey.event_id == event_id))


@transactional
def save_settings(event, *, enabled: bool, anonymous: bool, intro: str | None, actor) -> FeedbackSurvey:
    """Turn the survey on or off, anonymous or not. Anonymity cannot change once someone has
    answered (their answers were given under the other promise)."""
    survey = survey_of(event.id)
    if survey is None:
        survey = FeedbackSurvey(event_id=event.id)
        db.session.add(survey)
    intro = text.multi_line(intro) or None
    if intro and len(intro) > 2000:
        raise ValidationFailed(
            _("The survey is not saved."), field_errors={"intro": [_("Too long (%(n)d characters at most).", n=2000)]}
        )
    if survey.id is not None and bool(anonymous) != survey.anonymous and response_count(event.id):
        raise ValidationFailed(
            _("People have already answered under the present setting: anonymity cannot change now."),
            field_errors={"anonymous": [_("People have already answered under the present setting.")]},
        )
    if enabled and not q.questions_of(event.id, q.PURPOSE_FEEDBACK):
        raise ValidationFailed(_("Add at least one feedback question before turning the survey on."))
    survey.enabled, survey.anonymous, survey.intro = bool(enabled), bool(anonymous), intro
    audit.record(actor, "feedback.settings", event, summary=f"enabled={survey.enabled} anonymous={survey.anonymous}")
    return survey


def response_count(event_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(FeedbackResponse).where(FeedbackResponse.event_id == event_id)
    )


def _event_end(event: Event) -> datetime | None:
    return event.ends_at or event.starts_at


def attendees(event_id: int) -> list[Registration]:
    """The event's registrants whose attendance is recorded."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.id.in_(
                    sa.select(AttendanceRecord.registration_id).where(
                        AttendanceRecord.event_id == event_id, AttendanceRecord.attended.is_(True)
                    )
                ),
            )
            .order_by(Registration.id)
        )
    )


LINK_DAYS = 90  # a survey link works for this long after the event ends (or after it is sent, if later)


def make_link(reg: Registration) -> str:
    end = _event_end(reg.event)
    now = clock.now()
    expires = max(end or now, now) + timedelta(days=LINK_DAYS)  # from the end, or from a late sending
    token = tokens.make(SALT, {"r": reg.id, "e": reg.event_id}, expires_at=expires)
    return links.abs_url("questions.answer", token=token)


@in_recipient_language(lambda reg, event, survey: (reg.language, reg.contact.language if reg.contact else None))
def _queue_request(reg: Registration, event: Event, survey: FeedbackSurvey) -> bool:
    title = event.shown().title
    return (
        mail.queue(
            reg.email,
            _("Your feedback on %(title)s", title=title),
            template="mail/feedback_request",
            context={
                "event": event,  # messages: the event's own follow-up wording, if any
                "name": reg.name,
                "title": title,
                "url": make_link(reg),
                "anonymous": survey.anonymous,
                "intro": survey.intro,
            },
            to_name=reg.name,
            category=MAIL_CATEGORY,
            dedupe_key=f"feedback:{event.id}:{reg.id}",
        )
        is not None
    )


def send_due() -> int:
    """Queue the invitations to answer for every enabled survey whose event has ended and which
    was not sent yet; one unit of work per event. Idempotent (dedupe keys, ``sent_at``)."""
    now = clock.now()
    due = db.session.execute(
        sa.select(FeedbackSurvey.id, Event.id)
        .join(Event, Event.id == FeedbackSurvey.event_id)
        .where(
            FeedbackSurvey.enabled.is_(True),
            FeedbackSurvey.sent_at.is_(None),
            Event.status.not_in((STATUS_DRAFT, STATUS_CANCELLED)),
            sa.func.coalesce(Event.ends_at, Event.starts_at) < now,
        )
    ).all()
    queued = 0
    for survey_id, event_id in due:
        with unit_of_work():
            survey = db.session.get(FeedbackSurvey, survey_id)
            event = db.session.get(Event, event_id)
            if not q.questions_of(event.id, q.PURPOSE_FEEDBACK):
                continue
            sent = sum(_queue_request(reg, event, survey) for reg in attendees(event.id))
            survey.sent_at = now
            audit.record(None, "feedback.sent", event, summary=f"{sent} invitation(s) to answer")
            queued += sent
    return queued


@jobs.scheduled("feedback-surveys")
def _feedback_job() -> int:
    return send_due()


# Answering ---------------------------------------------------------------------------------------


@dataclass
class Opened:
    registration: Registration
    event: Event
    survey: FeedbackSurvey
    questions: list = field(default_factory=list)


def open_link(token: str) -> Opened:
    """The survey behind a personal link, or a clear refusal (invalid link, survey closed, already
    answered: Conflict)."""
    data = tokens.load(SALT, token, expired=_("This survey link has expired."))
    reg = db.session.get(Registration, data.get("r")) if isinstance(data.get("r"), int) else None
    if reg is None or reg.event_id != data.get("e"):
        raise ValidationFailed(_("This link is not valid: it may have been mistyped or changed."))
    survey = survey_of(reg.event_id)
    if survey is None or not survey.enabled:
        raise ValidationFailed(_("This survey is closed."))
    if _answered(reg):
        raise Conflict(_("You have already answered this survey. Thank you!"))
    return Opened(reg, reg.event, survey, q.questions_of(reg.event_id, q.PURPOSE_FEEDBACK))


def _answered(reg: Registration) -> bool:
    return (
        db.session.scalar(
            sa.select(FeedbackReceipt.id).where(
                FeedbackReceipt.event_id == reg.event_id, FeedbackReceipt.registration_id == reg.id
            )
        )
        is not None
    )


def submit(token: str, formdata) -> FeedbackResponse:
    """Save the answers once: the receipt and the answers land together or not at all. A second
    use of the link (even at the same moment: the receipt is unique) is refused with Conflict."""
    try:
        with unit_of_work():
            opened = open_link(token)
            given, errors = q.check_answers(opened.questions, formdata)
            if errors:
                raise ValidationFailed(_("Please correct the marked answers."), field_errors=errors)
            if not given:
                raise ValidationFailed(_("Please answer at least one question."))
            now = clock.now()
            anonymous = opened.survey.anonymous
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            db.session.add(
                FeedbackReceipt(
                    event_id=opened.event.id,
                    registration_id=opened.registration.id,
                    answered_on=day if anonymous else now,
                )
            )
            db.session.flush()
            response = FeedbackResponse(
                event_id=opened.event.id,
                registration_id=None if anonymous else opened.registration.id,
                # An anonymous answer keeps only the day, so its time cannot be matched to a receipt.
                submitted_on=day if anonymous else now,
            )
            for a in given:
                response.answers.append(
                    FeedbackAnswer(
                        question_id=a.question.id,
                        position=a.question.position,
                        kind=a.question.kind,
                        label=a.question.label,
                        value=a.value,
                        values=a.values,
                    )
                )
            db.session.add(response)
    except IntegrityError:
        raise Conflict(_("You have already answered this survey. Thank you!")) from None
    return response


# Results -----------------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    label: str
    kind: str
    kind_label: str
    answered: int
    counts: list[tuple[str, int]]  # choice -> count, in the question's order (choice kinds, yes/no)
    texts: list[str]  # free answers (text, number, date, country), newest last
    average: float | None = None


@dataclass
class Results:
    responses: int
    invited: int
    anonymous: bool
    questions: list[QuestionResult]


def results(event_id: int) -> Results:
    """Counts per question (the current questions, then answers to removed ones by their label)."""
    survey = survey_of(event_id)
    answers = db.session.scalars(
        sa.select(FeedbackAnswer)
        .join(FeedbackResponse, FeedbackResponse.id == FeedbackAnswer.response_id)
        .where(FeedbackResponse.event_id == event_id)
        .order_by(FeedbackAnswer.id)
    ).all()
    by_question: dict = {}
    for a in answers:
        by_question.setdefault(a.question_id if a.question_id is not None else ("removed", a.label), []).append(a)
    out = []
    current = q.questions_of(event_id, q.PURPOSE_FEEDBACK)
    keys = [(qq.id, qq.label, qq.kind, qq.options) for qq in current]
    keys += [(k, k[1], v[0].kind, None) for k, v in by_question.items() if isinstance(k, tuple)]
    for key, label, kind, options in keys:
        given = by_question.get(key, [])
        counts: list[tuple[str, int]] = []
        texts: list[str] = []
        average = None
        if kind in q.CONDITION_KINDS or kind == q.CONSENT:
            tally = Counter(v for a in given for v in (a.values or [a.value]))
            order = list(options or []) + [k for k in tally if k not in (options or [])]
            names = {q.YES: _("Yes"), q.NO: _("No")}
            counts = [(names.get(o, o), tally.get(o, 0)) for o in order]
        else:
            texts = [a.value for a in given]
            if kind == q.NUMBER and texts:
                average = round(sum(float(t) for t in texts) / len(texts), 2)
        out.append(
            QuestionResult(label, kind, str(q.QUESTION_KINDS.get(kind, kind)), len(given), counts, texts, average)
        )
    invited = len(attendees(event_id)) if survey is not None and survey.sent_at else 0
    return Results(
        responses=response_count(event_id),
        invited=invited,
        anonymous=bool(survey and survey.anonymous),
        questions=out,
    )


BAR = "#1f5f8b"  # 7.0:1 on white (reports.charts.contrast_ratio), above the 3:1 asked of graphics


def bar_chart_svg(result: QuestionResult, chart_id: str) -> str:
    """A small horizontal bar chart, accessible: role="img", a title and a description that say
    every count (the same numbers are in the table beside it)."""
    rows = result.counts
    top = max([c for _l, c in rows] + [1])
    width, label_w, bar_w, row_h = 420, 150, 230, 28
    height = row_h * len(rows) + 10
    desc = "; ".join(f"{label}: {count}" for label, count in rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="feedback-chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-t">{escape(result.label)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for n, (label, count) in enumerate(rows):
        y = 5 + n * row_h
        w = round(bar_w * count / top)
        short = label if len(label) <= 20 else label[:19] + "…"  # the table beside has it whole
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="14" fill="#1a1a1a">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1)}" height="18" fill="{BAR}"></rect>'
            f'<text x="{label_w + max(w, 1) + 6}" y="{y + 18}" font-size="14" fill="#1a1a1a">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def results_for_events(events) -> list[tuple[object, Results]]:
    """(event, results) for the events among these whose survey has answers, in their order (the
    activity report's section); one query to find them, then one reading per such event."""
    ids = [e.id for e in events]
    answered = (
        set(
            db.session.scalars(
                sa.select(FeedbackResponse.event_id).where(FeedbackResponse.event_id.in_(ids)).distinct()
            )
        )
        if ids
        else set()
    )
    return [(e, results(e.id)) for e in events if e.id in answered]
