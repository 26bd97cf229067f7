"""What WeasyPrint may read while it renders a PDF: the app's own static files, nothing else.

WeasyPrint's default fetcher follows any URL in the HTML or CSS: ``file:`` (any file the process
can read), ``http(s):`` (any host, redirects included), ``ftp:``. Our PDFs are rendered from our
templates, but they show organisers' and participants' text, so one escaping mistake would let a
title read ``/etc/passwd`` into a PDF or make the server call an internal address. Every render
goes through :func:`url_fetcher`, which serves ``data:`` URIs (the report's SVG charts) and files
under ``static/`` only, never follows a redirect, and refuses everything else (WeasyPrint logs a
warning and leaves the image out).
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app

ALLOWED_HOSTS = ("", "localhost")

# WeasyPrint reports each step of every render at INFO ("Step 2 - Fetching and parsing CSS") and
# fontTools each font subset: noise in the commands' output and the worker's console. Warnings
# (a refused URL, a missing font) still show.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def static_root() -> Path:
    return Path(current_app.static_folder or "static").resolve()


def base_url() -> str:
    """The base URL for relative references in a PDF template: the static folder."""
    return static_root().as_uri() + "/"


def static_file(url: str, root: Path) -> Path | None:
    """The file a ``file:`` URL names, when it is a file under ``root``; else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc.lower() not in ALLOWED_HOSTS:
        return None
    try:
        path = Path(url2pathname(parts.path)).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def url_fetcher():
    """A WeasyPrint URL fetcher that reads ``data:`` URIs and files under ``static/`` only."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = static_root()

    class StaticFilesFetcher(URLFetcher):
        def __init__(self):
            # urllib serves the data: URIs; no other protocol and no redirects.
            super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=5)

        def fetch(self, url, headers=None):
            if url[:5].lower() == "data:":
                return super().fetch(url, headers)
            path = static_file(url, root)
            if path is None:
                raise ValueError(f"Not fetched (only the app's static files are): {url[:200]}")
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mimetype})

    return StaticFilesFetcher()
