"""Organisers' pages for an event's own questions (/events/<id>/questions: the registration form's
and the feedback survey's), the feedback results (/events/<id>/feedback, organisers and
co-chairs), and the survey behind a personal link (/feedback/<token>)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError
from webinar_mgr.events.services import get_event
from webinar_mgr.events.signals import PageLink, event_page_links
from webinar_mgr.registrations import questions as q
from webinar_mgr.security import ORGANISERS, REVIEWERS, access, public_form_limit

from . import services

bp = Blueprint("questions", __name__)


def _input() -> q.QuestionInput:
    f = request.form
    return q.QuestionInput(
        kind=f.get("kind", ""),
        label=f.get("label", ""),
        help_text=f.get("help_text"),
        required=f.get("required") == "y",
        choices=f.get("choices", ""),
        condition_question_id=f.get("condition_question_id", type=int),
        condition_value=f.get("condition_value"),
    )


def _purpose() -> str:
    p = request.values.get("purpose", q.PURPOSE_REGISTRATION)
    return p if p in q.PURPOSES else q.PURPOSE_REGISTRATION


def _page(event, *, errors=None, message=None, editing=None, status=200):
    return (
        render_template(
            "questions/manage.html",
            event=event,
            registration=q.questions_of(event.id, q.PURPOSE_REGISTRATION),
            feedback=q.questions_of(event.id, q.PURPOSE_FEEDBACK),
            survey=services.survey_of(event.id),
            kinds=q.QUESTION_KINDS,
            errors=errors or {},
            message=message,
            editing=editing,
            values=request.form if request.method == "POST" else None,
            purpose=_purpose(),
            answer_count=q.answer_count,
        ),
        status,
    )


@bp.get("/events/<int:event_id>/questions")
@access.roles(*ORGANISERS)
def manage(event_id: int):
    event = get_event(event_id)
    editing = request.args.get("edit", type=int)
    return _page(event, editing=q.get_question(event.id, editing) if editing else None)


@bp.post("/events/<int:event_id>/questions")
@access.roles(*ORGANISERS)
def add(event_id: int):
    event = get_event(event_id)
    try:
        q.add_question(event, _input(), actor=current_user, purpose=_purpose())
    except DomainError as exc:
        return _page(event, errors=exc.field_errors, message=exc.message, status=exc.status_code)
    flash(_("The question is added."), "success")
    return redirect(url_for("questions.manage", event_id=event.id) + f"#{_purpose()}")


@bp.post("/events/<int:event_id>/questions/<int:question_id>")
@access.roles(*ORGANISERS)
def edit(event_id: int, question_id: int):
    event = get_event(event_id)
    question = q.get_question(event.id, question_id)
    action = request.form.get("action", "save")
    try:
        if action in ("up", "down"):
            q.move_question(question, action, actor=current_user)
            flash(_("The order is saved."), "success")
        elif action == "remove":
            q.remove_question(question, actor=current_user)
            flash(_("The question is removed; answers already given are kept."), "success")
        else:
            q.update_question(question, _input(), actor=current_user)
            flash(_("The question is saved."), "success")
    except DomainError as exc:
        return _page(
            event,
            errors=exc.field_errors,
            message=exc.message,
            editing=question if action == "save" else None,
            status=exc.status_code,
        )
    return redirect(url_for("questions.manage", event_id=event.id) + f"#{question.purpose}")


@bp.post("/events/<int:event_id>/feedback/settings")
@access.roles(*ORGANISERS)
def settings(event_id: int):
    event = get_event(event_id)
    try:
        services.save_settings(
            event,
            enabled=request.form.get("enabled") == "y",
            anonymous=request.form.get("anonymous") == "y",
            intro=request.form.get("intro"),
            actor=current_user,
        )
    except DomainError as exc:
        return _page(event, errors=exc.field_errors, message=exc.message, status=exc.status_code)
    flash(_("The feedback survey's settings are saved."), "success")
    return redirect(url_for("questions.manage", event_id=event.id) + "#feedback")


@bp.get("/events/<int:event_id>/feedback")
@access.roles(*REVIEWERS)
def results(event_id: int):
    event = get_event(event_id)
    res = services.results(event.id)
    charts = {n: Markup(services.bar_chart_svg(r, f"fb{n}")) for n, r in enumerate(res.questions) if r.counts}
    return render_template(
        "questions/results.html", event=event, results=res, charts=charts, survey=services.survey_of(event.id)
    )


@bp.route("/feedback/<token>", methods=["GET", "POST"])
@access.token
@public_form_limit()
def answer(token: str):
    try:
        opened = services.open_link(token)
    except DomainError as exc:
        return render_template("questions/answered.html", message=exc.message), exc.status_code
    errors: dict = {}
    message = None
    if request.method == "POST":
        try:
            services.submit(token, request.form)
        except DomainError as exc:
            errors, message = exc.field_errors, exc.message
            if exc.status_code == 409:
                return render_template("questions/answered.html", message=exc.message), 409
            return _survey_page(opened, token, errors, message), exc.status_code
        return render_template("questions/answered.html", message=_("Thank you: your answers are saved."), thanks=True)
    return _survey_page(opened, token, errors, message), 200


def _survey_page(opened, token, errors, message):
    return render_template(
        "questions/survey.html",
        opened=opened,
        event=opened.event,
        token=token,
        questions=opened.questions,
        values=request.form if request.method == "POST" else None,
        errors=errors,
        message=message,
        countries=directory.country_choices(),
    )


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> list[PageLink]:
    return [
        PageLink(_("Questions"), url_for("questions.manage", event_id=event.id), order=25),
        PageLink(_("Feedback"), url_for("questions.results", event_id=event.id), order=85),
    ]
