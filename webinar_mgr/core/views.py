import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user

from webinar_mgr.extensions import db
from webinar_mgr.security import access

bp = Blueprint("core", __name__)


@bp.get("/")
@access.public
def home():
    if "events.index" in _endpoints():
        return redirect(url_for("events.index"))
    return render_template("core/home.html")


def _endpoints():
    from flask import current_app

    return current_app.view_functions


@bp.get("/healthz")
@access.public
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means "down"
        db.session.rollback()
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
