"""Every endpoint declares an access policy, and each policy is enforced for every role.

A new endpoint without ``@access...`` fails here. Each endpoint is called by an anonymous
visitor, a participant, an organiser, a co-chair and an admin; those the policy refuses get a
sign-in redirect (anonymous) or 401/403, and those it admits never get 401/403 or a 500.
"""

from __future__ import annotations

import pytest
from flask import Blueprint

from webinar_mgr.security import AUTHENTICATED, BEARER, PUBLIC, ROLES, TOKEN, access, policy_of

PERSONAS = ("anonymous", "participant", "organiser", "cochair", "admin")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE_ARGS = {
    "int": 999999,
    "string": "no-such-thing",
    "path": "no/such/thing",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def endpoints_without_policy(app) -> list[str]:
    return sorted(
        rule.endpoint for rule in app.url_map.iter_rules() if policy_of(app.view_functions[rule.endpoint]) is None
    )


def _sample_url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        kind = type(converter).__name__.replace("Converter", "").lower()
        values[arg] = SAMPLE_ARGS.get({"integer": "int", "unicode": "string"}.get(kind, kind), "x")
    url = rule.build(values, append_unknown=False)[1]
    return url


def test_every_endpoint_declares_a_policy(app):
    missing = endpoints_without_policy(app)
    assert missing == [], f"endpoints without an access policy: {missing}"


def test_the_check_catches_an_endpoint_without_policy(app):
    bp = Blueprint("forgotten", __name__)

    @bp.get("/forgotten")
    def forgotten():
        return "oops"

    @bp.get("/remembered")
    @access.public
    def remembered():
        return "ok"

    app.register_blueprint(bp)
    assert endpoints_without_policy(app) == ["forgotten.forgotten"]


@pytest.fixture
def persona_clients(app, make_user, login):
    clients = {"anonymous": app.test_client()}
    for role in PERSONAS[1:]:
        user = make_user(role, email=f"{role}@policy.example")
        c = app.test_client()
        resp = c.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
        assert resp.status_code == 302
        clients[role] = (c, user)
    return clients


def test_every_policy_is_enforced(app, persona_clients):
    checked = 0
    problems = []
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    for rule in rules:
        if rule.endpoint in ("static",) or rule.endpoint == "auth.logout":
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        url = _sample_url(rule)
        for method in sorted(set(rule.methods) & set(METHODS)):
            for persona in PERSONAS:
                if persona == "anonymous":
                    client, user = persona_clients["anonymous"], None
                else:
                    client, user = persona_clients[persona]
                resp = client.open(url, method=method, headers={"Accept": "text/html"})
                status = resp.status_code
                checked += 1
                allowed = policy.allows(user)
                if status >= 500:
                    problems.append(f"{method} {url} as {persona}: {status}")
                elif allowed and status in (401, 403) and policy.kind not in (TOKEN, BEARER):
                    problems.append(f"{method} {url} as {persona}: refused ({status}) but policy admits")
                elif not allowed:
                    if persona == "anonymous":
                        ok = status == 401 or (status == 302 and "/login" in resp.headers.get("Location", ""))
                    else:
                        ok = status == 403
                    if not ok:
                        problems.append(
                            f"{method} {url} as {persona}: {status}, policy {policy.kind} {sorted(policy.roles)}"
                        )
    assert checked > 20
    assert problems == []


def test_policy_kinds_are_known(app):
    kinds = {policy_of(app.view_functions[r.endpoint]).kind for r in app.url_map.iter_rules()}
    assert kinds <= {PUBLIC, TOKEN, AUTHENTICATED, ROLES, BEARER}
