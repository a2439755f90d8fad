"""The agent page shows the latest 20 history entries and links to the whole history, paginated and
filterable by kind (page and API alike), in a constant number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import AuditEvent
from tests.factories import UserFactory


@pytest.fixture
def long_history(agent, owner):
    """An agent with 70 entries: registered, 60 edits, 9 delegate grants and revokes."""
    for i in range(60):
        services.update_agent(agent, actor=owner, name=f"Leave assistant {i}")
    helpers = [UserFactory(username=f"helper{i}") for i in range(3)]
    for helper in helpers:
        services.grant_delegate(agent, helper, actor=owner)
        services.revoke_delegate(agent, helper, actor=owner)
    agent.refresh_from_db()
    return agent


def entries(html: str) -> list[str]:
    return re.findall(r'<li data-event="([^"]+)">', html)


def test_the_agent_page_shows_the_latest_twenty_and_links_to_the_rest(client_for, owner, long_history):
    # given
    total = AuditEvent.objects.filter(agent=long_history).count()
    assert total > 60
    # when
    html = client_for(owner).get(f"/agents/{long_history.key}/").content.decode()
    # then
    assert len(entries(html)) == 20
    assert f'href="/agents/{long_history.key}/history/"' in html
    assert "The latest 20 entries." in html


def test_the_history_page_is_paginated_newest_first(client_for, employee, long_history):
    # when
    first = client_for(employee).get(f"/agents/{long_history.key}/history/")
    last = client_for(employee).get(f"/agents/{long_history.key}/history/", {"page": 2})
    # then
    total = AuditEvent.objects.filter(agent=long_history).count()
    assert len(entries(first.content.decode())) == 50
    assert len(entries(last.content.decode())) == total - 50
    assert entries(last.content.decode())[-1] == "agent.created"
    assert f"{total} in all" in first.content.decode()


def test_the_history_page_filters_by_kind(client_for, employee, long_history):
    # when
    response = client_for(employee).get(
        f"/agents/{long_history.key}/history/", {"kind": ["agent.delegate_granted", "agent.delegate_revoked"]}
    )
    html = response.content.decode()
    # then
    assert set(entries(html)) == {"agent.delegate_granted", "agent.delegate_revoked"}
    kinds = AuditEvent.objects.filter(agent=long_history, event_type__startswith="agent.delegate_")
    assert len(entries(html)) == kinds.count() >= 6
    # every kind present is offered, by name, as a checkbox
    assert 'type="checkbox" name="kind" value="agent.changed"' in html
    assert "Delegate granted" in html


def test_the_history_api_filters_by_kind_too(api_for, employee, long_history):
    response = api_for(employee).get(f"/api/v1/agents/{long_history.key}/history/", {"kind": "agent.delegate_revoked"})
    assert response.status_code == 200
    assert [row["event_type"] for row in response.json()["results"]] == ["agent.delegate_revoked"] * 3


def test_the_history_page_does_not_grow_with_the_history(client_for, owner, agent, django_assert_num_queries):
    # given
    client = client_for(owner)
    url = f"/agents/{agent.key}/history/"
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    # when
    for i in range(80):
        services.update_agent(agent, actor=owner, name=f"Leave assistant {i}")
    # then
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)
