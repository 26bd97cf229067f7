"""The work plan pages (/workplan: read by signed-in members and co-chairs, edited by organisers),
the public outputs page (/outputs) and the organisers' output pages; and this module's parts of
the event form and page (events/signals.py), so that events never imports workplan."""

from __future__ import annotations

import functools
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import clock, exports
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError, ValidationFailed
from webinar_mgr.events.signals import PagePart, event_form_parts, event_form_saved, event_page_parts
from webinar_mgr.forms_common import handle_form, int_or_none
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.persistence import get_or_404
from webinar_mgr.security import ORGANISERS, REVIEWERS, access, has_role

from . import files, services
from .forms import ActionItemForm, NoteForm, OutputForm, PlanForm, PriorityForm, StatusForm, VersionForm
from .models import OUTPUT_LANGUAGES, STATUSES, ActionItem, Output, OutputVersion, Priority, WorkPlan, language_label

bp = Blueprint("workplan", __name__)


@bp.app_template_filter("plan_date")
def plan_date(value) -> str:
    """A calendar date (a plan's period, a note's date, a publication date) in the reader's
    language; an aware datetime (an event's start) as its day in the reader's zone."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(reader_timezone())).date()
    return _format_day(value, str(get_locale() or "en"))


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, locale: str) -> str:
    # A page lists the same few hundred days again and again; Babel's formatting is the slow part.
    return format_date(day, "medium", locale=locale)


# Reading the plan ---------------------------------------------------------------------------


def _render_plan(plan: WorkPlan | None):
    editor = services.can_edit(current_user)
    progress = services.plan_page(plan, include_drafts=editor) if plan is not None else None
    return render_template(
        "workplan/plan.html",
        plan=plan,
        progress=progress,
        editor=editor,
        reviewer=has_role(current_user, *REVIEWERS),
        plans=services.plans(),
        statuses=STATUSES,
        today=clock.now().date(),
        reader_zone=reader_timezone(),
        unmatched=services.unmatched_tags() if editor else [],
    )


@bp.get("/workplan")
@access.authenticated
def index():
    return _render_plan(services.current_plan())


@bp.get("/workplan/<int:plan_id>")
@access.authenticated
def plan(plan_id: int):
    return _render_plan(get_or_404(WorkPlan, plan_id, _("There is no such work plan.")))


# Plans and priorities -----------------------------------------------------------------------


def _plan_input(form: PlanForm) -> services.PlanInput:
    return services.PlanInput(
        name=form.name.data or "",
        period_start=form.period_start.data,
        period_end=form.period_end.data,
        current=bool(form.current.data),
        summary=form.summary.data or "",
    )


@bp.route("/workplan/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def plan_new():
    form = PlanForm()

    def done(plan):
        flash(_("Work plan created. Add its priorities and action items."), "success")
        return redirect(url_for("workplan.plan", plan_id=plan.id))

    return handle_form(
        form,
        lambda: services.create_plan(_plan_input(form), actor=current_user),
        render=lambda: render_template("workplan/plan_form.html", form=form, plan=None),
        done=done,
    )


@bp.route("/workplan/<int:plan_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def plan_edit(plan_id: int):
    plan = get_or_404(WorkPlan, plan_id, _("There is no such work plan."))
    form = PlanForm(obj=plan) if request.method == "GET" else PlanForm()

    def done(changed):
        flash(_("Work plan saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("workplan.plan", plan_id=plan.id))

    return handle_form(
        form,
        lambda: services.update_plan(plan, _plan_input(form), actor=current_user),
        render=lambda: render_template("workplan/plan_form.html", form=form, plan=plan),
        done=done,
    )


def _priority_input(form: PriorityForm) -> services.PriorityInput:
    return services.PriorityInput(
        number=form.number.data, title=form.title.data or "", description=form.description.data or ""
    )


@bp.route("/workplan/<int:plan_id>/priorities/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def priority_new(plan_id: int):
    plan = get_or_404(WorkPlan, plan_id, _("There is no such work plan."))
    form = PriorityForm()
    if request.method == "GET":
        form.number.data = max((p.number for p in plan.priorities), default=0) + 1

    def done(priority):
        flash(_("Priority %(number)s added.", number=priority.number), "success")
        return redirect(url_for("workplan.plan", plan_id=plan.id, _anchor=f"priority-{priority.number}"))

    return handle_form(
        form,
        lambda: services.create_priority(plan, _priority_input(form), actor=current_user),
        render=lambda: render_template("workplan/priority_form.html", form=form, plan=plan, priority=None),
        done=done,
    )


@bp.route("/workplan/priorities/<int:priority_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def priority_edit(priority_id: int):
    priority = get_or_404(Priority, priority_id, _("There is no such priority."))
    form = PriorityForm(obj=priority) if request.method == "GET" else PriorityForm()

    def done(changed):
        flash(_("Priority saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("workplan.plan", plan_id=priority.plan_id, _anchor=f"priority-{priority.number}"))

    return handle_form(
        form,
        lambda: services.update_priority(priority, _priority_input(form), actor=current_user),
        render=lambda: render_template("workplan/priority_form.html", form=form, plan=priority.plan, priority=priority),
        done=done,
    )


# Action items -------------------------------------------------------------------------------


def _item_form(plan: WorkPlan, form: ActionItemForm, item: ActionItem | None) -> ActionItemForm:
    form.priority_id.choices = [(p.id, f"{p.number}. {p.title}") for p in plan.priorities]
    form.lead_ids.choices = directory.organisation_choices()
    events = services.events_in_period(plan.period_start, plan.period_end)
    form.event_ids.choices = [(e.id, services.event_choice_label(e)) for e in events]
    form.output_ids.choices = [(o.id, o.title) for o in services.outputs(include_drafts=True)]
    linked_events = [e.id for e in item.events] if item is not None else []
    form.commitment_ids.choices = [
        (c.id, f"{c.contact.name}: {c.description[:80]}") for c in services.commitments_of_events(linked_events)
    ]
    return form


def _item_input(form: ActionItemForm) -> services.ActionItemInput:
    return services.ActionItemInput(
        priority_id=form.priority_id.data,
        number=form.number.data,
        text=form.text.data or "",
        target=form.target.data or "",
        status=form.status.data or "",
        lead_ids=list(form.lead_ids.data or []),
        event_ids=list(form.event_ids.data or []),
        output_ids=list(form.output_ids.data or []),
        commitment_ids=list(form.commitment_ids.data or []),
    )


@bp.route("/workplan/<int:plan_id>/items/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def item_new(plan_id: int):
    plan = get_or_404(WorkPlan, plan_id, _("There is no such work plan."))
    if not plan.priorities:
        flash(_("Add a priority issue first: every action item belongs to one."), "info")
        return redirect(url_for("workplan.priority_new", plan_id=plan.id))
    form = _item_form(plan, ActionItemForm(), None)
    if request.method == "GET":
        form.number.data = services.next_item_number(plan)
        form.priority_id.data = int_or_none(request.args.get("priority"))

    def done(item):
        flash(_("Action item %(number)s added.", number=item.number), "success")
        return redirect(url_for("workplan.plan", plan_id=plan.id, _anchor=f"item-{item.number}"))

    return handle_form(
        form,
        lambda: services.create_action_item(plan, _item_input(form), actor=current_user),
        render=lambda: render_template("workplan/item_form.html", form=form, plan=plan, item=None),
        done=done,
    )


@bp.route("/workplan/items/<int:item_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def item_edit(item_id: int):
    item = get_or_404(ActionItem, item_id, _("There is no such action item."))
    plan = item.priority.plan
    if request.method == "GET":
        form = ActionItemForm(
            data={
                "priority_id": item.priority_id,
                "number": item.number,
                "text": item.text,
                "target": item.target,
                "status": item.status,
                "lead_ids": [o.id for o in item.leads],
                "event_ids": [e.id for e in item.events],
                "output_ids": [o.id for o in item.outputs],
                "commitment_ids": [c.id for c in item.commitments],
            }
        )
    else:
        form = ActionItemForm()
    form = _item_form(plan, form, item)

    def done(changed):
        flash(_("Action item saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("workplan.plan", plan_id=plan.id, _anchor=f"item-{item.number}"))

    return handle_form(
        form,
        lambda: services.update_action_item(item, _item_input(form), actor=current_user),
        render=lambda: render_template("workplan/item_form.html", form=form, plan=plan, item=item),
        done=done,
    )


@bp.route("/workplan/items/<int:item_id>/status", methods=["POST"])
@access.roles(*ORGANISERS)
def item_status(item_id: int):
    item = get_or_404(ActionItem, item_id, _("There is no such action item."))
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400, _("Choose a status."))
    services.change_status(item, form.status.data, note=form.note.data or "", actor=current_user)
    flash(_("Action item %(number)s is now “%(status)s”.", number=item.number, status=item.status_label), "success")
    return redirect(url_for("workplan.plan", plan_id=item.priority.plan_id, _anchor=f"item-{item.number}"))


@bp.route("/workplan/items/<int:item_id>/notes", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def item_note(item_id: int):
    item = get_or_404(ActionItem, item_id, _("There is no such action item."))
    form = NoteForm()
    if request.method == "GET":
        form.noted_on.data = clock.now().date()

    def done(_note):
        flash(_("Progress note added to action item %(number)s.", number=item.number), "success")
        return redirect(url_for("workplan.plan", plan_id=item.priority.plan_id, _anchor=f"item-{item.number}"))

    return handle_form(
        form,
        lambda: services.add_note(
            item, services.NoteInput(noted_on=form.noted_on.data, text=form.text.data or ""), actor=current_user
        ),
        render=lambda: render_template("workplan/note_form.html", form=form, item=item, plan=item.priority.plan),
        done=done,
    )


@bp.post("/workplan/<int:plan_id>/tags")
@access.roles(*ORGANISERS)
def link_tag(plan_id: int):
    """Link every event carrying an earlier free-text tag to an action item of this plan."""
    plan = get_or_404(WorkPlan, plan_id, _("There is no such work plan."))
    tag = request.form.get("tag", "")
    try:
        item, count = services.link_tag(plan, tag, int_or_none(request.form.get("action_item_id")), actor=current_user)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("workplan.plan", plan_id=plan.id, _anchor="tags-h"))
    flash(
        ngettext(
            "%(num)d event linked to action item %(number)s instead of the tag “%(tag)s”.",
            "%(num)d events linked to action item %(number)s instead of the tag “%(tag)s”.",
            count,
            number=item.number,
            tag=tag,
        ),
        "success",
    )
    return redirect(url_for("workplan.plan", plan_id=plan.id, _anchor=f"item-{item.number}"))


# Outputs ------------------------------------------------------------------------------------


@bp.get("/outputs")
@access.public
def outputs():
    refs = services.published_outputs()
    groups = services.outputs_by_language(refs)
    wanted = request.args.get("lang") or ""
    if wanted and wanted not in {code for code, _label, _rows in groups}:
        wanted = ""
    return render_template(
        "workplan/outputs.html",
        outputs=refs,
        groups=[g for g in groups if not wanted or g[0] == wanted],
        all_groups=groups,
        wanted=wanted,
        editor=services.can_edit(current_user),
    )


@bp.get("/outputs/manage")
@access.roles(*ORGANISERS)
def outputs_manage():
    return render_template("workplan/outputs_manage.html", outputs=services.outputs(include_drafts=True))


def _output_form(form: OutputForm) -> OutputForm:
    form.event_ids.choices = [(e.id, services.event_choice_label(e)) for e in services.events_in_period(None, None)]
    form.action_item_ids.choices = [
        (a.id, _("%(plan)s, action item %(number)s", plan=plan.name, number=a.number))
        for plan, priorities in services.action_item_choices()
        for _p, items in priorities
        for a in items
    ]
    return form


def _output_input(form: OutputForm) -> services.OutputInput:
    return services.OutputInput(
        title=form.title.data or "",
        kind=form.kind.data or "",
        description=form.description.data or "",
        published=bool(form.published.data),
        published_on=form.published_on.data,
        event_ids=list(form.event_ids.data or []),
        action_item_ids=list(form.action_item_ids.data or []),
    )


@bp.route("/outputs/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def output_new():
    form = _output_form(OutputForm())

    def done(output):
        flash(_("Output created. Add its language versions."), "success")
        return redirect(url_for("workplan.output", output_id=output.id))

    return handle_form(
        form,
        lambda: services.create_output(_output_input(form), actor=current_user),
        render=lambda: render_template("workplan/output_form.html", form=form, output=None),
        done=done,
    )


@bp.route("/outputs/<int:output_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def output_edit(output_id: int):
    output = get_or_404(Output, output_id, _("There is no such output."))
    if request.method == "GET":
        form = OutputForm(
            data={
                "title": output.title,
                "kind": output.kind,
                "description": output.description,
                "published": output.published,
                "published_on": output.published_on,
                "event_ids": [e.id for e in output.events],
                "action_item_ids": [a.id for a in output.action_items],
            }
        )
    else:
        form = OutputForm()
    form = _output_form(form)

    def done(changed):
        flash(_("Output saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("workplan.output", output_id=output.id))

    return handle_form(
        form,
        lambda: services.update_output(output, _output_input(form), actor=current_user),
        render=lambda: render_template("workplan/output_form.html", form=form, output=output),
        done=done,
    )


def _version_form(output: Output) -> VersionForm:
    """The languages the output has no version in yet (one version per language)."""
    form = VersionForm()
    taken = {v.language for v in output.versions}
    form.language.choices = sorted(
        ((code, language_label(code)) for code in OUTPUT_LANGUAGES if code not in taken),
        key=lambda c: (c[0] != "en", c[1].lower()),
    )
    return form


def _render_output(output: Output, version_form: VersionForm | None = None):
    editor = services.can_edit(current_user)
    if editor and version_form is None:
        version_form = _version_form(output)
        version_form.published_on.data = clock.now().date()
    return render_template(
        "workplan/output.html",
        output=output,
        ref=services.output_ref(output),
        editor=editor,
        version_form=version_form,
        max_mb=f"{files.max_bytes() / 1_048_576:.0f}",
        allowed=files.allowed_names(),
    )


@bp.get("/outputs/<int:output_id>")
@access.public
def output(output_id: int):
    return _render_output(services.get_output(output_id, user=current_user))


@bp.post("/outputs/<int:output_id>/versions")
@access.roles(*ORGANISERS)
def version_add(output_id: int):
    output = get_or_404(Output, output_id, _("There is no such output."))
    form = _version_form(output)
    form.language.validate_choice = False  # the service names a language already there
    upload = form.file.data

    def add():
        return services.add_version(
            output,
            services.VersionInput(
                language=form.language.data or "",
                published_on=form.published_on.data,
                url=form.url.data,
                stream=upload.stream if upload else None,
                filename=(upload.filename or "") if upload else "",
            ),
            actor=current_user,
        )

    def done(version):
        flash(_("The %(language)s version is added.", language=version.language_label), "success")
        return redirect(url_for("workplan.output", output_id=output.id))

    return handle_form(form, add, render=lambda: _render_output(output, form), done=done)


@bp.post("/outputs/versions/<int:version_id>/delete")
@access.roles(*ORGANISERS)
def version_delete(version_id: int):
    version = get_or_404(OutputVersion, version_id, _("There is no such version."))
    output_id = version.output_id  # the CSRF token is checked for every POST (CSRFProtect)
    services.delete_version(version, actor=current_user)
    flash(_("The version is removed."), "success")
    return redirect(url_for("workplan.output", output_id=output_id))


@bp.get("/outputs/versions/<int:version_id>/file")
@access.public
def version_file(version_id: int):
    version, path = services.get_version_file(version_id, user=current_user)
    response = send_file(path, mimetype=version.content_type, conditional=True, max_age=0)
    response.headers["Content-Disposition"] = exports.content_disposition(
        version.filename or path.name, fallback=f"output-{version.output_id}-{version.language}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "public, max-age=300" if version.output.published else "private, no-store"
    return response


# The event form and page (events/signals.py) ------------------------------------------------

FIELD = "action_item_ids"
SHOWN = "action_items_shown"


@event_form_parts.connect
def _event_form_part(event, *, user, formdata=None, errors=None, **_kwargs) -> PagePart | None:
    if not services.can_edit(user):
        return None
    choices = services.action_item_choices()
    if formdata is not None and formdata.get(SHOWN):
        chosen = {int_or_none(v) for v in formdata.getlist(FIELD)}
    else:
        chosen = set(services.linked_item_ids(event))
    html = render_template(
        "workplan/_event_form_part.html",
        choices=choices,
        chosen=chosen,
        errors=(errors or {}).get(FIELD, []),
        tags=list(event.priority_tags or []) if event is not None else [],
        field=FIELD,
        shown=SHOWN,
    )
    return PagePart("form", Markup(html), order=50)


@event_form_saved.connect
def _event_form_saved(event, *, actor, formdata=None, **_kwargs) -> bool:
    if formdata is None or not formdata.get(SHOWN):
        services.check_event_dates(event, event.starts_at, event.tentative_month)
        return False
    ids = []
    for value in formdata.getlist(FIELD):
        number = int_or_none(value)
        if number is None:
            msg = _("Choose action items from the list.")
            raise ValidationFailed(msg, field_errors={FIELD: [msg]})
        ids.append(number)
    return services.set_event_items(event, ids, actor=actor)


@event_page_parts.connect
def _event_page_part(event, *, user, **_kwargs) -> PagePart | None:
    if not services.can_read_plan(user):
        return None
    links = services.links_of_event(event)
    if not links:
        return None
    html = render_template("workplan/_event_page_part.html", links=links)
    return PagePart("status", Markup(html), order=80)
