"""webinar_mgr: events, registration, commitments and attendance for a regional working group."""

from __future__ import annotations

import importlib
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Request, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import exc as sa_exc
from werkzeug import routing
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms.validators import ValidationError

from config import DEFAULT_SECRET_KEY, MAX_REMEMBER_DAYS, MIN_SECRET_KEY_BYTES, get_config

from . import i18n, pages, pdfs, templating
from .errors import DomainError
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .forms_common import DB_INT_MAX, db_int
from .i18n import compile_catalogues, reader_timezone, select_locale
from .layers import MODULES
from .security import PUBLIC, TOKEN, Policy, policy_of, security_event, security_log


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
    _compile_translations(app)

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

    _register_input_types(app)
    _import_models()
    _register_blueprints(app)
    _register_input_checks(app)
    _register_personal_link_pages(app)
    _register_cli(app)
    _register_template_helpers(app)
    _register_error_handlers(app)
    _register_security_headers(app)
    pages.register(app)  # compression, hashed static names, "Error:" in the title
    # Flask's own static route is public.
    app.view_functions["static"].access_policy = Policy(PUBLIC)
    if app.config.get("PDF_WARM_UP"):
        _warm_up(app)
    return app


def _warm_up(app: Flask) -> None:
    """Production: WeasyPrint, its fonts and SQLAlchemy's mappers loaded before the first request
    (pdfs.warm_up), and Babel's data of the offered languages (i18n.warm_up). A failure here is
    logged, never fatal: the first PDF, page or mail of a language then pays for it."""
    try:
        with app.app_context():
            i18n.warm_up()
    except Exception:
        logging.getLogger(__name__).exception("language data warm-up failed; the first page of each language is slower")
    try:
        with app.app_context():
            pdfs.warm_up()
    except Exception:
        logging.getLogger(__name__).exception("PDF warm-up failed; the first PDF of this process will be slower")


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
    if app.config["ENV_NAME"] == "production":
        base = urlsplit(str(app.config.get("BASE_URL") or ""))
        if base.scheme not in ("http", "https") or not base.netloc:
            raise RuntimeError(
                "Refusing to start in production without BASE_URL: set it to the public address people "
                "open, e.g. BASE_URL=https://events.example.org (every link in mails and calendar "
                "entries is built from it)."
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


def _compile_translations(app: Flask) -> None:
    """A fresh clone has the .po catalogues only: compile the .mo files that are missing or older
    than their .po (see docs/translations.md). A read-only install keeps what it has."""
    for directory in str(app.config["BABEL_TRANSLATION_DIRECTORIES"]).split(";"):
        try:
            compile_catalogues(directory)
        except OSError as exc:
            logging.getLogger(__name__).warning("translations in %s not compiled: %s", directory, exc)


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
            # a module with pages under more than one prefix lists its blueprints
            for blueprint in getattr(views, "blueprints", (views.bp,)):
                app.register_blueprint(blueprint)


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


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _register_error_handlers(app: Flask) -> None:
    def render_error(status: int, title: str, message: str, headers: dict | None = None):
        if _is_api():  # the API answers every error as problem+json (RFC 9457), routed or not
            body = {"type": "about:blank", "title": title, "status": status, "detail": message}
            response = jsonify(body)
            response.status_code = status
            response.mimetype = "application/problem+json"
            response.headers.update(headers or {})
            return response
        if _wants_json():
            return jsonify(error=title, message=message), status, headers or {}
        page = render_template("errors/error.html", status=status, title=title, message=message)
        return page, status, headers or {}

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_error(exc.status_code, _("Request not possible"), exc.message)

    @app.teardown_appcontext
    def release_session(_exc):
        # Runs before Flask-SQLAlchemy's own teardown (registered earlier, run later). A connection
        # the database dropped (a restart) cannot even roll back: drop it instead of turning an
        # answer already made into a 500; the pool's pre-ping replaces it on the next checkout.
        try:
            db.session.remove()
        except (sa_exc.OperationalError, sa_exc.InterfaceError):
            try:
                db.session.invalidate()
            finally:
                db.session.registry.clear()

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    def database_unavailable(exc):
        # The database restarting or unreachable: the unit of work rolled back, so nothing is
        # half-saved; the pool (pool_pre_ping) reconnects on the next request. Say so: a 503.
        db.session.rollback()
        logging.getLogger(__name__).warning("database unavailable: %s", type(exc.orig or exc).__name__)
        title = _("Please try again")
        if g.get("commit_uncertain"):
            message = _(
                "The service lost its database while saving. What you sent may or may not have been saved: "
                "please try again in a minute (what was saved is not saved twice)."
            )
        elif g.get("unit_saved"):
            title = _("Saved")
            message = _(
                "What you sent was saved, but the next page could not be shown: the service could not reach "
                "its database for a moment. Please reload in a minute."
            )
        else:
            message = _(
                "The service could not reach its database for a moment. Nothing was saved by this request: "
                "please try again in a minute."
            )
        try:
            return render_error(503, title, message, {"Retry-After": "30"})
        except Exception:  # the page itself needed the database (the signed-in user): plain text
            db.session.rollback()
            return f"{title}\n\n{message}\n", 503, {"Retry-After": "30", "Content-Type": "text/plain; charset=utf-8"}

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
            if code == 405 and not _another_method_matches(exc):
                # Werkzeug's router says "method not allowed" when a rule of another method has
                # the same shape, even if no rule takes this path's values (an id beyond the
                # database's INTEGER): nothing lives here, whatever the method - a 404.
                code, title, message = 404, messages[404][0], messages[404][1]
                exc = NotFound()
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
            allowed = getattr(exc, "valid_methods", None)  # a 405 says which methods are
            return render_error(code, title(), text, {"Allow": ", ".join(allowed)} if allowed else None)

        app.register_error_handler(code, handler)


def _another_method_matches(exc) -> bool:
    """Whether the path is served for one of the methods a 405 names (its values convert)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in getattr(exc, "valid_methods", None) or ():
        try:
            adapter.match(method=method)
        except routing.RequestRedirect:
            return True
        except HTTPException:
            continue
        return True
    return False


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


# Hostile input: refused at the door with a 400 or 404, never a 500 further in -------------------

# C0 control characters and DEL have no place in an address. A form may hold what people paste
# (line breaks, tabs, a stray form feed: webinar_mgr/text.py cleans them on the way in), but never
# a NUL, which PostgreSQL refuses to store.
_CONTROL_IN_URL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_FORM = re.compile(r"\x00")


class BoundedParams(ImmutableMultiDict):
    """Query and form parameters: ``get(name, type=int)`` yields only numbers a query can use
    (``?page=99999999999999999999`` gives the default, as ``?page=abc`` does)."""

    def get(self, key, default=None, type=None):
        return super().get(key, default, db_int if type is int else type)

    def getlist(self, key, type=None):
        return super().getlist(key, db_int if type is int else type)


class AppRequest(Request):
    parameter_storage_class = BoundedParams


class IntegerConverter(routing.IntegerConverter):
    """``<int:...>`` in every route: ids beyond the database's INTEGER do not match (404). (Werkzeug's
    name, so that what reads a rule's converters, like tests/test_access_policy.py, sees an int.)"""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        if max is None or max > DB_INT_MAX:
            max = DB_INT_MAX
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _register_input_types(app: Flask) -> None:
    """Before the blueprints: their rules are built with these converters."""
    app.request_class = AppRequest
    app.url_map.converters["int"] = IntegerConverter


def _control_character_problem() -> str | None:
    if _CONTROL_IN_URL.search(request.path):
        return _("The address contains a control character (such as NUL); remove it and try again.")
    for key, value in request.args.items(multi=True):
        if _CONTROL_IN_URL.search(key) or _CONTROL_IN_URL.search(value):
            return _("The address contains a control character (such as NUL); remove it and try again.")
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for key, value in request.form.items(multi=True):  # a part without a name has the key None
            if _CONTROL_IN_URL.search(key or "") or _CONTROL_IN_FORM.search(value or ""):
                return _("The form contains a NUL character; remove it and try again.")
        for key, upload in request.files.items(multi=True):
            if _CONTROL_IN_URL.search(key or "") or _CONTROL_IN_URL.search(upload.filename or ""):
                return _("The file name contains a control character (such as NUL); rename the file and try again.")
    return None


def _register_input_checks(app: Flask) -> None:
    @app.before_request
    def refuse_control_characters():
        problem = _control_character_problem()
        if problem:
            abort(400, description=problem)


# Pages reached by a personal link ----------------------------------------------------------------


def _personal_link_endpoints(app: Flask) -> frozenset[str]:
    """The endpoints whose address carries a personal token (``@access.token``)."""
    return frozenset(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if getattr(policy_of(app.view_functions[rule.endpoint]), "kind", None) == TOKEN
    )


def _csrf_token_sent() -> str | None:
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    for key in request.form:
        if (key == field or key.endswith("-" + field)) and request.form[key]:
            return request.form[key]
    for header in current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"]):
        if request.headers.get(header):
            return request.headers[header]
    return None


def _register_personal_link_pages(app: Flask) -> None:
    """A personal link's pages send no Referer anywhere (``Referrer-Policy: no-referrer``), so the
    token in their address never reaches the sites they link to.

    Their own forms then come back without a Referer too, which Flask-WTF's HTTPS referrer check
    refuses; so these views are exempt from ``CSRFProtect`` and checked here instead: the same
    session-bound CSRF token, without the referrer check (the address itself holds the secret a
    forger would need).
    """
    endpoints = _personal_link_endpoints(app)
    for endpoint in endpoints:
        csrf.exempt(app.view_functions[endpoint])

    @app.before_request
    def personal_link_csrf():
        if request.endpoint not in endpoints or not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.method not in app.config.get("WTF_CSRF_METHODS", ["POST", "PUT", "PATCH", "DELETE"]):
            return
        try:
            validate_csrf(_csrf_token_sent())
        except ValidationError as exc:
            raise CSRFError(exc.args[0]) from exc
        g.csrf_valid = True

    @app.after_request
    def personal_link_referrer(response):
        if request.endpoint in endpoints:
            response.headers["Referrer-Policy"] = "no-referrer"
        return response
