"""Privacy pages: the notice (/privacy), the administrators' page (notice, retention, a person's
export and erasure) and a registrant's own data behind their manage link.

What privacy adds to lower modules' pages is connected here: the "My data" part of the manage
page (registrations.signals.manage_page_parts) and the notice's address in every template
(``privacy_url``: the forms and the mails' footers).
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, has_request_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import clock, exports, links
from webinar_mgr.errors import DomainError, ValidationFailed
from webinar_mgr.events.signals import PagePart
from webinar_mgr.forms_common import apply_domain_error, form_status, handle_form
from webinar_mgr.registrations.manage_links import registration_from_token
from webinar_mgr.registrations.signals import manage_page_parts
from webinar_mgr.security import ADMINS, access, public_form_limit

from . import people, retention, services
from .forms import EraseForm, NoticeForm, PersonForm, PublicConsentForm, RetentionForm
from .models import KINDS, PURPOSE_PUBLIC

bp = Blueprint("privacy", __name__)


@bp.app_context_processor
def _privacy_link():
    """In every template: ``privacy_page`` (pages link the notice beside their forms and in the
    footer) and ``privacy_url`` (absolute, for the mails' footer: mails are read outside the site,
    and the worker renders them without a request)."""
    return {
        "privacy_url": links.abs_url("privacy.notice"),
        "privacy_page": url_for("privacy.notice") if has_request_context() else None,
    }


@bp.get("/privacy")
@access.public
def notice():
    current = services.current_notice()
    return render_template(
        "privacy/notice.html",
        notice=current,
        paragraphs=[p.strip() for p in (current.body or "").split("\n\n") if p.strip()],
        days=services.retention_days(),
        labels=services.KIND_LABELS,
        kinds=KINDS,
    )


# Administrators ----------------------------------------------------------------------------------


def _admin_page(notice_form=None, retention_form=None, status: int = 200):
    current = services.current_notice()
    if notice_form is None:
        notice_form = NoticeForm(formdata=None, data={"body": current.body or ""})
    if retention_form is None:
        retention_form = RetentionForm(formdata=None, data={k: str(v) for k, v in services.retention_days().items()})
    page = render_template(
        "privacy/admin.html",
        notice=current,
        versions=services.notice_versions(),
        notice_form=notice_form,
        retention_form=retention_form,
        person_form=PersonForm(formdata=None),
        kinds=KINDS,
        preview=retention.purge(dry_run=True),
    )
    return page, status


@bp.get("/admin/privacy")
@access.roles(*ADMINS)
def admin():
    return _admin_page()


@bp.post("/admin/privacy/notice")
@access.roles(*ADMINS)
def save_notice():
    form = NoticeForm()

    def done(row):
        flash(_("Version %(version)d of the privacy notice is published.", version=row.version), "success")
        return redirect(url_for("privacy.admin"))

    return handle_form(
        form,
        lambda: services.save_notice(form.body.data, actor=current_user),
        render=lambda: _admin_page(notice_form=form)[0],
        done=done,
    )


@bp.post("/admin/privacy/retention")
@access.roles(*ADMINS)
def save_retention():
    form = RetentionForm()

    def done(_days):
        flash(_("The retention periods are saved."), "success")
        return redirect(url_for("privacy.admin"))

    return handle_form(
        form,
        lambda: services.set_retention({k: form[k].data for k in KINDS}, actor=current_user),
        render=lambda: _admin_page(retention_form=form)[0],
        done=done,
    )


@bp.route("/admin/privacy/person", methods=["GET", "POST"])
@access.roles(*ADMINS)
def person():
    """Find a person by address (POST: the address stays out of URLs and logs)."""
    form = PersonForm()
    found = None
    if form.validate_on_submit():
        try:
            found = people.require_person(form.email.data)
        except DomainError as exc:
            apply_domain_error(form, exc)
            return render_template(
                "privacy/person.html", labels=people.COUNT_LABELS, form=form, person=None
            ), exc.status_code
    return render_template(
        "privacy/person.html",
        labels=people.COUNT_LABELS,
        form=form,
        person=found,
        erase_form=EraseForm(formdata=None, data={"email": found.email}) if found else None,
    ), form_status(form)


def _export_response(person: people.Person, fmt: str, *, by_link: bool = False):
    if fmt == "json":
        body = people.export_json(person)
        filename = f"personal-data-{clock.now():%Y%m%d}.json"
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": exports.content_disposition(filename), "Cache-Control": "no-store"},
        )
    page = render_template("privacy/export.html", data=people.export_data(person), by_link=by_link)
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


@bp.post("/admin/privacy/person/export")
@access.roles(*ADMINS)
def export():
    form = PersonForm()
    fmt = request.form.get("format", "html")
    if fmt not in ("html", "json"):
        return render_template("privacy/person.html", labels=people.COUNT_LABELS, form=form, person=None), 400
    if not form.validate_on_submit():
        return render_template("privacy/person.html", labels=people.COUNT_LABELS, form=form, person=None), 400
    try:
        found = people.require_person(form.email.data)
    except DomainError as exc:
        apply_domain_error(form, exc)
        return render_template(
            "privacy/person.html", labels=people.COUNT_LABELS, form=form, person=None
        ), exc.status_code
    people.record_export(found, actor=current_user)
    return _export_response(found, fmt)


@bp.post("/admin/privacy/person/erase")
@access.roles(*ADMINS)
def erase():
    form = EraseForm()
    person_form = PersonForm(formdata=None, data={"email": form.email.data})

    def render(status: int):
        found = None
        try:
            found = people.require_person(form.email.data or "")
        except DomainError as exc:
            if not form.form_errors:
                apply_domain_error(form, exc)
        return render_template(
            "privacy/person.html", labels=people.COUNT_LABELS, form=person_form, person=found, erase_form=form
        ), status

    if not form.validate_on_submit():
        return render(400)
    if (form.confirm_email.data or "").strip().lower() != (form.email.data or "").strip().lower():
        form.confirm_email.errors = [_("The two addresses differ: nothing was erased.")]
        return render(400)
    try:
        result = people.erase(form.email.data, actor=current_user)
    except DomainError as exc:
        apply_domain_error(form, exc)
        return render(exc.status_code)
    flash(
        _(
            "%(email)s is erased: %(registrations)d registration(s), %(attendance)d attendance record(s) and "
            "%(commitments)d commitment(s) anonymised, %(mails)d mail(s) removed from the outbox.",
            email=result.email,
            registrations=result.counts["registrations"],
            attendance=result.counts["attendance"],
            commitments=result.counts["commitments"],
            mails=result.counts["mails"],
        ),
        "success",
    )
    return redirect(url_for("privacy.admin"))


# A registrant's own data (behind their manage link) ----------------------------------------------


@manage_page_parts.connect
def _my_data_part(registration, *, token: str, **_kwargs):
    html = render_template("privacy/_manage_part.html", url=url_for("privacy.my_data", token=token))
    return PagePart(slot="privacy", html=Markup(html), order=90)


@bp.get("/privacy/my-data/<token>")
@access.token
def my_data(token: str):
    reg = registration_from_token(token)
    found = people.find_person(reg.email)
    consent = services.current_consent(reg.contact_id, PURPOSE_PUBLIC)
    form = PublicConsentForm(formdata=None, data={"public": bool(consent and consent.granted)})
    return render_template(
        "privacy/my_data.html",
        labels=people.COUNT_LABELS,
        reg=reg,
        token=token,
        person=found,
        consents=services.consent_history(reg.contact_id),
        purposes=services.PURPOSE_LABELS,
        form=form,
    )


@bp.post("/privacy/my-data/<token>/export")
@access.token
@public_form_limit()
def my_data_export(token: str):
    reg = registration_from_token(token)
    fmt = request.form.get("format", "html")
    if fmt not in ("html", "json"):
        raise ValidationFailed(_("Choose the format of the copy: a web page or JSON."))
    found = people.find_person(reg.email)
    people.record_export(found, actor=None, by_link=True)
    return _export_response(found, fmt, by_link=True)


@bp.post("/privacy/my-data/<token>/public")
@access.token
@public_form_limit()
def my_data_public(token: str):
    reg = registration_from_token(token)
    form = PublicConsentForm()
    services.set_public_consent(reg, bool(form.public.data))
    if form.public.data:
        flash(_("Thank you: you agreed to appear on the public pages."), "success")
    else:
        flash(_("You will not appear on the public pages; your public commitments are now private."), "success")
    return redirect(url_for("privacy.my_data", token=token))
