"""Property-based run of schemathesis against the served description, with valid and invalid
data (bounded: 25 examples per operation, no shrinking deadline): no 5xx, every response matches
its documented schema, invalid input is refused with a documented 4xx."""

from __future__ import annotations

import pytest
import schemathesis  # a dev dependency: a missing install fails here rather than skipping the run
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from tests.factories import NOW, make_event_row
from webinar_mgr import clock
from webinar_mgr.api import services as api_services
from webinar_mgr.events import settings as event_settings


@pytest.fixture
def api_schema(app, make_user):
    clock.freeze(NOW)
    event_settings.kinds()
    make_event_row(title="Fuzzed webinar")
    organiser = make_user("organiser")
    token = api_services.create_token(organiser, "fuzz", list(api_services.SCOPES), 30, actor=organiser).secret
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # identity: the WSGI transport does not undo the gzip the app gives clients that accept it
    schema.config.headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    # Valid and invalid data: an id the route refuses (not a number, 0) is answered as problem+json
    # by the app's error handlers for every /api/ path, routed or not.
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_description(case):
    # Left out: "valid data is accepted" (random cursors, ids and kind codes are valid by the
    # schema but name nothing: refused with a 4xx by design) and "undeclared methods" (a method
    # no rule knows, e.g. QUERY, is refused while routing, before the API's blueprint: the app's
    # own 405 page answers in HTML and drops the Allow header - webinar_mgr/__init__.py, reported).
    case.call_and_validate(headers=case.headers, excluded_checks=[positive_data_acceptance, unsupported_method])
