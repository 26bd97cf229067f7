"""The API's HTTP conventions, in one place: who is calling (a bearer token, never a session
cookie), problem details (RFC 9457), cursors and Link headers, ETags.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import current_app, g, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException

from webinar_mgr.errors import DomainError

from . import services

PROBLEM_JSON = "application/problem+json"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class ApiProblem(HTTPException):
    """An HTTP error the API answers as problem+json (``title`` short, ``detail`` specific)."""

    def __init__(self, status: int, title: str, detail: str = "", *, errors=None, headers=None):
        super().__init__(detail or title)
        self.code = status
        self.title = title
        self.detail = detail
        self.errors = errors or {}
        self.extra_headers = headers or {}


def problem_response(status: int, title: str, detail: str = "", *, errors=None, headers=None):
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON, headers=headers or {}
    )
    return response


def _flatten(messages) -> dict[str, list[str]]:
    """webargs' {"json": {"field": [...]}} (or {"query": ...}, {"files": ...}) as {"field": [...]}."""
    out: dict[str, list[str]] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, [*path, str(k)])
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.setdefault(".".join(path) or "_schema", []).extend(value)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, [*path, str(i)])
        else:
            out.setdefault(".".join(path) or "_schema", []).append(str(value))

    for location, fields in (messages or {}).items():
        if isinstance(fields, dict):
            walk(fields, [])
        else:
            walk(fields, [str(location)])
    return out


def handle_domain_error(exc: DomainError):
    titles = {
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Conflict"),
        413: _("Too large"),
        422: _("Invalid input"),
    }
    return problem_response(
        exc.status_code, titles.get(exc.status_code, _("Request not possible")), exc.message, errors=exc.field_errors
    )


def handle_http_error(exc: HTTPException):
    if isinstance(exc, ApiProblem):
        return problem_response(exc.code, exc.title, exc.detail, errors=exc.errors, headers=exc.extra_headers)
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = _flatten(data.get("messages")) if data.get("messages") else None
    if status == 500:
        detail = _("An unexpected error happened; it has been logged.")
    elif errors:
        detail = _("Please correct the marked fields.")
    elif status == 400 and "JSON" in str(exc.description or ""):
        detail = _("The body is not valid JSON.")
    else:
        detail = str(exc.description or "")
    headers = dict(data.get("headers") or {})
    if status == 405:
        headers.update(dict(exc.get_headers()))
        headers.pop("Content-Type", None)
    return problem_response(status, exc.name, detail, errors=errors, headers=headers)


def conditional(response):
    """ETag on every successful read (a hash of the body), 304 for a matching If-None-Match; the
    answer depends on the token, so caches keep it per Authorization and check it each time."""
    if request.method in ("GET", "HEAD") and response.status_code == 200 and not response.direct_passthrough:
        response.add_etag()
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.add("Authorization")
        response.make_conditional(request)
    return response


# Who is calling ---------------------------------------------------------------------------------


def _session_cookie_sent() -> bool:
    name = current_app.config.get("SESSION_COOKIE_NAME", "session")
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return name in request.cookies or remember in request.cookies


#: endpoint -> the scope it needs (``needs``); checked before the request's body is parsed.
ENDPOINT_SCOPES: dict[str, str] = {}


def needs(blueprint_name: str, scope: str):
    """Declare the scope a view needs (the view still calls ``require`` for its user)."""

    def decorator(fn):
        ENDPOINT_SCOPES[f"{blueprint_name}.{fn.__name__}"] = scope
        return fn

    return decorator


