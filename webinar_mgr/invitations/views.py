from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webinar_mgr.directory import services as directory
from webinar_mgr.directory.forms import EncodingForm
from webinar_mgr.errors import DomainError, NotFound
from webinar_mgr.events.services import get_event
from webinar_mgr.events.signals import PageLink, event_page_links
from webinar_mgr.extensions import db
from webinar_mgr.forms_common import apply_domain_error
from webinar_mgr.security import ORGANISERS, access, public_form_limit

from . import services
from .forms import ConfirmGuestsForm, DirectoryForm, GuestsForm
from .models import CATEGORIES
from .signals import landing_page

bp = Blueprint("invitations", __name__)


def _directory_form(formdata=None) -> DirectoryForm:
    """The directory filter. It is sent with GET to its preview (nothing changes until confirmed
    there); the confirmation's POST is covered by the app-wide CSRF check."""
    dform = DirectoryForm(formdata, prefix="dir", meta={"csrf": False})
    dform.member_government_id.choices = [("", _("Any"))] + directory.member_government_choices()
    dform.tag.choices = [("", _("Any"))] + [(t, t) for t in services.tag_choices()]
    return dform


def _forms():
    dform = _directory_form(request.args if request.method == "GET" and request.args.get("dir-category") else None)
    gform = GuestsForm(prefix="guests")
    return dform, gform


