"""Query counts: the catalog, the agents API and the agent page cost the same however big the data.

The count is measured with a small portfolio and asserted, unchanged, with a large one.
The numbers measured are pinned too, so an extra query per page shows up in review.
"""

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Agent, AgentDelegate
from tests.factories import AgentFactory, UserFactory

# Measured on PostgreSQL with 10 agents (see the report in the commit that pinned them).
CATALOG_QUERIES = 6
API_LIST_QUERIES = 3


def add_agents(count, *, unit, owners, start=0):
    """Agents written directly in bulk, each with a delegate, across several owners."""
    agents = AgentFactory.create_batch(
        count,
        business_unit=unit,
        owner=owners[start % len(owners)],
        key=factory.Sequence(lambda n: f"bulk.agent-{start}-{n}"),
    )
    AgentDelegate.objects.bulk_create(
        [AgentDelegate(agent=agent, user=owners[(i + 1) % len(owners)]) for i, agent in enumerate(agents)]
    )
    return agents


@pytest.fixture
def owners(unit):
    return [UserFactory(username=f"owner{i}", business_unit=unit) for i in range(5)]


def count_queries(request_fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = request_fn()
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("path", "pinned"), [("/agents/", CATALOG_QUERIES), ("/agents/?lifecycle=proposed&ordering=-name", None)]
)
def test_the_catalog_page_costs_the_same_for_10_and_200_agents(
    client_for, owner, unit, owners, django_assert_num_queries, path, pinned
):
    # given
    client = client_for(owner)
    add_agents(10, unit=unit, owners=owners)
    at_10 = count_queries(lambda: client.get(path))
    if pinned is not None:
        assert at_10 == pinned

    # when
    add_agents(190, unit=unit, owners=owners, start=10)
    assert Agent.objects.count() == 200

    # then
    with django_assert_num_queries(at_10):
        response = client.get(path)
    assert len(response.context["page"].object_list) == 25


@pytest.mark.parametrize("persona", ["owner", "leadership", "admin"])
def test_the_agents_api_list_costs_the_same_for_10_and_200_agents(
    api_for, request, unit, owners, django_assert_num_queries, persona
):
    # given
    client = api_for(request.getfixturevalue(persona))
    add_agents(10, unit=unit, owners=owners)
    at_10 = count_queries(lambda: client.get("/api/v1/agents/"))
    assert at_10 == API_LIST_QUERIES

    # when
    add_agents(190, unit=unit, owners=owners, start=10)

    # then
    with django_assert_num_queries(at_10):
        response = client.get("/api/v1/agents/", {"page_size": 200})
    assert len(response.json()["results"]) == 200


def test_the_agent_page_does_not_grow_with_versions_delegates_or_history(
    client_for, owner, agent, tool, write_tool, django_assert_num_queries
):
    # given: one version, one delegate, a short history
    client = client_for(owner)
    services.create_version(agent, actor=owner, tools=[(tool, "read")], label="1", model_provider="a", model_name="b")
    small = count_queries(lambda: client.get(f"/agents/{agent.key}/"))

    # when: many versions with tools, more delegates, a long history
    for i in range(2, 14):
        services.create_version(
            agent,
            actor=owner,
            tools=[(tool, "read"), (write_tool, "write")],
            label=str(i),
            model_provider="a",
            model_name="b",
        )
    for i in range(5):
        services.grant_delegate(agent, UserFactory(username=f"helper{i}"), actor=owner)
    for i in range(20):
        services.update_agent(agent, actor=owner, name=f"Leave assistant {i}")

    # then
    with django_assert_num_queries(small):
        client.get(f"/agents/{agent.key}/")
