"""An event's own questions (issue 15): on the registration form (purpose "registration") and in
the feedback survey after the event (purpose "feedback", answered in the questions module above).

Rules, all here so that the registration form and the survey follow the same ones:
- a question has a kind (QUESTION_KINDS), a label, optional help text, required or optional, a
  position; the choice kinds need at least one choice (at most 30, no two the same);
- a question may be shown only if an EARLIER question of the same form (single choice, multiple
  choice or yes/no) has a given answer: a condition on a later question or on itself is refused,
  and so is a reorder or a removal that would break one;
- answers are checked on the server (the page's script only shows and hides): a hidden question's
  answer is dropped, a required visible one must be given;
- an answer keeps the question's label and the chosen labels as they were when answered, so
  editing or removing a question later keeps what people said.
Access needs (interpretation, accessibility) stay the registration's own optional field
(``Registration.accessibility_needs``), shown beside these questions as the built-in one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from webinar_mgr import clock, text
from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import NotFound, ValidationFailed
from webinar_mgr.events.signals import event_copied
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional

from .models import Registration

PURPOSE_REGISTRATION = "registration"
PURPOSE_FEEDBACK = "feedback"
PURPOSES = (PURPOSE_REGISTRATION, PURPOSE_FEEDBACK)

SHORT_TEXT, LONG_TEXT, SINGLE, MULTIPLE, YES_NO, NUMBER, DATE, COUNTRY, CONSENT = (
    "short_text",
    "long_text",
    "single_choice",
    "multiple_choice",
    "yes_no",
    "number",
    "date",
    "country",
    "consent",
)
QUESTION_KINDS = {
    SHORT_TEXT: _l("Short text"),
    LONG_TEXT: _l("Long text"),
    SINGLE: _l("Single choice"),
    MULTIPLE: _l("Multiple choice"),
    YES_NO: _l("Yes / no"),
    NUMBER: _l("Number"),
    DATE: _l("Date"),
    COUNTRY: _l("Country"),
    CONSENT: _l("Consent checkbox"),
}
CHOICE_KINDS = (SINGLE, MULTIPLE)
#: Kinds a condition may look at (their answers are one of a known list).
CONDITION_KINDS = (SINGLE, MULTIPLE, YES_NO)
YES, NO = "yes", "no"
MAX_CHOICES = 30
TEXT_LIMITS = {SHORT_TEXT: 500, LONG_TEXT: 4000}


class Question(db.Model):
    __tablename__ = "event_questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(16), default=PURPOSE_REGISTRATION)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(300))
    help_text: Mapped[str | None] = mapped_column(sa.String(1000))
    required: Mapped[bool] = mapped_column(default=False)
    choices: Mapped[list | None] = mapped_column(sa.JSON)
    condition_question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event_questions.id", ondelete="SET NULL"))
    condition_value: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (
        sa.CheckConstraint("purpose IN ('registration', 'feedback')", name="question_purpose"),
        sa.Index("ix_event_questions_event_purpose", "event_id", "purpose", "position"),
    )

    @property
    def kind_label(self) -> str:
        return str(QUESTION_KINDS.get(self.kind, self.kind))

    @property
    def field_name(self) -> str:
        return f"q_{self.id}"

    @property
    def options(self) -> list[str]:
        """The answers a choice or yes/no question offers (what a condition may name)."""
        if self.kind == YES_NO:
            return [YES, NO]
        return list(self.choices or [])


class RegistrationAnswer(db.Model):
    """One registrant's answer, with the question's label and the chosen labels as they were."""

    __tablename__ = "registration_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("event_questions.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(300))
    value: Mapped[str] = mapped_column(sa.Text)
    values: Mapped[list | None] = mapped_column(sa.JSON)  # the chosen labels (choice kinds)
    answered_at: Mapped[datetime] = mapped_column(default=clock.now)


# Reading --------------------------------------------------------------------------------------


def questions_of(event_id: int, purpose: str = PURPOSE_REGISTRATION) -> list[Question]:
    return list(
        db.session.scalars(
            sa.select(Question)
            .where(Question.event_id == event_id, Question.purpose == purpose)
            .order_by(Question.position, Question.id)
        )
    )


def get_question(event_id: int, question_id: int) -> Question:
    q = db.session.get(Question, question_id)
    if q is None or q.event_id != event_id:
        raise NotFound(_("This question does not exist (any more)."))
    return q


def answer_count(question: Question) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(RegistrationAnswer).where(RegistrationAnswer.question_id == question.id)
    )


# Defining questions ----------------------------------------------------------------------------


@dataclass
class QuestionInput:
    kind: str
    label: str
    help_text: str | None = None
    required: bool = False
    choices: str | list[str] | None = None  # one per line, or a list
    condition_question_id: int | None = None
    condition_value: str | None = None


def _clean_choices(raw) -> list[str]:
    lines = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    return [c for c in (text.single_line(line) for line in lines) if c]


def _check(event_id: int, purpose: str, data: QuestionInput, *, position: int, question: Question | None) -> dict:
    errors: dict[str, list[str]] = {}
    values: dict = {}
    if data.kind not in QUESTION_KINDS:
        errors["kind"] = [_("Choose the kind of question from the list.")]
    label = text.single_line(data.label)
    if not label:
        errors["label"] = [_("Write the question.")]
    elif len(label) > 300:
        errors["label"] = [_("Too long (%(n)d characters at most).", n=300)]
    help_text = text.multi_line(data.help_text) or None
    if help_text and len(help_text) > 1000:
        errors["help_text"] = [_("Too long (%(n)d characters at most).", n=1000)]
    choices = _clean_choices(data.choices) if data.kind in CHOICE_KINDS else None
    if data.kind in CHOICE_KINDS:
        if not choices:
            errors["choices"] = [_("A choice question needs at least one choice: write one per line.")]
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = [_("%(n)d choices at most.", n=MAX_CHOICES)]
        elif len({c.casefold() for c in choices}) != len(choices):
            errors["choices"] = [_("Two choices are the same: each choice must be different.")]
        elif any(len(c) > 300 for c in choices):
            errors["choices"] = [_("A choice is too long (%(n)d characters at most).", n=300)]
    cond_id = data.condition_question_id or None
    cond_value = text.single_line(data.condition_value) or None
    if cond_id is not None:
        source = db.session.get(Question, cond_id)
        if source is None or source.event_id != event_id or source.purpose != purpose:
            errors["condition_question_id"] = [_("The condition names a question that is not on this form.")]
        elif question is not None and source.id == question.id:
            errors["condition_question_id"] = [_("A question cannot depend on its own answer.")]
        elif (source.position, source.id) >= (position, question.id if question else 10**12):
            errors["condition_question_id"] = [
                _(
                    "A question can only depend on an earlier question: move it below “%(label)s” first.",
                    label=source.label,
                )
            ]
        elif source.kind not in CONDITION_KINDS:
            errors["condition_question_id"] = [
                _("A condition can only look at a single choice, multiple choice or yes/no question.")
            ]
        elif cond_value not in source.options:
            errors["condition_value"] = [
                _(
                    "Choose one of the answers of “%(label)s”: %(choices)s.",
                    label=source.label,
                    choices=", ".join(source.options),
                )
            ]
    elif cond_value:
        errors["condition_question_id"] = [_("Choose the earlier question that the answer belongs to.")]
    if errors:
        raise ValidationFailed(_("The question is not saved: please correct the marked fields."), field_errors=errors)
    values.update(
        kind=data.kind,
        label=label,
        help_text=help_text,
        required=bool(data.required),
        choices=choices,
        condition_question_id=cond_id,
        condition_value=cond_value if cond_id else None,
    )
    return values


@transactional
def add_question(event, data: QuestionInput, *, actor, purpose: str = PURPOSE_REGISTRATION) -> Question:
    last = db.session.scalar(
        sa.select(sa.func.max(Question.position)).where(Question.event_id == event.id, Question.purpose == purpose)
    )
    position = (last or 0) + 1
    values = _check(event.id, purpose, data, position=position, question=None)
    q = Question(event_id=event.id, purpose=purpose, position=position, **values)
    db.session.add(q)
    db.session.flush()
    audit.record(actor, "question.add", q, summary=f"{purpose}: {q.label}")
    return q


@transactional
def update_question(question: Question, data: QuestionInput, *, actor) -> Question:
    """Answers already given keep the label and choices they were given with."""
    values = _check(question.event_id, question.purpose, data, position=question.position, question=question)
    if values["kind"] not in CONDITION_KINDS or (
        question.options and set(question.options) - set(_options_of(values["kind"], values["choices"]))
    ):
        dependent = [
            d
            for d in questions_of(question.event_id, question.purpose)
            if d.condition_question_id == question.id
            and (
                values["kind"] not in CONDITION_KINDS
                or d.condition_value not in _options_of(values["kind"], values["choices"])
            )
        ]
        if dependent:
            raise ValidationFailed(
                _(
                    "“%(label)s” is shown only for an answer this change removes: change its condition first.",
                    label=dependent[0].label,
                ),
                field_errors={"choices": [_("Another question depends on this answer.")]},
            )
    before = {k: getattr(question, k) for k in values}
    for k, v in values.items():
        setattr(question, k, v)
    audit.record(actor, "question.update", question, changes=audit.diff(before, values))
    return question


def _options_of(kind: str, choices: list | None) -> list[str]:
    return [YES, NO] if kind == YES_NO else list(choices or [])


@transactional
def move_question(question: Question, direction: str, *, actor) -> Question:
    """Up or down by one; refused when a condition would then look at a later question."""
    items = questions_of(question.event_id, question.purpose)
    i = next(n for n, q in enumerate(items) if q.id == question.id)
    j = i - 1 if direction == "up" else i + 1
    if direction not in ("up", "down") or not 0 <= j < len(items):
        raise ValidationFailed(_("This question cannot move further."))
    other = items[j]
    first, second = (other, question) if j < i else (question, other)
    if second.condition_question_id == first.id:
        raise ValidationFailed(
            _(
                "“%(later)s” depends on the answer to “%(earlier)s”, so it must stay below it.",
                later=second.label,
                earlier=first.label,
            )
        )
    items[i], items[j] = items[j], items[i]
    for n, q in enumerate(items, start=1):
        q.position = n
    audit.record(actor, "question.move", question, summary=direction)
    return question


@transactional
def remove_question(question: Question, *, actor) -> None:
    """Answers given to it stay (with their label); a question others depend on cannot go."""
    dependent = [d for d in questions_of(question.event_id, question.purpose) if d.condition_question_id == question.id]
    if dependent:
        raise ValidationFailed(
            _(
                "“%(label)s” depends on this question's answer: remove or change its condition first.",
                label=dependent[0].label,
            )
        )
    db.session.execute(
        sa.update(RegistrationAnswer).where(RegistrationAnswer.question_id == question.id).values(question_id=None)
    )
    audit.record(actor, "question.remove", question, summary=question.label)
    db.session.delete(question)


@transactional
def copy_questions(source_event, target_event, *, actor, purposes: Iterable[str] = PURPOSES) -> list[Question]:
    """The source event's questions (registration and feedback) added to the target event, in
    order, with their conditions pointing at the copies; no answers."""
    copies: list[Question] = []
    for purpose in purposes:
        start = (
            db.session.scalar(
                sa.select(sa.func.max(Question.position)).where(
                    Question.event_id == target_event.id, Question.purpose == purpose
                )
            )
            or 0
        )
        mapping: dict[int, Question] = {}
        for n, q in enumerate(questions_of(source_event.id, purpose), start=start + 1):
            c = Question(
                event_id=target_event.id,
                purpose=purpose,
                position=n,
                kind=q.kind,
                label=q.label,
                help_text=q.help_text,
                required=q.required,
                choices=list(q.choices) if q.choices else None,
                condition_value=q.condition_value,
            )
            db.session.add(c)
            db.session.flush()
            if q.condition_question_id in mapping:
                c.condition_question_id = mapping[q.condition_question_id].id
            else:
                c.condition_value = None
            mapping[q.id] = c
            copies.append(c)
    if copies:
        audit.record(actor, "question.copy", target_event, summary=f"{len(copies)} from event {source_event.id}")
    return copies


# Answering -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenAnswer:
    question: Question
    value: str  # as shown (labels joined for multiple choice, "yes"/"no", ISO dates, country names)
    values: list[str] | None = None


def _getlist(formdata: Mapping | None, name: str) -> list[str]:
    if formdata is None:
        return []
    if hasattr(formdata, "getlist"):
        return [v for v in formdata.getlist(name) if isinstance(v, str)]
    v = formdata.get(name)
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)]


_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def is_shown(question: Question, given: Mapping[int, GivenAnswer]) -> bool:
    """A question with a condition is shown when its earlier question's answer has the value."""
    if question.condition_question_id is None:
        return True
    answer = given.get(question.condition_question_id)
    if answer is None:
        return False
    chosen = answer.values if answer.values is not None else [answer.value]
    return question.condition_value in chosen


