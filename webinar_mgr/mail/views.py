"""The outbox page: what went out, what waits, what failed (and a retry for the failed)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr.security import ADMIN, ORGANISER, access

from . import services
from .models import STATUSES

bp = Blueprint("mail", __name__, url_prefix="/admin/outbox")


@bp.get("/")
@access.roles(ADMIN, ORGANISER)
def outbox():
    status = request.args.get("status") or None
    if status not in STATUSES:
        status = None
    page = services.search(
        status=status,
        category=request.args.get("category") or None,
        recipient=request.args.get("recipient") or None,
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "mail_admin/outbox.html",
        page=page,
        counts=services.status_counts(),
        categories=services.categories(),
        statuses=STATUSES,
        status=status,
    )


@bp.post("/<int:message_id>/retry")
@access.roles(ADMIN, ORGANISER)
def retry(message_id):
    msg = services.retry(message_id, actor=current_user._get_current_object())
    flash(_("The message to %(to)s is queued again.", to=msg.to_addr), "success")
    return redirect(url_for("mail.outbox", status="failed"))
