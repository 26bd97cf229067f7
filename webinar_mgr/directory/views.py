"""Directory pages: contacts and organisations (organisers edit, co-chairs browse), the
two-step CSV import of contacts (upload -> preview -> confirm) and the organisations people added,
to review (fix, mark reviewed, merge) with the people who cannot be counted yet."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr import exports
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import DomainError
from webinar_mgr.forms_common import apply_domain_error, form_status, handle_form
from webinar_mgr.persistence import get_or_404
from webinar_mgr.security import ORGANISERS, REVIEWERS, access, has_role

from . import membership as memberships
from . import review as reviews
from . import services
from .forms import (
    ConfirmImportForm,
    ContactForm,
    EncodingForm,
    ImportForm,
    MembershipForm,
    MergeForm,
    OrganisationForm,
    ReviewForm,
)
from .models import SECTORS, Contact, Organisation
from .signals import collect_gaps

bp = Blueprint("directory", __name__, url_prefix="/directory")


def _can_edit() -> bool:
    return has_role(current_user, *ORGANISERS)


def _actor():
    return current_user._get_current_object()


def _contact(contact_id: int) -> Contact:
    return get_or_404(Contact, contact_id, _("There is no such contact."))


def _organisation(organisation_id: int) -> Organisation:
    return get_or_404(Organisation, organisation_id, _("There is no such organisation."))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value and value > 0 else None


@bp.context_processor
def _navigation():
    # A callable: the count is asked only when the navigation shows the link (organisers).
    return {"review_waiting": reviews.review_count}


# Contacts ----------------------------------------------------------------------------------------


@bp.get("/")
@access.roles(*REVIEWERS)
def contacts():
    sector = request.args.get("sector") or None
    filters = services.ContactFilters(
        q=(request.args.get("q") or "")[:200],
        organisation_id=_int_arg("organisation"),
        sector=sector if sector in SECTORS else None,
        member_government_id=_int_arg("member"),
        tag=(request.args.get("tag") or "")[:64] or None,
        focal_only=bool(request.args.get("focal")),
    )
    page = services.search_contacts(filters, page=request.args.get("page", 1, type=int))
    return render_template(
        "directory/contacts.html",
        page=page,
        filters=filters,
        sectors=SECTORS,
        organisations=services.organisation_choices(),
        members=services.member_government_choices(),
        tags=services.tag_names(),
        can_edit=_can_edit(),
    )


@bp.get("/contacts/<int:contact_id>")
@access.roles(*REVIEWERS)
def contact_detail(contact_id: int):
    contact = _contact(contact_id)
    history = audit.search(object_type="Contact", object_id=contact.id, per_page=20)
    return render_template(
        "directory/contact_detail.html", contact=contact, history=history.items, can_edit=_can_edit()
    )


def _contact_form(contact=None) -> ContactForm:
    form = ContactForm(obj=contact) if contact is not None and request.method == "GET" else ContactForm()
    form.organisation_id.choices = [(0, _("(none)"))] + services.organisation_choices()
    if contact is not None and request.method == "GET":
        form.organisation_id.data = contact.organisation_id or 0
        form.timezone.data = contact.timezone or ""
        form.language.data = contact.language or ""
        form.tags.data = ", ".join(contact.tag_names)
    elif contact is None and request.method == "GET":
        form.organisation_id.data = request.args.get("organisation", 0, type=int)
    return form


def _contact_data(form: ContactForm) -> services.ContactData:
    return services.ContactData(
        name=form.name.data or "",
        email=form.email.data or "",
        organisation_id=form.organisation_id.data or None,
        position=form.position.data,
        focal_point=bool(form.focal_point.data),
        phone=form.phone.data,
        timezone=form.timezone.data,
        tags=form.tags.data,
        notes=form.notes.data,
        language=form.language.data,
    )


def _edit_contact(contact=None):
    form = _contact_form(contact)

    def save():
        if contact is None:
            return services.create_contact(_contact_data(form), actor=_actor())
        return services.update_contact(contact, _contact_data(form), actor=_actor())

    def done(saved):
        if contact is None:
            flash(_("Contact %(name)s added.", name=saved.name), "success")
        else:
            flash(_("Contact %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("directory.contact_detail", contact_id=saved.id))

    return handle_form(
        form,
        save,
        render=lambda: render_template("directory/contact_form.html", form=form, contact=contact),
        done=done,
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def contact_new():
    return _edit_contact(None)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def contact_edit(contact_id: int):
    return _edit_contact(_contact(contact_id))


# Organisations -----------------------------------------------------------------------------------


@bp.get("/organisations")
@access.roles(*REVIEWERS)
def organisations():
    sector = request.args.get("sector") or None
    sector = sector if sector in SECTORS else None
    q = (request.args.get("q") or "")[:200]
    wg = bool(request.args.get("wg"))
    page = services.search_organisations(
        q=q, sector=sector, working_group=wg, page=request.args.get("page", 1, type=int)
    )
    return render_template(
        "directory/organisations.html", page=page, q=q, sector=sector, wg=wg, sectors=SECTORS, can_edit=_can_edit()
    )


@bp.get("/organisations/<int:organisation_id>")
@access.roles(*REVIEWERS)
def organisation_detail(organisation_id: int):
    org = _organisation(organisation_id)
    return render_template(
        "directory/organisation_detail.html",
        org=org,
        contacts=services.organisation_contacts(org),
        can_edit=_can_edit(),
        membership_form=MembershipForm(formdata=None) if _can_edit() and org.is_member_government else None,
    )


@bp.post("/organisations/<int:organisation_id>/membership")
@access.roles(*ORGANISERS)
def organisation_membership(organisation_id: int):
    """Record a period of Working Group membership (joined, left) for a member government."""
    org = _organisation(organisation_id)
    form = MembershipForm()

    def render():
        return render_template(
            "directory/organisation_detail.html",
            org=org,
            contacts=services.organisation_contacts(org),
            can_edit=True,
            membership_form=form,
        )

    def done(_membership):
        flash(_("The Working Group membership of %(name)s is recorded.", name=org.name), "success")
        return redirect(url_for("directory.organisation_detail", organisation_id=org.id, _anchor="membership"))

    return handle_form(
        form,
        lambda: memberships.record_membership(
            org, joined_on=form.joined_on.data, left_on=form.left_on.data, note=form.note.data, actor=_actor()
        ),
        render=render,
        done=done,
    )


def _org_data(form: OrganisationForm) -> services.OrganisationData:
    return services.OrganisationData(
        name=form.name.data or "",
        sector=form.sector.data or "",
        short_name=form.short_name.data,
        country_code=form.country_code.data,
        member_government_id=form.member_government_id.data,
        working_group_member=bool(form.working_group_member.data),
        website=form.website.data,
        notes=form.notes.data,
    )


def _edit_org(org=None):
    form = OrganisationForm(obj=org) if org is not None and request.method == "GET" else OrganisationForm()

    def save():
        if org is None:
            return services.create_organisation(_org_data(form), actor=_actor())
        return services.update_organisation(org, _org_data(form), actor=_actor())

    def done(saved):
        if org is None:
            flash(_("Organisation %(name)s added.", name=saved.name), "success")
        else:
            flash(_("Organisation %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("directory.organisation_detail", organisation_id=saved.id))

    return handle_form(
        form,
        save,
        render=lambda: render_template("directory/organisation_form.html", form=form, org=org),
        done=done,
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def organisation_new():
    return _edit_org(None)


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def organisation_edit(organisation_id: int):
    return _edit_org(_organisation(organisation_id))


# CSV import --------------------------------------------------------------------------------------


def _limit_mb() -> float:
    return round(current_app.config.get("CSV_MAX_BYTES", services.DEFAULT_CSV_MAX_BYTES) / 1_048_576, 1)


@bp.route("/import", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def import_upload():
    form = ImportForm()
    preview = None
    if form.validate_on_submit():
        limit = current_app.config.get("CSV_MAX_BYTES", services.DEFAULT_CSV_MAX_BYTES)
        data = form.file.data.read(limit + 1)
        upload, preview = services.stage_contacts_upload(
            form.file.data.filename, data, encoding=form.encoding.data or None, actor=_actor()
        )
        if upload is not None:
            return redirect(url_for("directory.import_preview", upload_id=upload.id))
    status = 422 if preview is not None else form_status(form)
    return render_template(
        "directory/import_upload.html",
        form=form,
        preview=preview,
        limit_mb=_limit_mb(),
        columns=services.CSV_COLUMNS,
        sectors=list(SECTORS),
        can_edit=True,
    ), status


@bp.get("/import/<upload_id>")
@access.roles(*ORGANISERS)
def import_preview(upload_id: str):
    upload, preview = services.pending_preview(upload_id, actor=_actor())
    return render_template(
        "directory/import_preview.html",
        upload=upload,
        preview=preview,
        form=ConfirmImportForm(upload_id=upload.id),
        encoding_form=EncodingForm(encoding=services.upload_encoding(upload) or ""),
        encoding_action=url_for("directory.import_encoding", upload_id=upload.id),
        can_edit=True,
    )


@bp.post("/import/<upload_id>/encoding")
@access.roles(*ORGANISERS)
def import_encoding(upload_id: str):
    form = EncodingForm()
    if form.validate_on_submit():
        services.choose_upload_encoding(upload_id, form.encoding.data or "", actor=_actor())
    else:
        flash(_("Choose an encoding from the list."), "error")
    return redirect(url_for("directory.import_preview", upload_id=upload_id))


@bp.post("/import/confirm")
@access.roles(*ORGANISERS)
def import_confirm():
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        flash(_("The confirmation did not say which upload to import: upload the file again."), "error")
        return redirect(url_for("directory.import_upload"))
    try:
        contacts = services.confirm_contacts_upload(form.upload_id.data, actor=_actor())
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        apply_domain_error(form, exc)
        upload, preview = services.pending_preview(form.upload_id.data, actor=_actor())
        return render_template(
            "directory/import_preview.html",
            upload=upload,
            preview=preview,
            form=form,
            encoding_form=EncodingForm(encoding=services.upload_encoding(upload) or ""),
            encoding_action=url_for("directory.import_encoding", upload_id=upload.id),
            can_edit=True,
        ), exc.status_code
    flash(_("%(n)d contacts imported.", n=len(contacts)), "success")
    return redirect(url_for("directory.contacts"))


@bp.get("/import/template.csv")
@access.roles(*ORGANISERS)
def import_template():
    # A blank template with one fictional example row: no one's data, so nothing to audit.
    template = exports.ExportFile(
        body=services.csv_template(), mimetype=exports.FORMATS["csv"], filename="contacts-template.csv"
    )
    return exports.response(template)


# New organisations to review ----------------------------------------------------------------------


GAPS_SHOWN = 200


def _review_forms(page, posted: tuple[str, int, object] | None):
    """A small review form and a merge form per row; the one just posted keeps what was sent
    and its errors."""
    countries = [("", _("(none)"))] + services.country_choices()
    members = [(None, _("(none)"))] + services.member_government_choices()
    kind, posted_id, posted_form = posted or ("", 0, None)
    forms = {}
    for row in page.rows:
        org = row.organisation
        form = posted_form if (kind, posted_id) == ("review", org.id) else None
        if form is None:
            form = ReviewForm(
                prefix=f"r{org.id}",
                formdata=None,
                data={
                    "sector": org.sector,
                    "country_code": org.country_code or "",
                    "member_government_id": org.member_government_id,
                },
            )
        form.country_code.choices = countries
        form.member_government_id.choices = members
        merge = posted_form if (kind, posted_id) == ("merge", org.id) else None
        if merge is None:
            merge = MergeForm(prefix=f"m{org.id}", formdata=None, data={"target": row.suggestion})
        forms[org.id] = (form, merge)
    return forms


def _review_page(posted: tuple[str, int, object] | None = None):
    page = reviews.organisations_to_review(page=request.args.get("page", 1, type=int))
    gaps = collect_gaps()
    return render_template(
        "directory/review.html",
        page=page,
        forms=_review_forms(page, posted),
        failed=posted[2] if posted else None,
        gaps=gaps[:GAPS_SHOWN],
        gap_total=len(gaps),
        organisation_names=reviews.known_names(),
        can_edit=True,
    )


@bp.get("/review")
@access.roles(*ORGANISERS)
def review():
    return _review_page()


def _back_to_review(message: str):
    flash(message, "success")
    page = request.args.get("page", type=int)
    return redirect(url_for("directory.review", page=page if page and page > 1 else None))


@bp.post("/review/<int:organisation_id>")
@access.roles(*ORGANISERS)
def review_save(organisation_id: int):
    form = ReviewForm(prefix=f"r{organisation_id}")
    form.country_code.choices = []
    form.member_government_id.choices = []
    reviewed = bool(form.review.data)

    def save():
        data = reviews.ReviewData(
            sector=form.sector.data or "",
            country_code=form.country_code.data,
            member_government_id=form.member_government_id.data,
            reviewed=reviewed,
        )
        return reviews.review_organisation(organisation_id, data, actor=_actor())

    def done(org):
        if reviewed:
            return _back_to_review(_("%(name)s is reviewed.", name=org.name))
        return _back_to_review(_("%(name)s saved; it stays on the list.", name=org.name))

    return handle_form(form, save, render=lambda: _review_page(("review", organisation_id, form)), done=done)


@bp.post("/review/<int:organisation_id>/merge")
@access.roles(*ORGANISERS)
def review_merge(organisation_id: int):
    form = MergeForm(prefix=f"m{organisation_id}")
    name = _organisation(organisation_id).name

    def merge():
        return reviews.merge_organisation(organisation_id, form.target.data, actor=_actor())

    def done(into):
        return _back_to_review(_("%(source)s merged into %(target)s.", source=name, target=into.name))

    return handle_form(form, merge, render=lambda: _review_page(("merge", organisation_id, form)), done=done)
