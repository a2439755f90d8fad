"""Registration as code: the manifest schema, and POST /api/v1/agents/apply/ (plan, apply, idempotence, refusal)."""

import json

import jsonschema
import pytest
import yaml

from registry import services
from registry.manifests import API_VERSION
from registry.models import Agent, AgentVersion, AuditEvent

URL = "/api/v1/agents/apply/"


def manifest(unit, owner, key="hr.onboarding-buddy", **overrides) -> dict:
    data = {
        "apiVersion": API_VERSION,
        "kind": "Agent",
        "key": key,
        "name": "Onboarding buddy",
        "owner": owner.username,
        "business_unit": unit.slug,
        "objective": "Answers new joiners' questions.",
        "pattern": "employee_enablement",
        "autonomy_level": 2,
        "topology": "embedded",
        "data_classification": "internal",
        "metric_target": "80.00",
        "versions": [{"label": "1.0.0", "model_provider": "openai", "model_name": "gpt-5"}],
    }
    data.update(overrides)
    return data


def test_the_schema_is_published_at_a_stable_url_and_validates_a_manifest(client, unit, owner):
    # when: anyone fetches it, signed in or not
    response = client.get("/api/v1/schemas/agent-manifest.json")
    # then: it is a JSON Schema that accepts a good manifest and refuses a bad one
    schema = response.json()
    assert response.status_code == 200
    assert schema["$id"].endswith("/api/v1/schemas/agent-manifest.json")
    jsonschema.validate(manifest(unit, owner), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest(unit, owner, autonomy_level=9), schema)


def test_a_dry_run_plans_a_create_per_field_and_writes_nothing(api_for, owner, unit):
    audit_before = AuditEvent.objects.count()
    response = api_for(owner).post(URL, {"dry_run": True, "manifests": [manifest(unit, owner)]}, format="json")
    body = response.json()
    assert response.status_code == 200, body
    assert body["dry_run"] is True
    assert body["applied"] is False
    assert body["summary"] == {"create": 1, "update": 0, "unchanged": 0}
    planned = body["agents"][0]
    assert planned["action"] == "create"
    assert planned["changes"]["name"] == {"old": None, "new": "Onboarding buddy"}
    assert planned["changes"]["owner"] == {"old": None, "new": owner.username}
    assert planned["versions"] == [{"label": "1.0.0", "action": "create"}]
    assert not Agent.objects.filter(key="hr.onboarding-buddy").exists()
    assert AuditEvent.objects.count() == audit_before


def test_apply_creates_then_is_idempotent_then_plans_an_update_with_old_and_new(api_for, owner, unit):
    client = api_for(owner)
    # when: applied
    created = client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    # then: the agent and its version exist, audited as the caller
    agent = Agent.objects.get(key="hr.onboarding-buddy")
    assert created.status_code == 200
    assert created.json()["summary"]["create"] == 1
    assert agent.versions.get().label == "1.0.0"
    assert set(AuditEvent.objects.filter(agent=agent).values_list("event_type", "actor")) == {
        ("agent.created", owner.pk),
        ("version.created", owner.pk),
    }
    # when: the same manifest is applied again
    audit_before = AuditEvent.objects.count()
    again = client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    # then: nothing changes
    assert again.json()["summary"] == {"create": 0, "update": 0, "unchanged": 1}
    assert AuditEvent.objects.count() == audit_before
    # when: the team changes the name and adds a version, and asks for a plan
    changed = manifest(unit, owner, name="Onboarding guide")
    changed["versions"].append({"label": "1.1.0", "model_provider": "openai", "model_name": "gpt-5.1"})
    planned = client.post(URL, {"dry_run": True, "manifests": [changed]}, format="json").json()["agents"][0]
    # then: the plan names exactly the field that changes, with its old and new values
    assert planned["action"] == "update"
    assert planned["changes"] == {"name": {"old": "Onboarding buddy", "new": "Onboarding guide"}}
    assert planned["versions"] == [{"label": "1.0.0", "action": "unchanged"}, {"label": "1.1.0", "action": "create"}]
    # and applying it carries the plan out
    client.post(URL, {"manifests": [changed]}, format="json")
    agent.refresh_from_db()
    assert agent.name == "Onboarding guide"
    assert agent.versions.count() == 2


def test_yaml_manifests_are_accepted_as_sent_from_a_repository(api_for, owner, unit):
    text = yaml.safe_dump_all(
        [manifest(unit, owner), manifest(unit, owner, key="hr.payroll-helper", name="Payroll helper")]
    )
    response = api_for(owner).post(URL + "?dry_run=true", text, content_type="application/yaml")
    assert response.status_code == 200, response.content
    assert [a["key"] for a in response.json()["agents"]] == ["hr.onboarding-buddy", "hr.payroll-helper"]


