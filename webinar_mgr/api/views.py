"""The API's pages: the interactive reference, personal tokens (linked from the profile) and the
webhooks (organisers). Registering this blueprint also sets up flask-smorest and /api/v1."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Api

from webinar_mgr import clock
from webinar_mgr.forms_common import handle_form
from webinar_mgr.security import ORGANISERS, access

from . import services, webhooks
from .forms import ConfirmForm, TokenForm, WebhookForm
from .resources import blp

bp = Blueprint("api", __name__, url_prefix="/api")


class _Api(Api):
    """flask-smorest without its app-wide error handler: the pages keep theirs, /api/v1 answers
    problem+json through its own blueprint handlers."""

    def _register_error_handlers(self):
        pass


def _setup(state) -> None:
    app = state.app
    app.config.setdefault("API_TITLE", "webinar_mgr API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_RATE_LIMIT", "300 per minute")
    for name, default in webhooks.DEFAULTS.items():
        app.config.setdefault(name, default)
    api = _Api(
        spec_kwargs={
            "info": {"description": "Personal access tokens: Authorization: Bearer <token>. See docs/api.md."},
        }
    )
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(blp)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs."):  # the description: public
            app.view_functions[endpoint] = access.public(view)
    app.extensions["webinar_mgr_api"] = api


bp.record_once(_setup)


@bp.get("/")
@access.public
def reference():
    """The interactive reference (Swagger UI, served from static/vendor)."""
    return render_template("api/reference.html")


# Personal access tokens ---------------------------------------------------------------------------


def _token_form() -> TokenForm:
    form = TokenForm()
    form.scopes.choices = [(s, f"{s}: {services.SCOPES[s][0]}") for s in services.scopes_for(current_user)]
    return form


def _tokens_page(form: TokenForm, new=None):
    return render_template(
        "api/tokens.html",
        form=form,
        new=new,
        tokens=services.tokens_of(current_user),
        revoke_form=ConfirmForm(),
        now=clock.now(),
    )


@bp.route("/tokens", methods=["GET", "POST"])
@access.authenticated
def tokens():
    form = _token_form()
    return handle_form(
        form,
        lambda: services.create_token(
            current_user, form.name.data, form.scopes.data or [], form.days.data, actor=current_user
        ),
        render=lambda: _tokens_page(form),
        done=lambda new: _tokens_page(_token_form_blank(), new=new),
    )


def _token_form_blank() -> TokenForm:
    form = _token_form()
    form.name.data = ""
    form.scopes.data = []
    return form


@bp.post("/tokens/<int:token_id>/revoke")
@access.authenticated
def revoke_token(token_id: int):
    form = ConfirmForm()
    if form.validate_on_submit():
        token = services.revoke_token(token_id, actor=current_user)
        flash(_("The token “%(name)s” is revoked.", name=token.name), "success")
    return redirect(url_for("api.tokens"))


# Webhooks -----------------------------------------------------------------------------------------


def _webhook_form() -> WebhookForm:
    form = WebhookForm()
    form.event_types.choices = [(k, str(v)) for k, v in webhooks.EVENT_TYPES.items()]
    return form


@bp.route("/webhooks", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def webhooks_page():
    form = _webhook_form()

    def done(endpoint):
        flash(_("Webhook added. Its signing secret is on its page."), "success")
        return redirect(url_for("api.webhook", endpoint_id=endpoint.id))

    return handle_form(
        form,
        lambda: webhooks.create_endpoint(
            form.url.data, form.event_types.data or [], form.description.data, actor=current_user
        ),
        render=lambda: render_template("api/webhooks.html", form=form, endpoints=webhooks.endpoints()),
        done=done,
    )


@bp.get("/webhooks/<int:endpoint_id>")
@access.roles(*ORGANISERS)
def webhook(endpoint_id: int):
    endpoint = webhooks.get_endpoint(endpoint_id)
    return render_template(
        "api/webhook.html",
        endpoint=endpoint,
        deliveries=webhooks.deliveries(endpoint),
        labels=webhooks.EVENT_TYPES,
        form=ConfirmForm(),
    )


@bp.post("/webhooks/<int:endpoint_id>/test")
@access.roles(*ORGANISERS)
def webhook_test(endpoint_id: int):
    endpoint = webhooks.get_endpoint(endpoint_id)
    if ConfirmForm().validate_on_submit():
        webhooks.send_test(endpoint, actor=current_user)
        flash(_("A test delivery is queued; the worker sends it within a minute."), "success")
    return redirect(url_for("api.webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/delete")
@access.roles(*ORGANISERS)
def webhook_delete(endpoint_id: int):
    endpoint = webhooks.get_endpoint(endpoint_id)
    if ConfirmForm().validate_on_submit():
        webhooks.delete_endpoint(endpoint, actor=current_user)
        flash(_("Webhook deleted."), "success")
    return redirect(url_for("api.webhooks_page"))
