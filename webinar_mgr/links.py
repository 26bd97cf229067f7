"""Absolute links for mails, calendar entries and feeds: the one way to build them.

Built from config ``BASE_URL`` without a request (the worker that renders mails has none), so a
link in a mail is the same whether it was queued by a page or by ``flask worker``. Production
requires ``BASE_URL``. In development without it, ``BASE_URL`` is the server's HOST and PORT (which
``make run`` passes to the server and to its worker), and a mail queued by a page follows the
address that page was served on (``BASE_URL_FROM_REQUEST``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.routing import BuildError


def base_url() -> str:
    if current_app.config.get("BASE_URL_FROM_REQUEST") and has_request_context():
        return request.url_root.rstrip("/")
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
