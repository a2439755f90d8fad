"""Factories with deterministic defaults. Anything a test asserts, the test sets itself."""

import factory
from django.utils import timezone

from registry.choices import DataClassification, Lifecycle, Pattern, Topology, UserKind
from registry.models import Agent, AgentVersion, BusinessUnit, Tool, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    kind = UserKind.PERSON
    is_active = True
    password = factory.django.Password("pw-for-tests-1")


class BusinessUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessUnit
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Unit {n}")
    slug = factory.Sequence(lambda n: f"unit-{n}")
    parent = None
    path = factory.LazyAttribute(lambda u: (u.parent.path if u.parent else "/") + f"{u.slug}/")


class ToolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tool
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"tool-{n}")
    name = factory.Sequence(lambda n: f"Tool {n}")
    supports_write = False


class AgentFactory(factory.django.DjangoModelFactory):
    """An agent row written directly (no service, no audit, no permissions): for read-side tests.

    Tests of writes and permissions create agents through ``registry.services.create_agent``
    (see the ``make_agent`` fixture), which also grants the owner's rights.
    """

    class Meta:
        model = Agent

    key = factory.Sequence(lambda n: f"unit.agent-{n}")
    name = factory.Sequence(lambda n: f"Agent {n}")
    business_unit = factory.SubFactory(BusinessUnitFactory)
    owner = factory.SubFactory(UserFactory)
    pattern = Pattern.EMPLOYEE_ENABLEMENT
    autonomy_level = 1
    topology = Topology.EMBEDDED
    data_classification = DataClassification.INTERNAL
    lifecycle = Lifecycle.PROPOSED
    lifecycle_changed_at = factory.LazyFunction(timezone.now)


class AgentVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentVersion

    agent = factory.SubFactory(AgentFactory)
    label = factory.Sequence(lambda n: f"1.{n}.0")
    model_provider = "openai"
    model_name = "gpt-5"
