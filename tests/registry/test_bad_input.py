"""Bad input: each gets a clear 4xx naming the field at fault (HTML: a form error), never a 500,
and nothing already stored changes."""

import json

import pytest
from django.utils import timezone

from registry import services
from registry.models import Agent, AgentDelegate, AgentVersion, ApiToken, AuditEvent
from tests.factories import UserFactory


@pytest.fixture
def unchanged(agent):
    """Asserts, after the test body, that the agent row and the audit trail are exactly as before.

    Sign-in records (``auth.*``: the test client signing in) describe the request, not a change.
    """
    changes = AuditEvent.objects.exclude(event_type__startswith="auth.")
    before_row = Agent.objects.filter(pk=agent.pk).values().get()
    before_audit = changes.count()
    before_versions = AgentVersion.objects.count()
    yield
    assert Agent.objects.filter(pk=agent.pk).values().get() == before_row
    assert changes.count() == before_audit
    assert AgentVersion.objects.count() == before_versions


def new_agent(unit, **overrides):
    body = {
        "key": "hr.onboarding-buddy",
        "name": "Onboarding buddy",
        "business_unit": unit.slug,
        "pattern": "employee_enablement",
        "autonomy_level": 1,
        "topology": "embedded",
        "data_classification": "internal",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


# --- API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"pattern": "chatbot"}, "pattern", '"chatbot" is not a valid choice.'),
        ({"autonomy_level": 9}, "autonomy_level", '"9" is not a valid choice.'),
        ({"topology": "mesh"}, "topology", '"mesh" is not a valid choice.'),
        ({"data_classification": "secret"}, "data_classification", '"secret" is not a valid choice.'),
        ({"business_unit": "atlantis"}, "business_unit", "Object with slug=atlantis does not exist."),
        ({"owner": "nobody"}, "owner", "Object with username=nobody does not exist."),
        ({"key": "hr.leave-assistant"}, "key", "already"),
        ({"key": "HR Leave"}, "key", "Use lowercase letters and digits"),
        ({"key": "k" * 101}, "key", "Ensure this field has no more than 100 characters."),
        ({"description": "x" * 4001}, "description", "Ensure this field has no more than 4000 characters."),
        ({"name": None}, "name", "This field is required."),
        ({"eligible_users": -5}, "eligible_users", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_api_create_names_the_field_at_fault(api_for, owner, unit, unchanged, overrides, field, message):
    # when
    response = api_for(owner).post("/api/v1/agents/", new_agent(unit, **overrides), format="json")

    # then
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Agent.objects.filter(name="Onboarding buddy").exists()


@pytest.mark.parametrize(
    ("make_owner", "message"),
    [
        (lambda: UserFactory(username="bot", kind="service"), "bot is a service account; an owner must be a person."),
        (lambda: UserFactory(username="gone", is_active=False), "gone is deactivated; choose an active person."),
    ],
)
def test_api_create_refuses_an_owner_who_is_not_an_active_person(api_for, owner, unit, unchanged, make_owner, message):
    response = api_for(owner).post("/api/v1/agents/", new_agent(unit, owner=make_owner().username), format="json")
    assert response.status_code == 400
    assert response.json() == {"owner": [message]}


def test_api_refuses_malformed_json(api_for, owner, unchanged):
    response = api_for(owner).generic(
        "PATCH", "/api/v1/agents/hr.leave-assistant/", '{"name": "x",', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_api_refuses_a_body_that_is_not_an_object(api_for, owner, unchanged):
    response = api_for(owner).patch("/api/v1/agents/hr.leave-assistant/", ["name"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_api_refuses_a_wrong_content_type(api_for, owner, unchanged):
    response = api_for(owner).generic(
        "PATCH", "/api/v1/agents/hr.leave-assistant/", "name=x", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_api_unknown_agent_key_is_404(api_for, owner, unchanged, method):
    response = getattr(api_for(owner), method)("/api/v1/agents/hr.no-such-agent/", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Agent matches the given query."}


def test_api_unknown_agent_key_on_an_action_is_404(api_for, owner, unchanged):
    response = api_for(owner).post(
        "/api/v1/agents/hr.no-such-agent/transition/", {"to_state": "in_review", "reason": "x"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"to_state": "production", "reason": "Launch"},
            "to_state",
            "cannot move from Proposed straight to Production",
        ),
        ({"to_state": "launched", "reason": "Launch"}, "to_state", '"launched" is not a valid choice.'),
        ({"to_state": "in_review"}, "reason", "This field is required."),
        ({"to_state": "in_review", "reason": "  "}, "reason", "This field may not be blank."),
        ({"to_state": "in_review", "reason": "x" * 2001}, "reason", "no more than 2000 characters"),
    ],
)
def test_api_transition_names_the_field_at_fault(api_for, owner, agent, unchanged, body, field, message):
    response = api_for(owner).post(f"/api/v1/agents/{agent.key}/transition/", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


@pytest.mark.parametrize(
    ("make_user", "message"),
    [
        (lambda: UserFactory(username="bot", kind="service"), "bot is a service account"),
        (lambda: UserFactory(username="gone", is_active=False), "gone is deactivated"),
    ],
)
def test_api_transfer_refuses_a_bad_new_owner(api_for, owner, agent, unchanged, make_user, message):
    response = api_for(owner).post(
        f"/api/v1/agents/{agent.key}/transfer/",
        {"new_owner": make_user().username, "reason": "Handover"},
        format="json",
    )
    assert response.status_code == 400
    assert message in response.json()["new_owner"][0]


def test_api_transfer_refuses_an_unknown_new_owner(api_for, owner, agent, unchanged):
    response = api_for(owner).post(
        f"/api/v1/agents/{agent.key}/transfer/", {"new_owner": "nobody", "reason": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "new_owner" in response.json()


def test_api_update_refuses_an_owner_change(api_for, owner, employee, agent, unchanged):
    response = api_for(owner).patch(f"/api/v1/agents/{agent.key}/", {"owner": employee.username}, format="json")
    assert response.status_code == 400
    assert "transfer action" in response.json()["owner"][0]


def test_api_update_refuses_a_stale_row_version_with_409(api_for, owner, delegate, agent):
    # given: the delegate saved since the owner read version 1
    services.update_agent(agent, actor=delegate, name="Delegate's name")
    before = AuditEvent.objects.count()

    # when
    response = api_for(owner).patch(f"/api/v1/agents/{agent.key}/", {"name": "Mine", "row_version": 1}, format="json")

    # then
    assert response.status_code == 409
    assert "changed by someone else" in response.json()["detail"]
    agent.refresh_from_db()
    assert agent.name == "Delegate's name"
    assert AuditEvent.objects.count() == before


def test_api_update_refuses_a_locked_key(api_for, owner, agent):
    services.lock_agent_key(agent, seen_at=timezone.now())
    response = api_for(owner).patch(f"/api/v1/agents/{agent.key}/", {"key": "hr.other"}, format="json")
    assert response.status_code == 400
    assert "can no longer change" in response.json()["key"][0]
    agent.refresh_from_db()
    assert agent.key == "hr.leave-assistant"


def test_api_delegate_refuses_an_unknown_or_ineligible_person(api_for, owner, agent, unchanged):
    client = api_for(owner)
    unknown = client.post(f"/api/v1/agents/{agent.key}/delegates/", {"user": "nobody"}, format="json")
    bot = UserFactory(username="bot", kind="service")
    machine = client.post(f"/api/v1/agents/{agent.key}/delegates/", {"user": bot.username}, format="json")
    assert unknown.status_code == 400
    assert "user" in unknown.json()
    assert machine.status_code == 400
    assert machine.json() == {"user": ["A delegate must be an active person."]}
    assert AgentDelegate.objects.filter(agent=agent).count() == 1


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([{"tool": "workday.read-leave", "access": "write"}], "read-only in the tool catalog"),
        ([{"tool": "no.such-tool", "access": "read"}], "does not exist"),
        ([{"tool": "workday.read-leave", "access": "admin"}], "is not a valid choice"),
    ],
)
def test_api_version_names_the_tools_at_fault(api_for, owner, agent, tool, unchanged, tools, message):
    body = {"agent": agent.key, "label": "1.0", "model_provider": "a", "model_name": "b", "tools": tools}
    response = api_for(owner).post("/api/v1/agent-versions/", body, format="json")
    assert response.status_code == 400
    assert message in json.dumps(response.json()["tools"])


def test_api_filters_with_a_bad_choice_are_a_400(api_for, owner, agent):
    response = api_for(owner).get("/api/v1/agents/", {"lifecycle": "launched"})
    assert response.status_code == 400
    assert "lifecycle" in response.json()


# --- HTML --------------------------------------------------------------------------------


def agent_post(agent, **overrides):
    data = {
        name: getattr(agent, name)
        for name in services.EDITABLE_AGENT_FIELDS
        if name != "business_unit" and getattr(agent, name) not in (None, False)
    }
    data["business_unit"] = agent.business_unit_id
    data["row_version"] = agent.row_version
    data.update(overrides)
    return data


def new_agent_post(unit, person, **overrides):
    data = {
        "key": "hr.onboarding-buddy",
        "name": "Onboarding buddy",
        "business_unit": unit.pk,
        "owner": person.pk,
        "pattern": "employee_enablement",
        "autonomy_level": 1,
        "topology": "embedded",
        "data_classification": "internal",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"pattern": "chatbot"}, "pattern", "Select a valid choice."),
        ({"autonomy_level": "abc"}, "autonomy_level", "Select a valid choice."),
        ({"business_unit": 999999}, "business_unit", "Select a valid choice."),
        ({"owner": 999999}, "owner", "Select a valid choice."),
        ({"key": "hr.leave-assistant"}, "key", "already"),
        ({"key": "HR Leave"}, "key", "Use lowercase letters"),
        ({"description": "x" * 4001}, "description", "at most 4000 characters"),
        ({"metric_target": "lots"}, "metric_target", "Enter a number."),
    ],
)
def test_html_create_shows_the_error_on_the_field(client_for, owner, unit, agent, unchanged, overrides, field, message):
    # when
    response = client_for(owner).post("/agents/new/", new_agent_post(unit, owner, **overrides))

    # then
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert not Agent.objects.filter(name="Onboarding buddy").exists()


@pytest.mark.parametrize("kind", ["service", "inactive"])
def test_html_create_refuses_an_owner_who_is_not_an_active_person(client_for, owner, unit, unchanged, kind):
    bad = (
        UserFactory(username="bad", kind="service")
        if kind == "service"
        else UserFactory(username="bad", is_active=False)
    )
    response = client_for(owner).post("/agents/new/", new_agent_post(unit, bad))
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors


def test_html_edit_with_a_stale_copy_shows_a_form_error(client_for, owner, delegate, agent):
    # given
    stale = agent_post(agent, name="Owner's name")
    services.update_agent(agent, actor=delegate, name="Delegate's name")

    # when
    response = client_for(owner).post(f"/agents/{agent.key}/edit/", stale)

    # then
    assert response.status_code == 200
    assert "changed by someone else" in " ".join(response.context["form"].non_field_errors())
    agent.refresh_from_db()
    assert agent.name == "Delegate's name"


def test_html_edit_of_a_locked_key_is_ignored_and_says_so(client_for, owner, agent):
    services.lock_agent_key(agent, seen_at=timezone.now())
    response = client_for(owner).get(f"/agents/{agent.key}/edit/")
    assert response.context["form"].fields["key"].disabled
    client_for(owner).post(f"/agents/{agent.key}/edit/", agent_post(agent, key="hr.other", name="Renamed"))
    agent.refresh_from_db()
    assert agent.key == "hr.leave-assistant"
    assert agent.name == "Renamed"


def test_html_illegal_transition_is_shown_as_an_error(client_for, owner, agent, unchanged):
    response = client_for(owner).post(
        f"/agents/{agent.key}/transition/", {"to_state": "production", "reason": "Launch"}, follow=True
    )
    assert response.status_code == 200
    assert "cannot move from Proposed straight to Production" in response.content.decode()


def test_html_transition_without_a_reason_is_shown_as_an_error(client_for, owner, agent, unchanged):
    response = client_for(owner).post(f"/agents/{agent.key}/transition/", {"to_state": "in_review"}, follow=True)
    assert "Reason: This field is required." in response.content.decode()


@pytest.mark.parametrize("kind", ["service", "inactive"])
def test_html_transfer_refuses_a_bad_new_owner(client_for, owner, agent, unchanged, kind):
    bad = (
        UserFactory(username="bad", kind="service")
        if kind == "service"
        else UserFactory(username="bad", is_active=False)
    )
    response = client_for(owner).post(f"/agents/{agent.key}/transfer/", {"new_owner": bad.pk, "reason": "x"})
    assert response.status_code == 200
    assert "new_owner" in response.context["form"].errors


@pytest.mark.parametrize("value", ["abc", "", "999999"])
def test_html_removing_a_delegate_with_a_bad_id_is_a_404_not_a_500(client_for, owner, agent, unchanged, value):
    response = client_for(owner).post(f"/agents/{agent.key}/delegates/", {"remove": value})
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["abc", "", "999999"])
def test_html_revoking_a_token_with_a_bad_id_is_a_404_not_a_500(client_for, owner, value):
    token, _ = services.create_api_token(owner, actor=owner, name="x")
    response = client_for(owner).post("/profile/", {"revoke": value})
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_html_revoking_someone_elses_token_is_a_404(client_for, owner, employee):
    token, _ = services.create_api_token(employee, actor=employee, name="x")
    response = client_for(owner).post("/profile/", {"revoke": token.pk})
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_html_token_with_a_past_expiry_is_a_form_error(client_for, owner):
    response = client_for(owner).post("/profile/", {"name": "x", "expires_at": "2001-01-01T10:00"})
    assert response.status_code == 200
    assert "must be in the future" in " ".join(response.context["form"].errors["expires_at"])
    assert not ApiToken.objects.exists()


def test_html_unknown_agent_key_is_404(client_for, owner):
    assert client_for(owner).get("/agents/hr.no-such-agent/").status_code == 404
    assert client_for(owner).get("/agents/hr.no-such-agent/edit/").status_code == 404


@pytest.mark.parametrize(
    "query", [{"page": "abc"}, {"page": "9999"}, {"business_unit": "atlantis"}, {"lifecycle": "launched"}]
)
def test_html_catalog_survives_bad_query_strings(client_for, owner, agent, query):
    response = client_for(owner).get("/agents/", query)
    assert response.status_code == 200


def test_html_version_with_a_duplicate_label_is_a_form_error(client_for, owner, agent):
    services.create_version(agent, actor=owner, label="1.0", model_provider="a", model_name="b")
    response = client_for(owner).post(
        f"/agents/{agent.key}/versions/new/", {"label": "1.0", "model_provider": "a", "model_name": "b"}
    )
    assert response.status_code == 200
    assert "already has a version with this label" in " ".join(response.context["form"].errors["label"])


# --- NUL characters in lookups: refused once, for every lookup field ------------------------------

NUL_REFERENCES = [
    ("/api/v1/agent-versions/", "agent"),
    ("/api/v1/agents/", "business_unit"),
    ("/api/v1/evidence/", "agent"),
    ("/api/v1/maturity-assessments/", "business_unit"),
    ("/api/v1/reviews/", "agent"),
    ("/api/v1/risk-assessments/", "agent"),
    ("/api/v1/waivers/", "agent"),
    ("/api/v1/incidents/", "agent"),
]


@pytest.mark.parametrize(("path", "field"), NUL_REFERENCES)
def test_a_nul_character_in_a_reference_is_a_400_naming_the_field(api_for, admin, agent, path, field):
    # when
    response = api_for(admin).post(path, {field: "a\x00b"}, format="json")
    # then
    assert response.status_code == 400, response.content[:300]
    assert response.json()[field] == ["Null characters are not allowed."]


def test_a_nul_character_in_a_nested_reference_is_a_400(api_for, owner, agent):
    body = {"agent": agent.key, "label": "2.0.0", "tools": [{"tool": "crm\x00", "access": "read"}]}
    response = api_for(owner).post("/api/v1/agent-versions/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "Null characters are not allowed." in json.dumps(response.json()["tools"])


@pytest.mark.parametrize("path", ["/api/v1/agents/a%00b/", "/api/v1/business-units/a%00b/", "/agents/a%00b/"])
def test_a_nul_character_in_the_path_is_a_404(api_for, client_for, owner, agent, path):
    client = api_for(owner) if path.startswith("/api/") else client_for(owner)
    assert client.get(path).status_code == 404


def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(api_for, client_for, owner, agent):
    # API: JSON naming the parameter
    response = api_for(owner).get("/api/v1/agents/?business_unit=a%00b&search=ok")
    assert response.status_code == 400
    assert response.json() == {"business_unit": ["Null characters are not allowed."]}
    # pages: the bad-request page, not a server error
    page = client_for(owner).get("/agents/?owner=x%00")
    assert page.status_code == 400
    assert b"Bad request" in page.content


def test_every_writable_reference_of_the_api_is_a_lookup_field():
    """Guard: a serializer that names another row by slug or key must use the shared LookupField,
    which refuses NUL characters and non-text values as a 400 on the field (primary keys are fine)."""
    import importlib
    import pkgutil

    from rest_framework import relations, serializers

    from registry.api.fields import LookupField

    for app in ("registry", "telemetry", "governance", "portfolio"):
        package = importlib.import_module(f"{app}.api")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{app}.api.{module.name}")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    checked = 0
    for cls in set(subclasses(serializers.Serializer)):
        if cls.__module__.split(".")[0] not in ("registry", "telemetry", "governance", "portfolio"):
            continue
        for name, field in cls().fields.items():
            relation = field.child_relation if isinstance(field, relations.ManyRelatedField) else field
            if isinstance(relation, relations.RelatedField) and not field.read_only:
                checked += 1
                # Primary keys are integers: converted before any query, a NUL is already a 400 there.
                safe = (LookupField, relations.PrimaryKeyRelatedField)
                assert isinstance(relation, safe), f"{cls.__module__}.{cls.__name__}.{name}"
    assert checked >= 10