def check_answers(
    questions: list[Question], formdata: Mapping | None
) -> tuple[list[GivenAnswer], dict[str, list[str]]]:
    """The answers given (visible questions only) and the field errors, keyed by ``q_<id>``."""
    given: dict[int, GivenAnswer] = {}
    errors: dict[str, list[str]] = {}
    countries = None
    for q in questions:
        if not is_shown(q, given):
            continue
        raw = [v.strip() for v in _getlist(formdata, q.field_name)]
        raw = [v for v in raw if v]
        name = q.field_name
        if not raw:
            if q.required:
                msg = _("Please tick this box to go on.") if q.kind == CONSENT else _("Please answer this question.")
                errors[name] = [msg]
            continue
        if q.kind in TEXT_LIMITS:
            value = text.multi_line(raw[0]) if q.kind == LONG_TEXT else text.single_line(raw[0])
            if len(value) > TEXT_LIMITS[q.kind]:
                errors[name] = [_("Too long (%(n)d characters at most).", n=TEXT_LIMITS[q.kind])]
            elif value:
                given[q.id] = GivenAnswer(q, value)
            elif q.required:
                errors[name] = [_("Please answer this question.")]
        elif q.kind in (SINGLE, YES_NO):
            if raw[0] not in q.options or len(raw) > 1:
                errors[name] = [_("Choose one of the answers offered.")]
            else:
                given[q.id] = GivenAnswer(q, raw[0], [raw[0]])
        elif q.kind == MULTIPLE:
            picked = [c for c in q.options if c in raw]
            if len(picked) != len(set(raw)):
                errors[name] = [_("Choose among the answers offered.")]
            else:
                given[q.id] = GivenAnswer(q, "; ".join(picked), picked)
        elif q.kind == NUMBER:
            try:
                if not _NUMBER.match(raw[0]):
                    raise InvalidOperation
                number = Decimal(raw[0].replace(",", "."))
            except InvalidOperation:
                errors[name] = [_("Write a number, for example 12 or 3.5.")]
            else:
                given[q.id] = GivenAnswer(q, format(number.normalize(), "f"))
        elif q.kind == DATE:
            try:
                given[q.id] = GivenAnswer(q, date.fromisoformat(raw[0]).isoformat())
            except ValueError:
                errors[name] = [_("Write a date as year-month-day, for example 2026-03-31.")]
        elif q.kind == COUNTRY:
            countries = countries if countries is not None else dict(directory.country_choices())
            if raw[0] not in countries:
                errors[name] = [_("Choose a country from the list.")]
            else:
                given[q.id] = GivenAnswer(q, str(countries[raw[0]]), [raw[0]])
        elif q.kind == CONSENT:
            if raw[0] != YES:
                errors[name] = [_("Please tick this box to go on.")]
            else:
                given[q.id] = GivenAnswer(q, YES, [YES])
    return list(given.values()), errors


