"""Absolute links for mails and calendar entries, built without a request (the worker has none)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import BuildError


def abs_url(endpoint: str, **values) -> str | None:
    """The absolute URL of ``endpoint`` under config BASE_URL, or None if it does not exist."""
    if endpoint not in current_app.view_functions:
        return None
    base = urlsplit(current_app.config["BASE_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    try:
        return adapter.build(endpoint, values, force_external=True)
    except BuildError:
        return None
