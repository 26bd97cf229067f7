from flask import Blueprint, render_template, request

from webinar_mgr.security import ADMIN, ORGANISER, access

from . import services

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@access.roles(ADMIN, ORGANISER)
def index():
    page = services.search(
        object_type=request.args.get("type") or None,
        object_id=request.args.get("id") or None,
        action=request.args.get("action") or None,
        actor=request.args.get("who") or None,
        page=request.args.get("page", 1, type=int),
    )
    return render_template("audit/index.html", page=page)
