from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for

from webinar_mgr.security import access

from . import services

bp = Blueprint("core", __name__)


@bp.get("/")
@access.public
def home():
    if "events.index" in current_app.view_functions:
        return redirect(url_for("events.index"))
    return render_template("core/home.html")


@bp.get("/healthz")
@access.public
def healthz():
    if not services.database_ok():
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
