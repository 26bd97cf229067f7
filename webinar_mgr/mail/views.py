"""The outbox page: what went out, what waits, what failed (and a retry for the failed: one
message, or all of them after an outage)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webinar_mgr.forms_common import handle_form
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.security import ADMIN, ORGANISER, access

from . import services
from .forms import RetryFailedForm
from .models import STATUSES

bp = Blueprint("mail", __name__, url_prefix="/admin/outbox")
# For templates/mail_admin/_worker_notice.html, which the pages of higher modules include too.
bp.add_app_template_global(services.worker_status, "mail_worker_status")


def _outbox_page(retry_form: RetryFailedForm) -> str:
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
        retry_form=retry_form,
        zone=reader_timezone(),
    )


@bp.get("/")
@access.roles(ADMIN, ORGANISER)
def outbox():
    return _outbox_page(RetryFailedForm())


@bp.post("/<int:message_id>/retry")
@access.roles(ADMIN, ORGANISER)
def retry(message_id):
    msg = services.retry(message_id, actor=current_user._get_current_object())
    flash(_("The message to %(to)s is queued again.", to=msg.to_addr), "success")
    return redirect(url_for("mail.outbox", status="failed"))


@bp.post("/retry-failed")
@access.roles(ADMIN, ORGANISER)
def retry_failed():
    form = RetryFailedForm()

    def since() -> datetime | None:
        # the day starts at midnight where the reader is (the page says which zone)
        day = form.since.data
        return datetime.combine(day, time.min, tzinfo=ZoneInfo(reader_timezone())) if day else None

    def done(count: int):
        if count:
            flash(
                ngettext("%(num)d failed message is queued again.", "%(num)d failed messages are queued again.", count),
                "success",
            )
        else:
            flash(_("No failed message to retry."), "info")
        return redirect(url_for("mail.outbox", status="queued" if count else "failed"))

    return handle_form(
        form,
        lambda: services.retry_failed(since=since(), actor=current_user._get_current_object()),
        render=lambda: _outbox_page(form),
        done=done,
    )