def test_one_bad_manifest_refuses_them_all_with_each_error_on_its_field(api_for, owner, unit, service_account):
    good = manifest(unit, owner)
    bad_owner = manifest(unit, service_account, key="hr.second")
    bad_schema = manifest(unit, owner, key="hr.third", autonomy_level=7)
    bad_unit = manifest(unit, owner, key="hr.fourth", business_unit="nowhere")
    response = api_for(owner).post(URL, {"manifests": [good, bad_owner, bad_schema, bad_unit]}, format="json")
    body = response.json()
    assert response.status_code == 400, body
    by_manifest = {e["manifest"]: e["errors"] for e in body["errors"]}
    assert set(by_manifest) == {1, 2, 3}
    assert "service account" in by_manifest[1]["owner"][0]
    assert "autonomy_level" in by_manifest[2]
    assert "business_unit" in by_manifest[3]
    # nothing was written, not even the good manifest
    assert not Agent.objects.filter(key="hr.onboarding-buddy").exists()


def test_apply_keeps_the_lifecycle_rules_and_the_release_gate(api_for, owner, unit):
    client = api_for(owner)
    client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    # a jump the lifecycle does not allow is refused on the field
    jump = client.post(URL, {"manifests": [manifest(unit, owner, lifecycle="production")]}, format="json")
    assert jump.status_code == 400
    assert "lifecycle" in json.dumps(jump.json()) or "to_state" in json.dumps(jump.json())
    # an allowed move is made, audited as the caller with the manifest as the reason
    ok = client.post(URL, {"manifests": [manifest(unit, owner, lifecycle="in_review")]}, format="json")
    assert ok.status_code == 200, ok.json()
    assert Agent.objects.get(key="hr.onboarding-buddy").lifecycle == "in_review"
    moved = AuditEvent.objects.get(event_type="agent.transitioned")
    assert moved.actor == owner
    assert "manifest" in moved.after["reason"]


def test_a_person_may_not_apply_to_someone_elses_agent(api_for, owner, outsider, unit, agent):
    response = api_for(outsider).post(
        URL, {"manifests": [manifest(unit, owner, key=agent.key, name="Hijacked")]}, format="json"
    )
    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.name == "Leave assistant"


def test_a_recorded_version_never_changes(api_for, owner, unit):
    client = api_for(owner)
    client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    changed = manifest(unit, owner)
    changed["versions"][0]["model_name"] = "gpt-4o"
    response = client.post(URL, {"manifests": [changed]}, format="json")
    assert response.status_code == 400
    assert "versions.0.label" in response.json()["errors"][0]["errors"]
    assert AgentVersion.objects.get().model_name == "gpt-5"


def test_the_owner_changes_hands_through_the_transfer_service(api_for, owner, employee, unit):
    client = api_for(owner)
    client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    response = client.post(URL, {"manifests": [manifest(unit, employee)]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["agents"][0]["changes"] == {"owner": {"old": owner.username, "new": employee.username}}
    assert Agent.objects.get(key="hr.onboarding-buddy").owner == employee
    assert AuditEvent.objects.filter(event_type="agent.owner_transferred", actor=owner).exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_queries_per_manifest_are_constant(api_for, owner, unit, tool, django_assert_num_queries, dry_run):
    """The cost of N manifests is a fixed part plus the same amount per manifest, whatever N."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_for(owner)

    def batch(size, prefix):
        docs = []
        for i in range(size):
            doc = manifest(unit, owner, key=f"hr.{prefix}-{i}")
            doc["versions"][0]["tools"] = [{"tool": tool.key, "access": "read"}]
            docs.append(doc)
        return docs

    client.post(URL, {"dry_run": True, "manifests": batch(1, "warm-up")}, format="json")  # caches filled
    counts = {}
    for size in (1, 3, 5):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(URL, {"dry_run": dry_run, "manifests": batch(size, f"n{size}")}, format="json")
        assert response.status_code == 200, response.json()
        counts[size] = len(ctx)
    per_manifest = (counts[3] - counts[1]) / 2
    assert counts[5] - counts[3] == counts[3] - counts[1], counts
    # Creating an agent with a version costs what the services spend (constraint checks, rights, audit),
    # plus one decision-version bump per row the runtime decisions read (agent, version, grants).
    assert per_manifest <= 85, counts
    # and unchanged manifests cost nothing per manifest: the plan reads everything up front
    if not dry_run:
        with CaptureQueriesContext(connection) as small:
            client.post(URL, {"manifests": batch(1, "n1")}, format="json")
        with CaptureQueriesContext(connection) as large:
            client.post(URL, {"manifests": batch(5, "n5")}, format="json")
        assert len(small) == len(large)


def test_a_service_account_with_the_registration_permission_applies_for_ci(api_client, service_account, owner, unit):
    from django.contrib.auth.models import Permission

    service_account.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_agent", "change_agent", "view_businessunit", "view_tool"],
            content_type__app_label="registry",
        )
    )
    _token, raw = services.create_api_token(service_account, actor=None, name="CI")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api_client.post(URL, {"manifests": [manifest(unit, owner)]}, format="json")
    assert response.status_code == 200, response.json()
    agent = Agent.objects.get(key="hr.onboarding-buddy")
    assert agent.owner == owner
    assert AuditEvent.objects.get(event_type="agent.created", agent=agent).actor == service_account
