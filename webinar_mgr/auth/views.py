import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    copy_current_request_context,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError
from webinar_mgr.extensions import csrf, limiter, login_manager
from webinar_mgr.forms_common import form_status, handle_form
from webinar_mgr.persistence import get_or_404
from webinar_mgr.security import ADMIN, PARTICIPANT, access, email_hash, security_event

from . import services, sessions
from .forms import (
    ChangePasswordForm,
    EndSessionsForm,
    ForgotPasswordForm,
    LoginForm,
    NewUserForm,
    ProfileForm,
    ResetPasswordForm,
    UserForm,
)
from .models import ROLES, User

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# The footer's language switcher: a plain POST form, so it works without JavaScript ----------------

LANGUAGE_COOKIE_DAYS = 365


@bp.route("/language", methods=["POST"])
@access.public
@csrf.exempt
@limiter.limit(lambda: current_app.config["PUBLIC_FORM_RATE_LIMIT"])
def set_language():
    """Remember the chosen language in a cookie (and in the profile when signed in), then go back.

    CSRF is checked here with the session's token but without Flask-WTF's HTTPS Referer check: the
    switcher is also on personal link pages, which send no Referer (Referrer-Policy: no-referrer).
    """
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(exc.args[0]) from exc
    offered = current_app.config["LANGUAGES"]
    language = (request.form.get("language") or "").strip()
    if language not in offered:
        abort(
            400,
            description=_(
                "“%(code)s” is not one of the languages offered (%(offered)s). Choose one from the list.",
                code=language[:35],
                offered=", ".join(offered.values()),
            ),
        )
    if current_user.is_authenticated:
        services.set_language(current_user, language)
    response = redirect(_safe_next(request.form.get("next")) or url_for("core.home"), code=303)
    response.set_cookie(
        current_app.config.get("LANGUAGE_COOKIE", "lang"),
        language,
        max_age=LANGUAGE_COOKIE_DAYS * 86400,
        samesite="Lax",
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
@access.public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            sessions.start(user, remember=bool(form.remember.data))
            security_event("auth.login", level=logging.INFO, user_id=user.id, remember=bool(form.remember.data))
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
        security_event("auth.login_failed", status=401, email_hash=email_hash(form.email.data))
        form.form_errors.append(_("The email or password is not right."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), form_status(form)


@bp.post("/logout")
@access.authenticated
def logout():
    """Sign out: the session ends on the server too (a new session version for the account), so a
    copy of this browser's cookies stops working."""
    user = current_user._get_current_object()
    services.end_sessions(user, actor=user)
    security_event("auth.logout", level=logging.INFO, user_id=user.id)
    sessions.end()
    flash(_("You are signed out."), "info")
    return redirect(url_for("core.home"))


@bp.post("/profile/sessions/end")
@access.authenticated
def end_all_sessions():
    """Sign out everywhere: every session and remember cookie of the account, this one too."""
    end_form = EndSessionsForm(prefix="end")
    user = current_user._get_current_object()

    def done(_result):
        security_event("auth.sessions_ended", level=logging.INFO, user_id=user.id)
        sessions.end()
        flash(_("You are signed out on every device."), "info")
        return redirect(url_for("auth.login"))

    return handle_form(
        end_form,
        lambda: services.end_all_sessions(user, end_form.current_password.data, actor=user),
        render=lambda: _profile_page(end_form=end_form),
        done=done,
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@access.public
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    """The answer is the same for every address, and so is its time: the work (look the address
    up, sign a link, render and queue the mail) runs after the answer has been sent."""
    form = ForgotPasswordForm()

    def done(email):
        security_event("auth.reset_requested", level=logging.INFO, email_hash=email_hash(email))
        flash(_("If an account exists for that address, a link to reset the password is on its way."), "info")
        response = redirect(url_for("auth.login"))
        response.call_on_close(_after_the_answer(services.request_password_reset, email))
        return response

    return handle_form(
        form,
        lambda: form.email.data,
        render=lambda: render_template("auth/forgot.html", form=form),
        done=done,
    )


def _after_the_answer(work, *args):
    """``work(*args)`` for ``response.call_on_close``: the server calls it once the response is
    sent, in a copy of this request's context (its own unit of work and database session)."""

    @copy_current_request_context
    def run():
        try:
            work(*args)
        except Exception:  # the visitor already has the answer: log, never raise into the server
            log.exception("Work after the answer failed: %s", getattr(work, "__name__", work))

    return run


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@access.token
def reset_password(token):
    try:
        services.user_from_reset_token(token)
    except DomainError as exc:
        return render_template("errors/error.html", status=400, title=_("Link not valid"), message=exc.message), 400
    form = ResetPasswordForm()

    def done(user):
        security_event("auth.password_reset", level=logging.INFO, user_id=user.id)
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("auth.login"))

    return handle_form(
        form,
        lambda: services.reset_password(token, form.password.data),
        render=lambda: render_template("auth/reset.html", form=form),
        done=done,
    )


def _profile_form(*, submitted: bool = True) -> ProfileForm:
    """The profile form; ``submitted=False`` shows the saved profile (beside the password form)."""
    form = ProfileForm(obj=current_user) if submitted else ProfileForm(formdata=None, obj=current_user)
    form.organisation_id.choices = [(0, _("(none)"))] + directory.organisation_choices()
    form.language.choices = list(current_app.config["LANGUAGES"].items())
    if request.method == "GET" or not submitted:
        form.organisation_id.data = current_user.organisation_id or 0
    return form


@bp.route("/profile", methods=["GET", "POST"])
@access.authenticated
def profile():
    form = _profile_form()

    def done(_user):
        flash(_("Your profile is saved."), "success")
        return redirect(url_for("auth.profile"))

    return handle_form(
        form,
        lambda: services.update_profile(
            current_user,
            name=form.name.data,
            timezone=form.timezone.data,
            language=form.language.data,
            organisation_id=form.organisation_id.data or None,
            position=form.position.data or None,
        ),
        render=lambda: _profile_page(form=form),
        done=done,
    )


def _profile_page(*, form=None, pw_form=None, end_form=None) -> str:
    """The profile page with its three forms; the one submitted keeps its data and errors."""
    return render_template(
        "auth/profile.html",
        form=form if form is not None else _profile_form(submitted=False),
        pw_form=pw_form if pw_form is not None else ChangePasswordForm(prefix="pw", formdata=None),
        end_form=end_form if end_form is not None else EndSessionsForm(prefix="end", formdata=None),
    )


@bp.post("/profile/password")
@access.authenticated
def change_password():
    pw_form = ChangePasswordForm(prefix="pw")

    def done(_result):
        sessions.renew(current_user._get_current_object())  # keep this session after the version bump
        security_event("auth.password_changed", level=logging.INFO)
        flash(_("Your password is changed."), "success")
        return redirect(url_for("auth.profile"))

    return handle_form(
        pw_form,
        lambda: services.change_password(
            current_user._get_current_object(),
            pw_form.current_password.data,
            pw_form.password.data,
            actor=current_user._get_current_object(),
        ),
        render=lambda: _profile_page(pw_form=pw_form),
        done=done,
    )


# Administration ----------------------------------------------------------------------------


@bp.get("/admin/users")
@access.roles(ADMIN)
def users():
    page = services.list_users(
        request.args.get("q"), request.args.get("role") or None, request.args.get("page", 1, type=int)
    )
    return render_template("auth/users.html", page=page, roles=ROLES)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@access.roles(ADMIN)
def new_user():
    form = NewUserForm()
    form.roles.choices = [(k, str(v)) for k, v in ROLES.items()]
    if request.method == "GET":
        form.roles.data = [PARTICIPANT]

    def done(user):
        flash(_("Account created for %(email)s.", email=user.email), "success")
        return redirect(url_for("auth.users"))

    return handle_form(
        form,
        lambda: services.admin_create_user(
            email=form.email.data,
            name=form.name.data,
            password=form.password.data,
            roles=form.roles.data,
            timezone=form.timezone.data,
            active=form.active.data,
            actor=current_user._get_current_object(),
        ),
        render=lambda: render_template("auth/user_form.html", form=form, user=None),
        done=done,
    )


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@access.roles(ADMIN)
def edit_user(user_id):
    user = get_or_404(User, user_id, _("No such user."))
    form = UserForm(obj=user)
    form.roles.choices = [(k, str(v)) for k, v in ROLES.items()]
    if request.method == "GET":
        form.roles.data = sorted(user.role_names)

    def done(_user):
        flash(_("Saved."), "success")
        return redirect(url_for("auth.users"))

    return handle_form(
        form,
        lambda: services.admin_update_user(
            user,
            name=form.name.data,
            email=form.email.data,
            roles=form.roles.data,
            active=form.active.data,
            actor=current_user._get_current_object(),
        ),
        render=lambda: render_template("auth/user_form.html", form=form, user=user),
        done=done,
    )


@login_manager.user_loader
def load_user(user_id: str):
    return sessions.load(user_id)
