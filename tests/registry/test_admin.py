"""The Django admin: platform administrators only, every write through a service (audited),
agents read-only, the audit trail read-only for everyone."""

import pytest
from django.contrib import admin as django_admin
from django.test import RequestFactory

from registry.models import Agent, AuditEvent, BusinessUnit, Tool, User
from registry.roles import Role, role_names
from tests.factories import UserFactory


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.mark.parametrize("persona", ["owner", "board", "leadership", "service_account"])
def test_only_platform_admins_reach_the_admin(client_for, request, persona):
    response = client_for(request.getfixturevalue(persona)).get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "model", ["user", "businessunit", "tool", "agent", "auditevent", "apitoken", "mcpserver", "trustedcardkey"]
)
def test_every_changelist_opens_for_an_admin(client_for, admin, agent, model):
    assert client_for(admin).get(f"/admin/registry/{model}/").status_code == 200


def test_creating_an_account_goes_through_the_service(client_for, admin, unit):
    # when
    response = client_for(admin).post(
        "/admin/registry/user/add/",
        {
            "username": "nina",
            "password": "a-long-pass-phrase",
            "first_name": "Nina",
            "last_name": "Berg",
            "email": "nina@example.com",
            "kind": "person",
            "business_unit": unit.pk,
            "job_title": "Analyst",
            "roles": [Role.BOARD],
        },
    )

    # then
    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert nina.check_password("a-long-pass-phrase")
    assert role_names(nina) == {Role.BOARD}
    created = AuditEvent.objects.get(event_type="user.created", target_id=str(nina.pk))
    assert created.actor == admin
    assert last_event().event_type == "user.roles_changed"


def test_changing_an_account_and_its_roles_is_audited(client_for, admin, employee, unit):
    # when
    response = client_for(admin).post(
        f"/admin/registry/user/{employee.pk}/change/",
        {
            "first_name": "Erin",
            "last_name": "Moss",
            "email": employee.email,
            "kind": "person",
            "business_unit": unit.pk,
            "job_title": "",
            "roles": [Role.PLATFORM_ADMIN],
        },
    )

    # then
    assert response.status_code == 302
    employee.refresh_from_db()
    assert employee.is_staff
    changed, roles = AuditEvent.objects.filter(target_id=str(employee.pk)).order_by("seq")
    assert (changed.event_type, changed.before, changed.after) == (
        "user.changed",
        {"last_name": "Person"},
        {"last_name": "Moss"},
    )
    assert (roles.event_type, roles.after) == ("user.roles_changed", {"roles": [Role.PLATFORM_ADMIN]})


def test_an_owner_of_agents_cannot_become_a_service_account(client_for, admin, owner, agent, unit):
    # when
    response = client_for(admin).post(
        f"/admin/registry/user/{owner.pk}/change/",
        {
            "first_name": owner.first_name,
            "last_name": owner.last_name,
            "email": owner.email,
            "kind": "service",
            "business_unit": unit.pk,
        },
        follow=True,
    )

    # then
    assert "owns agents; transfer them" in response.content.decode()
    owner.refresh_from_db()
    assert owner.kind == "person"


def test_the_deactivate_action_uses_the_service(client_for, admin, owner, agent):
    # when
    client_for(admin).post("/admin/registry/user/", {"action": "deactivate", "_selected_action": [owner.pk]})

    # then
    owner.refresh_from_db()
    assert not owner.is_active
    assert last_event().event_type == "user.deactivated"
    assert last_event().after["orphaned_agents"] == [agent.key]


def test_accounts_cannot_be_deleted(client_for, admin, employee):
    assert client_for(admin).get(f"/admin/registry/user/{employee.pk}/delete/").status_code == 403
    assert client_for(admin).post(
        "/admin/registry/user/", {"action": "delete_selected", "_selected_action": [employee.pk]}
    ).status_code in (200, 302)
    assert User.objects.filter(pk=employee.pk).exists()


def test_business_units_and_tools_are_saved_through_services(client_for, admin, unit):
    client = client_for(admin)
    client.post("/admin/registry/businessunit/add/", {"name": "Payroll", "slug": "payroll", "parent": unit.pk})
    payroll = BusinessUnit.objects.get(slug="payroll")
    assert payroll.path == "/group/hr/payroll/"
    assert last_event().event_type == "business_unit.created"
    client.post(
        f"/admin/registry/businessunit/{payroll.pk}/change/", {"name": "Pay", "slug": "payroll", "parent": unit.pk}
    )
    assert (last_event().event_type, last_event().after) == ("business_unit.changed", {"name": "Pay"})
    client.post("/admin/registry/tool/add/", {"key": "crm.read", "name": "Read CRM", "system": "CRM"})
    assert Tool.objects.filter(key="crm.read").exists()
    assert last_event().event_type == "tool.created"


def test_agents_are_read_only_in_the_admin(client_for, admin, agent):
    client = client_for(admin)
    assert client.get(f"/admin/registry/agent/{agent.pk}/change/").status_code == 200
    assert client.post(f"/admin/registry/agent/{agent.pk}/change/", {"name": "Changed"}).status_code == 403
    assert client.get("/admin/registry/agent/add/").status_code == 403
    assert client.get(f"/admin/registry/agent/{agent.pk}/delete/").status_code == 403
    assert Agent.objects.get(pk=agent.pk).name == "Leave assistant"


@pytest.mark.parametrize("who", ["admin", "superuser"])
def test_nobody_edits_the_audit_trail_in_the_admin(client_for, request, agent, who):
    # given
    user = request.getfixturevalue(who)
    event = AuditEvent.objects.order_by("seq").first()
    model_admin = django_admin.site._registry[AuditEvent]
    http_request = RequestFactory().get("/")
    http_request.user = user
    client = client_for(user)

    # then
    assert not model_admin.has_add_permission(http_request)
    assert not model_admin.has_change_permission(http_request, event)
    assert not model_admin.has_delete_permission(http_request, event)
    assert client.get(f"/admin/registry/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/registry/auditevent/{event.pk}/change/", {"event_type": "x"}).status_code == 403
    assert client.get("/admin/registry/auditevent/add/").status_code == 403
    assert client.post(f"/admin/registry/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).event_type == event.event_type


def test_an_admin_revokes_a_token_through_the_service(client_for, admin, owner):
    from registry import services

    token, _ = services.create_api_token(owner, actor=owner, name="x")
    client_for(admin).post("/admin/registry/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert (last_event().event_type, last_event().actor) == ("api_token.revoked", admin)
