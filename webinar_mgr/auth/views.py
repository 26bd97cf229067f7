from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError
from webinar_mgr.extensions import limiter, login_manager
from webinar_mgr.forms_common import form_status, handle_form
from webinar_mgr.persistence import get_or_404
from webinar_mgr.security import ADMIN, PARTICIPANT, access

from . import services
from .forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NewUserForm,
    ProfileForm,
    ResetPasswordForm,
    UserForm,
)
from .models import ROLES, User

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


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
            login_user(user, remember=form.remember.data)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
        form.form_errors.append(_("The email or password is not right."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), form_status(form)


@bp.post("/logout")
@access.authenticated
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@access.public
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()

    def done(_result):
        flash(_("If an account exists for that address, a link to reset the password is on its way."), "info")
        return redirect(url_for("auth.login"))

    return handle_form(
        form,
        lambda: services.request_password_reset(form.email.data),
        render=lambda: render_template("auth/forgot.html", form=form),
        done=done,
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@access.token
def reset_password(token):
    try:
        services.user_from_reset_token(token)
    except DomainError as exc:
        return render_template("errors/error.html", status=400, title=_("Link not valid"), message=exc.message), 400
    form = ResetPasswordForm()

    def done(_user):
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
    pw_form = ChangePasswordForm(prefix="pw")

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
        render=lambda: render_template("auth/profile.html", form=form, pw_form=pw_form),
        done=done,
    )


@bp.post("/profile/password")
@access.authenticated
def change_password():
    pw_form = ChangePasswordForm(prefix="pw")

    def done(_result):
        login_user(current_user._get_current_object())  # keep this session after the version bump
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
        render=lambda: render_template("auth/profile.html", form=_profile_form(submitted=False), pw_form=pw_form),
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
    return services.user_for_session(user_id)