def authenticate_request() -> None:
    """Run before every API view: read the bearer token, if any. A wrong, expired or revoked token
    is refused outright; a request that would change something with only a session cookie is
    refused too (cookies never authenticate the API, so a forged cross-site request does nothing)."""
    g.api_token = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiProblem(
                401,
                _("Unauthorized"),
                _("Send the token as: Authorization: Bearer <token>."),
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        token = services.authenticate(value.strip())
        if token is None:
            raise ApiProblem(
                401,
                _("Unauthorized"),
                _("The token is not valid: unknown, expired or revoked."),
                headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            )
        g.api_token = token
    needed = ENDPOINT_SCOPES.get(request.endpoint)
    if not header and _session_cookie_sent() and (needed or request.method not in SAFE_METHODS):
        raise ApiProblem(
            401,
            _("Unauthorized"),
            _("The API does not accept the sign-in cookie: send a personal access token."),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    if needed:  # before the body is read: 401 and 403 come before any 422
        require(needed)


def reader():
    """The token's owner, or None for an anonymous reader (public resources)."""
    token = g.get("api_token")
    return token.user if token is not None else None


def require(scope: str):
    """The token's owner, when the token holds ``scope`` and its owner's roles allow it now."""
    token = g.get("api_token")
    if token is None:
        raise ApiProblem(
            401,
            _("Unauthorized"),
            _("This resource needs a personal access token."),
            headers={"WWW-Authenticate": f'Bearer realm="api", scope="{scope}"'},
        )
    if scope not in (token.scopes or []):
        raise ApiProblem(
            403,
            _("Forbidden"),
            _("The token lacks the scope %(scope)s.", scope=scope),
            headers={"WWW-Authenticate": f'Bearer realm="api", error="insufficient_scope", scope="{scope}"'},
        )
    if not services.scope_allowed(token.user, scope):
        raise ApiProblem(403, _("Forbidden"), _("Your role does not allow this."))
    return token.user


def rate_limit_key() -> str:
    """Per token (by a hash of the header: the limiter runs before the token is read), else per
    client address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api-token:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:24]
    return "api-ip:" + (request.remote_addr or "-")


# Cursors ----------------------------------------------------------------------------------------


@dataclass
class Window:
    offset: int
    limit: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="api-cursor")


def _query_fingerprint(filters: dict) -> str:
    plain = {k: v for k, v in filters.items() if k not in ("cursor", "limit") and v not in (None, "")}
    text = json.dumps([request.endpoint, request.view_args, plain], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def window(filters: dict) -> Window:
    """Where this page starts: the cursor (signed, tied to the query that made it) or the start."""
    cursor = filters.get("cursor")
    limit = filters.get("limit") or DEFAULT_LIMIT
    if not cursor:
        return Window(0, limit)
    try:
        data = _serializer().loads(cursor)
        if data["q"] != _query_fingerprint(filters):
            raise ValueError("another query")
        offset, limit = int(data["o"]), int(data["n"])
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            raise ValueError("out of range")
    except (BadSignature, ValueError, KeyError, TypeError):
        raise ApiProblem(
            400,
            _("Bad Request"),
            _("The cursor is not valid for this query: start again without it."),
            errors={"cursor": [_("Not a cursor of this query.")]},
        ) from None
    return Window(offset, limit)


def page(items: list, win: Window, filters: dict, has_more: bool) -> tuple[dict, dict]:
    """The body ({"items", "next"}) and the Link header of one page."""
    headers = {}
    nxt = None
    if has_more:
        token = _serializer().dumps({"q": _query_fingerprint(filters), "o": win.offset + win.limit, "n": win.limit})
        args = {k: v for k, v in request.args.items() if k not in ("cursor", "limit")}
        nxt = url_for(request.endpoint, **(request.view_args or {}), **args, cursor=token, _external=True)
        headers["Link"] = f'<{nxt}>; rel="next"'
    return {"items": items, "next": nxt}, headers


def fetch_window(db_session, stmt, win: Window) -> tuple[list, bool]:
    """One page of ``stmt`` (which must have a stable order) and whether more follow."""
    rows = list(db_session.scalars(stmt.offset(win.offset).limit(win.limit + 1)).unique())
    return rows[: win.limit], len(rows) > win.limit