def save_registration_answers(registration, answers: list[GivenAnswer]) -> None:
    """Replace a registration's answers (inside the caller's unit of work)."""
    db.session.execute(sa.delete(RegistrationAnswer).where(RegistrationAnswer.registration_id == registration.id))
    now = clock.now()
    for a in answers:
        db.session.add(
            RegistrationAnswer(
                registration_id=registration.id,
                question_id=a.question.id,
                position=a.question.position,
                kind=a.question.kind,
                label=a.question.label,
                value=a.value,
                values=a.values,
                answered_at=now,
            )
        )


def answers_by_registration(registration_ids: list[int]) -> dict[int, list[RegistrationAnswer]]:
    found: dict[int, list[RegistrationAnswer]] = {}
    if not registration_ids:
        return found
    rows = db.session.scalars(
        sa.select(RegistrationAnswer)
        .where(RegistrationAnswer.registration_id.in_(registration_ids))
        .order_by(RegistrationAnswer.registration_id, RegistrationAnswer.position, RegistrationAnswer.id)
    )
    for a in rows:
        found.setdefault(a.registration_id, []).append(a)
    return found


def export_columns(event_id: int) -> list[tuple[int | None, str]]:
    """The export's extra columns: the event's questions in order, then labels of answers to
    questions since removed."""
    cols: list[tuple[int | None, str]] = [(q.id, q.label) for q in questions_of(event_id)]
    removed = db.session.execute(
        sa.select(RegistrationAnswer.label)
        .join(Registration, Registration.id == RegistrationAnswer.registration_id)
        .where(Registration.event_id == event_id, RegistrationAnswer.question_id.is_(None))
        .distinct()
    ).scalars()
    cols.extend((None, label) for label in sorted(removed))
    return cols


def export_values(columns: list[tuple[int | None, str]], answers: list[RegistrationAnswer]) -> list[str]:
    by_id = {a.question_id: a.value for a in answers if a.question_id is not None}
    by_label = {a.label: a.value for a in answers if a.question_id is None}
    return [by_id.get(qid, "") if qid is not None else by_label.get(label, "") for qid, label in columns]


@event_copied.connect
def _copy_with_the_event(source, *, target, actor, **_kwargs) -> None:
    """A copied event takes its registration and feedback questions (no answers), in the copy's
    unit of work (events/copying.py)."""
    copy_questions(source, target, actor=actor)
