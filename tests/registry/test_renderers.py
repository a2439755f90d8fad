"""The API's JSON renderer writes the document DRF's own renderer writes."""

import json
import math
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from registry.api.renderers import FastJSONRenderer
from registry.choices import Lifecycle

PAYLOAD = {
    "text": "Zürich – 東京 \u2028 line and \u2029 paragraph separators",
    "numbers": [0, -7, 2**53, 1.5, 0.1, 123456.789],
    "flags": [True, False, None],
    "nested": {"list": [{"a": [1, {"b": []}]}], "empty": {}},
    "when": datetime(2026, 12, 1, 13, 45, 21, 123456, tzinfo=UTC),
    "day": date(2026, 12, 1),
    "clock": time(9, 30),
    "amount": Decimal("3.750000"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy": gettext_lazy("Agents"),
    "error": ErrorDetail("This field is required.", code="required"),
    "state": Lifecycle.PRODUCTION,
    7: "an integer key",
}


def test_it_writes_the_same_bytes_as_drf():
    assert FastJSONRenderer().render(PAYLOAD) == JSONRenderer().render(PAYLOAD)


def test_floats_in_exponent_form_keep_their_value():
    # Python spells 1e-07 where orjson spells 1e-7: the same number to any JSON reader.
    tiny = {"numbers": [1e-7, 6.02e23, -2.5e-12]}
    assert json.loads(FastJSONRenderer().render(tiny)) == json.loads(JSONRenderer().render(tiny)) == tiny


def test_separators_that_break_javascript_stay_escaped():
    body = FastJSONRenderer().render({"text": "a\u2028b\u2029c"})
    assert body == b'{"text":"a\\u2028b\\u2029c"}'


def test_a_client_asking_for_indentation_gets_drfs_layout():
    media = "application/json; indent=2"
    assert FastJSONRenderer().render(PAYLOAD, media) == JSONRenderer().render(PAYLOAD, media)
    assert b'\n  "text"' in FastJSONRenderer().render(PAYLOAD, media)


def test_a_number_json_cannot_hold_is_written_as_null():
    # DRF's renderer fails the whole response with a ValueError here.
    assert json.loads(FastJSONRenderer().render({"ratio": math.nan, "big": math.inf})) == {"ratio": None, "big": None}
    with pytest.raises(ValueError, match="Out of range float values"):
        JSONRenderer().render({"ratio": math.nan})


def test_nothing_renders_as_an_empty_body():
    assert FastJSONRenderer().render(None) == b""


@pytest.mark.django_db
def test_the_api_answers_with_it(client_for, leadership):
    response = client_for(leadership).get("/api/v1/portfolio/summary/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["scope_full"] is True
