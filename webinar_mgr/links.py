"""Absolute links for mails, calendar entries and feeds: the one way to build them.

Built from config ``BASE_URL`` without a request (the worker that renders mails has none), so a
link in a mail is the same whether it was queued by a page or by ``flask worker``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import BuildError


def base_url() -> str:
    return (current_app.config.get("BASE_URL") or "").rstrip("/")


def abs_url(endpoint: str, **values) -> str | None:
    """The absolute URL of ``endpoint`` under BASE_URL, or None when no module serves it (so a
    mail can leave out a link to a module that is not installed)."""
    if endpoint not in current_app.view_functions:
        return None
    base = urlsplit(base_url())
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    try:
        return adapter.build(endpoint, values, force_external=True)
    except BuildError:
        return None


def webcal(url: str) -> str:
    """The webcal:// form of a feed address (calendar apps subscribe instead of downloading)."""
    for prefix in ("https://", "http://"):
        if url.startswith(prefix):
            return "webcal://" + url[len(prefix) :]
    return url
