"""Schemathesis over the OpenAPI schema, as a signed-in non-superuser, within ``make test``.

Bounded so it fits CI: a few examples per operation, derandomized (the same
inputs every run), no deadline. Every operation must answer without a server
error, with a response the schema describes, and without showing the caller
anything that belongs to another user (a marked token of someone else's).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from config.wsgi import application
from registry import services
from registry.choices import UserKind
from tests.factories import UserFactory

EXAMPLES_PER_OPERATION = 3
# The coverage and stateful phases multiply the cases far beyond CI's budget;
# positive and negative examples from the fuzzing phase remain. Deterministic:
# the same inputs on every run.
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
# Not applied: "schema-valid request rejected" and "schema-violating request
# accepted". An OpenAPI schema cannot say that a slug must name an existing row
# (so a valid-looking reference is rightly refused with 400), and list
# endpoints deliberately ignore a malformed page_size rather than refuse it.
EXCLUDED_CHECKS = [checks.positive_data_acceptance, checks.negative_data_rejection]
OTHER_USERS_SECRET = "other-users-private-token-name"


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly would close the test's connection after each request; the test client
    avoids that the same way, by unhooking close_old_connections for the duration."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller(keep_test_connection, agent, owner, tool, unit):
    """An ordinary person with a personal token, in a registry with an agent, a tool and someone else's token."""
    stranger = UserFactory(username="stranger", business_unit=unit, kind=UserKind.PERSON)
    _, other_raw = services.create_api_token(stranger, actor=stranger, name=OTHER_USERS_SECRET)
    person = UserFactory(username="fuzzer", business_unit=unit)
    _, raw = services.create_api_token(person, actor=person, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}, [OTHER_USERS_SECRET, other_raw, stranger.email]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_holds_up_under_generated_requests(case, caller):
    headers, secrets = caller
    response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)
    body = response.text
    for secret in secrets:
        assert secret not in body, f"{case.method} {case.formatted_path} showed another user's {secret!r}"


# --- What the fuzzing found, pinned as plain regression tests ------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("0320-06-20T00:51:07.07+20:39", 200),  # PostgreSQL refuses a +20:39 offset; compared in UTC it is fine
        ("0001-01-01T00:00:00+14:00", 400),  # before year 1 once in UTC
        ("2026-11-22T06:00:00Z", 200),
        ("yesterday", 400),
    ],
)
def test_date_time_filters_compare_in_utc_and_refuse_out_of_range_values(api_for, board, value, status):
    response = api_for(board).get("/api/v1/findings/", {"opened_after": value})
    assert response.status_code == status, response.content[:200]


def test_a_telemetry_source_created_without_a_kind_gets_the_default_kind(api_for, admin):
    response = api_for(admin).post("/api/v1/telemetry/sources/", {"name": "edge collector"}, format="json")
    assert response.status_code == 201, response.content[:200]
    assert response.json()["kind"] == "collector"


# --- Lookup fields: a NUL character anywhere a row is named -----------------------------------


def lookup_field_names() -> set[str]:
    """The body fields that name another row (every LookupField of the API's serializers)."""
    from rest_framework import serializers

    from registry.api.fields import LookupField

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    names = set()
    for cls in subclasses(serializers.Serializer):
        if cls.__module__.split(".")[0] in ("registry", "telemetry", "governance", "portfolio"):
            names |= {name for name, field in cls().fields.items() if isinstance(field, LookupField)}
    return names


LOOKUP_FIELDS = lookup_field_names()


def with_nul(value):
    return f"{value}\x00x" if isinstance(value, str) else "a\x00b"


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=2,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_refuses_nul_characters_in_every_lookup(case, caller):
    """Generated requests with a NUL character put into every path parameter, query parameter and
    body field that names a row: never a server error; a 404 for a path, a 400 naming the field else."""
    headers, _ = caller
    injected = None
    if case.path_parameters:
        case.path_parameters = {name: with_nul(value) for name, value in case.path_parameters.items()}
        injected = "path"
    elif isinstance(case.body, dict) and LOOKUP_FIELDS & set(case.body):
        field = sorted(LOOKUP_FIELDS & set(case.body))[0]
        case.body = {**case.body, field: with_nul(case.body[field])}
        injected = field
    elif case.query:
        field = sorted(case.query)[0]
        case.query = {**case.query, field: with_nul(case.query[field])}
        injected = field
    if injected is None:
        return
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
    if injected == "path":
        assert response.status_code == 404, f"{case.method} {case.formatted_path}: {response.status_code}"
    else:
        assert response.status_code == 400, f"{case.method} {case.formatted_path}: {response.status_code}"
        assert injected in response.json(), f"{case.method} {case.formatted_path}: {response.text[:200]}"
