"""webinar_mgr: events, registration, commitments and attendance for a regional working group."""

from __future__ import annotations

import importlib
import logging
import os
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from config import DEFAULT_SECRET_KEY, MAX_REMEMBER_DAYS, MIN_SECRET_KEY_BYTES, get_config

from . import templating
from .errors import DomainError
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .i18n import reader_timezone, select_locale
from .layers import MODULES
from .security import PUBLIC, Policy, security_event, security_log


def _import_optional(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def create_app(config: str | type | None = None, **overrides) -> Flask:
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
    )
    cfg = get_config(config) if (config is None or isinstance(config, str)) else config
    app.config.from_object(cfg)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(app.root_path) / "translations"))
    app.config.update(overrides)

    _check_settings(app)

    hops = int(app.config.get("PROXY_HOPS") or os.environ.get("PROXY_HOPS") or 0)
    if hops:  # behind nginx/a load balancer: trust X-Forwarded-* from that many proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The security log is never off: logging.config.fileConfig (Alembic's migrations/env.py, when
    # migrations run in this process) disables every logger that already exists.
    security_log.disabled = False
    _ensure_instance_dir(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=reader_timezone)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in to see this page.")
    login_manager.login_message_category = "info"

    _import_models()
    _register_blueprints(app)
    _register_cli(app)
    _register_template_helpers(app)
    _register_error_handlers(app)
    _register_security_headers(app)
    # Flask's own static route is public.
    app.view_functions["static"].access_policy = Policy(PUBLIC)
    return app


def _check_settings(app: Flask) -> None:
    """Refuse to start with settings that would weaken sign-in; say which and how to fix it."""
    key = app.config.get("SECRET_KEY") or ""
    if app.config["ENV_NAME"] == "production":
        if key == DEFAULT_SECRET_KEY or not key:
            raise RuntimeError("Refusing to start in production with the default SECRET_KEY: set SECRET_KEY.")
        size = len(key.encode()) if isinstance(key, str) else len(key)
        if size < MIN_SECRET_KEY_BYTES:
            raise RuntimeError(
                f"Refusing to start in production: SECRET_KEY is too short ({size} bytes); it needs at least "
                f"{MIN_SECRET_KEY_BYTES} bytes of random text. Make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
    limits = {
        "SESSION_IDLE_MINUTES": (1, None),
        "SESSION_MAX_HOURS": (1, None),
        "REMEMBER_DAYS": (1, MAX_REMEMBER_DAYS),
    }
    for name, (low, high) in limits.items():
        value = app.config.get(name)
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            span = f"between {low} and {high}" if high else f"at least {low}"
            raise RuntimeError(f"Refusing to start: {name} must be a whole number {span} (it is {value!r}).")
    # flask-login dates the remember cookie; the server also refuses one older than this.
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])


def _ensure_instance_dir(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def _import_models() -> None:
    for module in MODULES:
        _import_optional(f"{__name__}.{module}.models")


def _register_blueprints(app: Flask) -> None:
    for module in MODULES:
        views = _import_optional(f"{__name__}.{module}.views")
        if views is not None and hasattr(views, "bp"):
            app.register_blueprint(views.bp)


def _register_cli(app: Flask) -> None:
    # import here: the commands import domain modules, which import this package while it loads
    from . import cli

    cli.register(app)
    for module in MODULES:
        mod_cli = _import_optional(f"{__name__}.{module}.cli")
        if mod_cli is not None and hasattr(mod_cli, "register"):
            mod_cli.register(app)


def _register_template_helpers(app: Flask) -> None:
    templating.register(app)


def _wants_json() -> bool:
    return request.path.endswith(".json") or (request.accept_mimetypes.best == "application/json")


def _register_error_handlers(app: Flask) -> None:
    def render_error(status: int, title: str, message: str):
        if _wants_json():
            return jsonify(error=title, message=message), status
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_error(exc.status_code, _("Request not possible"), exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        security_event("csrf.failed", status=400, reason=exc.description)
        return render_error(
            400,
            _("Form expired"),
            _("The form was open too long or came from elsewhere. Go back, reload the page and try again."),
        )

    messages = {
        400: (lambda: _("Bad request"), lambda: _("The request could not be understood.")),
        401: (lambda: _("Sign in needed"), lambda: _("Please sign in to see this page.")),
        403: (lambda: _("Not allowed"), lambda: _("You do not have access to this page.")),
        404: (lambda: _("Not found"), lambda: _("There is no page at this address.")),
        405: (lambda: _("Not allowed"), lambda: _("This method is not allowed here.")),
        413: (lambda: _("File too large"), lambda: _("The upload is larger than the limit.")),
        429: (lambda: _("Too many attempts"), lambda: _("Too many attempts; please wait a minute and try again.")),
        500: (lambda: _("Something went wrong"), lambda: _("An unexpected error happened; it has been logged.")),
    }
    for code, (title, message) in messages.items():

        def handler(exc, code=code, title=title, message=message):
            description = getattr(exc, "description", None)
            text = message()
            if code == 429:
                security_event("rate_limit.exceeded", status=code, limit=str(description or ""))
            if code == 413:
                text = _too_large_message() or text
            elif (
                code in (400, 404)
                and description
                and not str(description).startswith(("The browser (or proxy)", "The requested URL", "The data value"))
            ):
                text = str(description)
            return render_error(code, title(), text)

        app.register_error_handler(code, handler)


def _too_large_message() -> str | None:
    """The 413 text for MAX_CONTENT_LENGTH: the request's real size (its Content-Length) and the
    limit in MB, or only the limit when the size is unknown or rounds to the same figure. None
    for the other limits (a form field over MAX_FORM_MEMORY_SIZE): the generic text then."""
    limit = request.max_content_length
    size = request.content_length
    if not limit or (size is not None and size <= limit):
        return None
    if size is not None and _megabytes(size) != _megabytes(limit):
        return _(
            "The upload (%(size)s MB) is larger than the limit of %(limit)s MB.",
            size=_megabytes(size),
            limit=_megabytes(limit),
        )
    return _("The upload is larger than the limit of %(limit)s MB.", limit=_megabytes(limit))


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f}"


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def log_refusals(response):
        # Every 401 and 403, whoever refused (the access policy, a service's NotAllowed shown by
        # the error page or next to the form), unless this request already logged its event
        # (a failed sign-in answers 401 and is logged as such).
        if response.status_code in (401, 403) and not g.get("security_event_logged"):
            security_event("access.denied", status=response.status_code)
        return response

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        if app.config.get("SECURE_HEADERS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
