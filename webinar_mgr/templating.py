"""Jinja filters, globals and the navigation."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from . import text
from .i18n import (
    format_in_zone,
    format_list,
    format_month,
    format_number,
    format_range,
    html_lang,
    offered_languages,
    reader_timezone,
    zone_abbrev,
)
from .security import ADMIN, ADMINS, ORGANISER, REVIEWERS, has_role

# (endpoint, label, roles that see it; None = everyone signed in or not, () = signed-in users)
NAV = [
    ("events.index", _l("Events"), None),
    ("directory.contacts", _l("Directory"), REVIEWERS),
    ("registrations.mine", _l("My registrations"), ()),
    ("commitments.mine", _l("My commitments"), ()),
    ("commitments.tracker", _l("Commitments"), REVIEWERS),
    ("workplan.index", _l("Work plan"), ()),
    ("workplan.outputs", _l("Outputs"), None),
    ("reports.index", _l("Review"), REVIEWERS),
    ("auth.users", _l("Users"), ADMINS),
    ("audit.index", _l("Audit log"), (ADMIN, ORGANISER)),
    ("mail.outbox", _l("Outbox"), (ADMIN, ORGANISER)),
    ("privacy.admin", _l("Personal data"), ADMINS),
]


def register(app: Flask) -> None:
    @app.template_filter("localtime")
    def localtime(value: datetime | None, tz: str | None = None, fmt: str = "medium") -> str:
        return format_in_zone(value, tz, fmt)

    @app.template_filter("timerange")
    def timerange(start: datetime | None, end: datetime | None = None, tz: str | None = None) -> str:
        return format_range(start, end, tz)

    @app.template_filter("month")
    def month(value) -> str:
        return format_month(value)

    @app.template_filter("number")
    def number(value) -> str:
        return format_number(value)

    @app.template_filter("join_list")
    def join_list(items) -> str:
        return format_list(items)

    app.add_template_filter(text.paragraphs, "paragraphs")

    @app.template_filter("zone_label")
    def zone_label(value: datetime, tz: str) -> str:
        return zone_abbrev(value, tz)

    @app.context_processor
    def inject():
        def nav_items():
            items = []
            for endpoint, label, roles in NAV:
                if endpoint not in app.view_functions:
                    continue
                if roles is not None and not current_user.is_authenticated:
                    continue
                if roles and not has_role(current_user, *roles):
                    continue
                items.append((endpoint, url_for(endpoint), label))
            return items

        return {
            "get_locale": get_locale,
            "html_lang": html_lang,
            "offered_languages": offered_languages,
            "nav_items": nav_items,
            "reader_timezone": reader_timezone,
            "org_name": app.config.get("ORGANISATION_NAME"),
        }
