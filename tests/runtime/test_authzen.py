"""The AuthZEN Authorization API 1.0 shapes: one evaluation, the batch with its three semantics, and
the PDP metadata; bad input is a 400 naming the field."""

import pytest

from tests.runtime.fixtures import ask

pytestmark = pytest.mark.django_db


def test_metadata_names_both_endpoints(client, settings):
    # given
    settings.SITE_URL = "https://registry.example.com"

    # when
    response = client.get("/.well-known/authzen-configuration")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "policy_decision_point": "https://registry.example.com",
        "access_evaluation_endpoint": "https://registry.example.com/access/v1/evaluation",
        "access_evaluations_endpoint": "https://registry.example.com/access/v1/evaluations",
    }


def test_an_allowed_evaluation_answers_decision_true_with_the_matched_agent(decide, released):
    response = decide(ask(released.key))

    assert response.status_code == 200
    body = response.json()
    assert body["decision"] is True
    assert body["context"]["reason_code"] == "allowed"
    assert body["context"]["agent"] == released.key
    assert response["X-Request-ID"]


def test_a_refusal_carries_an_admin_reason_and_a_short_user_reason(decide, db):
    body = decide(ask("nobody.knows-me")).json()

    assert body["decision"] is False
    assert body["context"]["reason_code"] == "unregistered"
    assert "nobody.knows-me" in body["context"]["reason_admin"]["en"]
    assert body["context"]["reason_user"]["en"] == "This agent is not registered, so it may not act."
    assert "nobody" not in body["context"]["reason_user"]["en"]


def test_evaluations_apply_top_level_defaults_and_execute_all(decide, released, tool, write_tool):
    body = {
        "subject": {"type": "agent", "id": released.key},
        "action": {"name": "read"},
        "context": {"environment": "production"},
        "evaluations": [
            {"resource": {"type": "tool", "id": tool.key}},
            {"resource": {"type": "tool", "id": "unknown.tool"}},
            {"action": {"name": "write"}, "resource": {"type": "tool", "id": write_tool.key}},
        ],
    }

    response = decide(body, path="/access/v1/evaluations")

    assert response.status_code == 200
    results = response.json()["evaluations"]
    assert [r["decision"] for r in results] == [True, False, True]
    assert results[1]["context"]["reason_code"] == "tool_not_granted"


@pytest.mark.parametrize(
    ("semantic", "expected"),
    [("deny_on_first_deny", [True, False]), ("permit_on_first_permit", [False, True])],
)
def test_evaluations_stop_at_the_deciding_item(decide, released, tool, semantic, expected):
    items = [{"resource": {"type": "tool", "id": tool.key}}, {"resource": {"type": "tool", "id": "unknown.tool"}}]
    if semantic == "permit_on_first_permit":
        items.reverse()
    items.append({"resource": {"type": "tool", "id": tool.key}})
    body = {
        "subject": {"type": "agent", "id": released.key},
        "action": {"name": "read"},
        "evaluations": items,
        "options": {"evaluations_semantic": semantic},
    }

    results = decide(body, path="/access/v1/evaluations").json()["evaluations"]

    assert [r["decision"] for r in results] == expected


def test_evaluations_without_items_answer_as_one_evaluation(decide, released):
    body = decide(ask(released.key), path="/access/v1/evaluations").json()

    assert body["decision"] is True
    assert "evaluations" not in body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": {"name": "run"}, "resource": {"type": "environment", "id": "production"}}, "subject"),
        ({"subject": {"type": "agent"}, "action": {"name": "run"}, "resource": {"type": "x", "id": "y"}}, "subject.id"),
        (
            {"subject": {"type": "agent", "id": 5}, "action": {"name": "run"}, "resource": {"type": "x", "id": "y"}},
            "subject.id",
        ),
        ({"subject": {"type": "agent", "id": "a"}, "action": "run", "resource": {"type": "x", "id": "y"}}, "action"),
        (
            {**ask("a"), "context": {"environment": "moon"}},
            "context.environment",
        ),
        ({**ask("a"), "context": {"amount": "lots"}}, "context.amount"),
        ({**ask("a"), "context": {"amount": -3}}, "context.amount"),
        ({**ask("a"), "context": {"irreversible": "yes"}}, "context.irreversible"),
        ({**ask("a"), "context": {"category": "sporting"}}, "context.category"),
        ({**ask("a"), "resource": {"type": "mcp_tool", "id": "no-slash"}}, "resource.id"),
        ([1, 2], "body"),
        ({**ask("ghost\x00agent")}, "subject.id"),
        (
            {**ask("a"), "action": {"name": "call", "properties": {"access": ["write"]}}},
            "action.properties.access",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(decide, db, body, field):
    response = decide(body)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_bad_json_and_bad_batch_items_are_400s(decide, db):
    assert decide(None, raw_body="{not json").status_code == 400
    assert decide(None, raw_body='{"subject": ' + "9" * 5000 + "}").status_code == 400
    response = decide({"evaluations": [{"subject": {"type": "agent", "id": "a"}}, 3]}, path="/access/v1/evaluations")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "evaluations[0].action" in errors
    assert "evaluations[1]" in errors
    bad_option = decide({**ask("a"), "options": {"evaluations_semantic": "sometimes"}}, path="/access/v1/evaluations")
    assert "options.evaluations_semantic" in bad_option.json()["errors"]
