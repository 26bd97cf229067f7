"""How pages travel: compressed text responses, static files under content-hashed names, and
"Error: " in the title of a page whose form did not validate.

- ``url_for("static", filename="css/app.css")`` gives ``/static/css/app.<hash>.css`` (the first
  12 hex digits of the file's SHA-256). That address answers with ``Cache-Control: public,
  max-age=31536000, immutable``: a changed file gets a new name, so browsers keep each version for
  a year and never ask again. The plain ``/static/css/app.css`` still works, cached for
  ``STATIC_SHORT_MAX_AGE`` seconds (as does an old hash, answered with today's file).
- Text responses (HTML, CSS, JavaScript, JSON, SVG, CSV, calendars) of at least
  ``COMPRESS_MIN_BYTES`` are gzip-compressed when the browser accepts it (``Vary:
  Accept-Encoding``); a static file's compressed bytes are kept in memory per version.
- ``page_has_errors`` is true in every template rendered with a form that has errors; base.html
  then starts the page's title with "Error: " (WCAG 3.3.1, as GOV.UK pages do).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from flask import Flask, before_render_template, request, send_from_directory
from wtforms import Form

IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESS_MIN_BYTES = 500
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "text/calendar",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "image/svg+xml",
    }
)
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


def register(app: Flask) -> None:
    app.config.setdefault("STATIC_SHORT_MAX_AGE", 600)
    app.config.setdefault("COMPRESS_MIN_BYTES", COMPRESS_MIN_BYTES)
    _register_static(app)
    _register_compression(app)
    before_render_template.connect(_mark_form_errors, app)


# Static files under hashed names --------------------------------------------------------------


@lru_cache(maxsize=512)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def file_digest(root: str, filename: str) -> str | None:
    """The content hash of ``filename`` under ``root``, or None when there is no such file."""
    base = Path(root).resolve()
    try:
        path = (base / filename).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return None
        stat = path.stat()
        return _digest(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError):  # a name too long for the file system, a NUL: no such file
        return None


def hashed_name(root: str, filename: str) -> str:
    """``css/app.css`` -> ``css/app.<hash>.css``; the name unchanged when the file is missing."""
    digest = file_digest(root, filename)
    if digest is None:
        return filename
    stem, dot, suffix = filename.rpartition(".")
    if not dot or "/" in suffix:
        return f"{filename}.{digest}"
    return f"{stem}.{digest}.{suffix}"


def _register_static(app: Flask) -> None:
    root = app.static_folder
    if not root:
        return

    @app.url_defaults
    def hash_static_urls(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = hashed_name(root, values["filename"])

    original = app.view_functions["static"]

    def static(filename: str):
        match = _HASHED.match(filename)
        if match:
            plain = match["stem"] + match["suffix"]
            current = file_digest(root, plain)
            if current is not None:
                response = send_from_directory(root, plain, max_age=app.config["STATIC_SHORT_MAX_AGE"])
                if current == match["digest"]:
                    response.headers["Cache-Control"] = IMMUTABLE
                    response.headers.pop("Expires", None)
                return response  # an old hash: today's file, with the short lifetime
        return send_from_directory(root, filename, max_age=app.config["STATIC_SHORT_MAX_AGE"])

    static.__name__ = original.__name__
    static.__doc__ = original.__doc__
    for name, value in vars(original).items():  # the access policy and the like
        setattr(static, name, value)
    app.view_functions["static"] = static


# Compression ------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _gzip_static(etag: str, body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def _register_compression(app: Flask) -> None:
    @app.after_request
    def compress(response):
        if response.mimetype in COMPRESSIBLE:  # a shared cache keeps the gzip and plain copies apart
            response.vary.add("Accept-Encoding")
        if not _should_compress(response, app.config["COMPRESS_MIN_BYTES"]):
            return response
        response.direct_passthrough = False
        body = response.get_data()
        if len(body) < app.config["COMPRESS_MIN_BYTES"]:
            return response
        etag, _weak = response.get_etag()
        if request.endpoint == "static" and etag:
            packed = _gzip_static(etag, body)
        else:
            packed = gzip.compress(body, compresslevel=6)
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
        if etag:  # other bytes, same resource: a weak validator still answers If-None-Match with 304
            response.set_etag(etag, weak=True)
        return response


def _should_compress(response, minimum: int) -> bool:
    if request.method == "HEAD" or response.status_code < 200 or response.status_code in (204, 206, 304):
        return False
    if "Content-Encoding" in response.headers or (response.is_streamed and not response.direct_passthrough):
        return False
    if response.mimetype not in COMPRESSIBLE:
        return False
    if "gzip" not in request.accept_encodings:
        return False
    length = response.content_length
    return length is None or length >= minimum


# "Error: " in the title ------------------------------------------------------------------------


def _mark_form_errors(sender, template, context, **extra) -> None:
    if "page_has_errors" in context:
        return
    context["page_has_errors"] = any(isinstance(v, Form) and bool(v.errors) for v in context.values())