def _page(event_id: int, dform=None, gform=None, status: int = 200):
    event = get_event(event_id)
    d, g = _forms()
    filters = {
        "state": request.args.get("state") or None,
        "category": request.args.get("category") or None,
        "q": (request.args.get("q") or "").strip() or None,
    }
    page = db.paginate(
        services.invitation_query(event.id, **filters),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    counts = services.state_counts(event.id)
    return render_template(
        "invitations/index.html",
        event=event,
        page=page,
        counts=counts,
        labels=services.shown_state_labels(),
        shown_state=services.shown_state,
        categories=CATEGORIES,
        dform=dform or d,
        gform=gform or g,
        in_progress=counts["queued"] > 0,
    ), status


@bp.get("/events/<int:event_id>/invitations")
@access.roles(*ORGANISERS)
def index(event_id: int):
    return _page(event_id)


def _directory_filter(dform) -> services.DirectoryFilter:
    return services.DirectoryFilter(
        member_government_id=dform.member_government_id.data,
        sector=dform.sector.data or None,
        tag=dform.tag.data or None,
        focal_points_only=bool(dform.focal_points_only.data),
    )


def _filter_args(source) -> dict:
    return {k: v for k, v in source.items() if k.startswith("dir-") and k != "dir-preview"}


@bp.get("/events/<int:event_id>/invitations/directory")
@access.roles(*ORGANISERS)
def directory_preview(event_id: int):
    """Who the filter would add, each with a ticked box: the organiser unticks and confirms."""
    dform = _directory_form(request.args)
    if not dform.validate():
        return _page(event_id, dform=dform, status=400)
    try:
        preview = services.preview_from_directory(event_id, _directory_filter(dform), dform.category.data)
    except DomainError as exc:
        apply_domain_error(dform, exc)
        return _page(event_id, dform=dform, status=exc.status_code)
    return render_template(
        "invitations/directory_preview.html",
        event=get_event(event_id),
        preview=preview,
        category=CATEGORIES.get(preview.category, preview.category),
        form=ConfirmGuestsForm(),
        query=request.args.to_dict(),
    )


@bp.post("/events/<int:event_id>/invitations/directory")
@access.roles(*ORGANISERS)
def add_directory(event_id: int):
    """Add from the directory: the preview's ticked people (``dir-preview``), or, without a preview
    (a script), everyone the filter matches."""
    dform = _directory_form(request.form)
    if not dform.validate():
        return _page(event_id, dform=dform, status=400)
    chosen = request.form.getlist("contact_ids", type=int) if request.form.get("dir-preview") else None
    try:
        n = services.add_from_directory(
            event_id, _directory_filter(dform), dform.category.data, actor=current_user, contact_ids=chosen
        )
    except DomainError as exc:
        if chosen is not None:
            flash(exc.message, "error")
            return redirect(url_for("invitations.directory_preview", event_id=event_id, **_filter_args(request.form)))
        apply_domain_error(dform, exc)
        return _page(event_id, dform=dform, status=exc.status_code)
    flash(
        ngettext(
            "%(num)d person added to the list (people already on it are skipped).",
            "%(num)d people added to the list (people already on it are skipped).",
            n,
        ),
        "success",
    )
    return redirect(url_for("invitations.index", event_id=event_id))


@bp.post("/events/<int:event_id>/invitations/guests")
@access.roles(*ORGANISERS)
def add_guests(event_id: int):
    """Pasted lines are added at once (all or nothing); a CSV file, or pasted text with a header
    line, goes through the directory's import preview first."""
    _d, gform = _forms()
    if not gform.validate_on_submit():
        return _page(event_id, gform=gform, status=400)
    upload = gform.upload.data
    has_file = bool(upload and getattr(upload, "filename", ""))
    try:
        taken = services.take_guests(
            event_id,
            pasted=gform.pasted.data or "",
            filename=upload.filename if has_file else None,
            data=upload.read(current_app.config["CSV_MAX_BYTES"] + 1) if has_file else None,
            category=gform.category.data,
            encoding=gform.encoding.data or None,
            actor=current_user,
        )
    except DomainError as exc:
        apply_domain_error(gform, exc)
        return _page(event_id, gform=gform, status=exc.status_code)
    if taken.upload_id:
        return redirect(url_for("invitations.guests_preview", event_id=event_id, upload_id=taken.upload_id))
    flash(ngettext("%(num)d guest added to the list.", "%(num)d guests added to the list.", taken.added), "success")
    return redirect(url_for("invitations.index", event_id=event_id))


def _guests_preview_page(event_id: int, upload_id: str, problem: str | None = None, status: int = 200):
    event = get_event(event_id)
    preview = services.guest_upload_preview(event.id, upload_id, actor=current_user)
    return render_template(
        "invitations/guests_preview.html",
        event=event,
        preview=preview,
        category=CATEGORIES.get(preview.category, preview.category),
        problem=problem,
        form=ConfirmGuestsForm(),
        encoding_form=EncodingForm(encoding=directory.upload_encoding(preview.upload) or ""),
        encoding_action=url_for("invitations.guests_encoding", event_id=event.id, upload_id=upload_id),
    ), status


@bp.get("/events/<int:event_id>/invitations/guests/<upload_id>")
@access.roles(*ORGANISERS)
def guests_preview(event_id: int, upload_id: str):
    return _guests_preview_page(event_id, upload_id)


@bp.post("/events/<int:event_id>/invitations/guests/<upload_id>/encoding")
@access.roles(*ORGANISERS)
def guests_encoding(event_id: int, upload_id: str):
    form = EncodingForm()
    if form.validate_on_submit():
        services.choose_guest_upload_encoding(event_id, upload_id, form.encoding.data or "", actor=current_user)
    else:
        flash(_("Choose an encoding from the list."), "error")
    return redirect(url_for("invitations.guests_preview", event_id=event_id, upload_id=upload_id))


@bp.post("/events/<int:event_id>/invitations/guests/<upload_id>/confirm")
@access.roles(*ORGANISERS)
def guests_confirm(event_id: int, upload_id: str):
    if not ConfirmGuestsForm().validate_on_submit():
        return _guests_preview_page(event_id, upload_id, _("The form expired: please confirm again."), 400)
    try:
        n = services.confirm_guest_upload(event_id, upload_id, actor=current_user)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return _guests_preview_page(event_id, upload_id, exc.message, exc.status_code)
    flash(
        ngettext(
            "%(num)d guest added to the list (people already on it are skipped).",
            "%(num)d guests added to the list (people already on it are skipped).",
            n,
        ),
        "success",
    )
    return redirect(url_for("invitations.index", event_id=event_id))


@bp.get("/events/<int:event_id>/invitations/send")
@access.roles(*ORGANISERS)
def send_preview(event_id: int):
    """Before "send to the rest": who gets it, and the mail as the first of them will read it."""
    event = get_event(event_id)
    return render_template(
        "invitations/send_preview.html",
        event=event,
        preview=services.preview_send_rest(event.id),
        languages=current_app.config.get("LANGUAGES", {}),
    )


@bp.post("/events/<int:event_id>/invitations/send")
@access.roles(*ORGANISERS)
def send(event_id: int):
    ids = [i for i in request.form.getlist("ids", type=int) if i > 0]
    rest = request.form.get("rest") == "1"
    n = services.request_send(event_id, actor=current_user, ids=ids, rest=rest)
    flash(
        ngettext(
            "%(num)d invitation is being sent; the progress shows below.",
            "%(num)d invitations are being sent; the progress shows below.",
            n,
        ),
        "success",
    )
    return redirect(url_for("invitations.index", event_id=event_id))


@bp.post("/invitations/<int:invitation_id>/resend")
@access.roles(*ORGANISERS)
def resend(invitation_id: int):
    inv = services.resend(invitation_id, actor=current_user)
    flash(_("The invitation to %(email)s will be sent again.", email=inv.contact.email), "success")
    return redirect(url_for("invitations.index", event_id=inv.event_id))


@bp.post("/invitations/<int:invitation_id>/revoke")
@access.roles(*ORGANISERS)
def revoke(invitation_id: int):
    inv = services.revoke(invitation_id, actor=current_user)
    flash(_("The invitation to %(email)s is revoked: its link no longer works.", email=inv.contact.email), "success")
    return redirect(url_for("invitations.index", event_id=inv.event_id))


# The invitee (no account needed) ------------------------------------------------------------


@bp.route("/i/<token>", methods=["GET", "POST"])
@access.token
@public_form_limit()
def open_link(token: str):
    # A GET changes nothing: mail scanners follow links. "Opened" is recorded by the page's POSTs
    # (this form, decline, and the beacon static/js/app.js sends when a person has the page open).
    inv = services.open_link(token) if request.method == "POST" else services.invitation_from_token(token)
    if inv.state == services.STATE_DECLINED and request.method == "GET" and not request.args.get("register"):
        return render_template("invitations/declined.html", inv=inv, event=inv.event, token=token)
    page = landing_page(inv, token=token)
    if page is None:
        raise NotFound(_("Registration is not available here."))
    return page


@bp.post("/i/<token>/opened")
@access.token
def opened(token: str):
    """The landing page's beacon (static/js/app.js): the invitee has the page open."""
    services.open_link(token)
    return "", 204


@bp.route("/i/<token>/decline", methods=["GET", "POST"])
@access.token
def decline(token: str):
    if request.method == "POST":
        inv = services.decline(token)
        return render_template("invitations/declined.html", inv=inv, event=inv.event, token=token)
    inv = services.invitation_from_token(token)
    return render_template("invitations/decline_confirm.html", inv=inv, event=inv.event, token=token)


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> PageLink:
    return PageLink(_("Invitations"), url_for("invitations.index", event_id=event.id), order=10)
