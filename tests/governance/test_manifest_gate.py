"""Registration as code meets the governance layer: a manifest cannot take an agent past the release gate."""

import json

from registry import services
from registry.models import Agent
from tests.registry.test_manifests import URL, manifest


def test_moving_to_production_by_manifest_still_passes_the_release_gate(api_for, owner, board, unit):
    client = api_for(owner)
    client.post(URL, {"manifests": [manifest(unit, owner, lifecycle="in_review")]}, format="json")
    agent = Agent.objects.get(key="hr.onboarding-buddy")
    services.transition_agent(agent, "approved", actor=board, reason="Fine")
    # when: the manifest asks for production without an approved release
    response = client.post(URL, {"manifests": [manifest(unit, owner, lifecycle="production")]}, format="json")
    # then: the release gate refuses it, on the manifest, and nothing moves
    assert response.status_code == 400
    assert "release" in json.dumps(response.json()).lower()
    agent.refresh_from_db()
    assert agent.lifecycle == "approved"
