"""Property-based run of schemathesis against the served description (bounded: 25 examples per
operation, no shrinking deadline): no 5xx, every response matches its documented schema."""

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
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    # Positive data only: with negative data, a path id that is not a number never reaches the
    # API (routing refuses it) and the app's HTML 404 page answers - see docs/api.md, "Known gaps".
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
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
