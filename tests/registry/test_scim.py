"""The SCIM 2.0 provider driven as an identity provider drives it, through the real ``scim2-client``
library (its WSGI engine calls Django's WSGI application in-process, so the whole request path runs:
middleware, token check, views, services, transaction)."""

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import (
    EnterpriseUser,
    Group,
    GroupMember,
    Manager,
    Name,
    PatchOp,
    PatchOperation,
    ResourceType,
    Schema,
    SCIMException,
    ScimProvider,
    ServiceProviderConfig,
    User,
)

from governance.choices import FindingKind
from governance.models import Finding
from registry import services
from registry.choices import HandoverBasis, HandoverStatus
from registry.models import AuditEvent, DirectoryEntry, HandoverProposal
from registry.models import User as Account
from registry.roles import Role, role_names

BASE = "http://testserver/scim/v2"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UserE = User[EnterpriseUser]


@pytest.fixture
def scim_token(admin):
    _, raw = services.create_scim_token(actor=admin, name="Company directory")
    return raw


@pytest.fixture
def django_app():
    """Django's WSGI application as a server runs it, minus closing the database connection at the end
    of each request (the test's transaction lives on it), as Django's own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def scim(scim_token, django_app):
    client = WSGISCIMClient(
        django_app,
        base_url=BASE,
        headers={"Authorization": f"Bearer {scim_token}"},
        provider=ScimProvider(
            models=[User, EnterpriseUser, Group],
            resource_types=[ResourceType.from_resource(UserE), ResourceType.from_resource(Group)],
        ),
    )
    client.discover(schemas=False, resource_types=False)
    return client


def person(user_name, *, department="", manager=None, external_id=None, given="Pat", family="Doe"):
    user = UserE(
        user_name=user_name,
        external_id=external_id or f"ext-{user_name}",
        name=Name(given_name=given, family_name=family),
        emails=[{"value": f"{user_name}@example.com", "primary": True}],
        active=True,
    )
    user[EnterpriseUser] = EnterpriseUser(
        department=department or None,
        employee_number=f"E-{user_name}",
        manager=Manager(value=manager.id, ref=f"{BASE}/Users/{manager.id}") if manager else None,
    )
    return user


def test_it_publishes_its_configuration_resource_types_and_schemas(scim):
    # given a client that knows nothing of the server
    # when it reads the discovery endpoints
    config = scim.query(ServiceProviderConfig)
    types = scim.query(ResourceType)
    schemas = scim.query(Schema)

    # then PATCH and filtering are announced, and Users carry the Enterprise extension
    assert config.patch.supported is True
    assert config.filter.supported is True
    assert config.bulk.supported is False
    users = next(t for t in types.resources if t.name == "User")
    assert [str(ext.schema_) for ext in users.schema_extensions] == [ENTERPRISE]
    assert ENTERPRISE in {str(s.id) for s in schemas.resources}


def test_it_creates_a_person_with_the_enterprise_extension(scim, unit):
    # when the directory creates a person in the HR department
    created = scim.create(person("pat.doe", department="Human Resources"))

    # then the account exists, in that unit, and reads back with the extension
    account = Account.objects.get(username="pat.doe")
    assert account.business_unit == unit
    assert account.is_active
    assert account.email == "pat.doe@example.com"
    assert created.id == str(account.directory.scim_id)
    again = scim.query(UserE, created.id)
    assert again[EnterpriseUser].department == "Human Resources"
    assert again[EnterpriseUser].employee_number == "E-pat.doe"
    assert AuditEvent.objects.filter(event_type="directory.user_provisioned", target_id=str(account.pk)).exists()


def test_it_filters_by_user_name_and_external_id_and_pages(scim, unit):
    for name in ("ann", "ben", "cat"):
        scim.create(person(name))

    by_name = scim.query(UserE, query_parameters={"filter": 'userName eq "ben"'})
    by_external = scim.query(UserE, query_parameters={"filter": 'externalId eq "ext-cat"'})
    page = scim.query(UserE, query_parameters={"startIndex": 2, "count": 1})

    assert [u.user_name for u in by_name.resources] == ["ben"]
    assert [u.user_name for u in by_external.resources] == ["cat"]
    assert page.total_results == 3
    assert page.start_index == 2
    assert [u.user_name for u in page.resources] == ["ben"]


def test_a_bad_filter_or_a_duplicate_is_an_error_document_not_a_500(scim):
    scim.create(person("ann"))

    with pytest.raises(SCIMException) as bad_filter:
        scim.query(UserE, query_parameters={"filter": 'nickName eq "x"'})
    with pytest.raises(SCIMException) as duplicate:
        scim.create(person("ann", external_id="other"))

    assert bad_filter.value.to_error().status == 400
    assert bad_filter.value.to_error().scim_type == "invalidFilter"
    assert duplicate.value.to_error().status == 409


def test_a_nul_character_or_an_absurd_start_index_is_an_error_document_not_a_500(scim):
    scim.create(person("ann"))

    with pytest.raises(SCIMException) as nul_name:
        scim.create(person("bob", given="B\x00b"))
    with pytest.raises(SCIMException) as nul_department:
        scim.create(person("cy", department="Finance\x00"))
    far = scim.query(UserE, query_parameters={"startIndex": 10**25})

    assert (nul_name.value.to_error().status, nul_name.value.to_error().scim_type) == (400, "invalidValue")
    assert nul_department.value.to_error().status == 400
    assert not Account.objects.filter(username__in=["bob", "cy"]).exists()
    assert far.total_results == 1
    assert far.resources in (None, [])


def test_a_revoked_or_personal_token_is_refused(scim, admin, scim_token):
    from registry.models import ScimToken

    _, personal = services.create_api_token(admin, actor=admin, name="mine")
    scim.headers = {"Authorization": f"Bearer {personal}"}
    assert scim.request("GET", f"{BASE}/Users").status_code == 401

    services.revoke_scim_token(ScimToken.objects.get(), actor=admin)
    scim.headers = {"Authorization": f"Bearer {scim_token}"}
    assert scim.request("GET", f"{BASE}/Users").status_code == 401


def test_a_scim_token_opens_nothing_else(client, scim_token):
    response = client.get("/api/v1/agents/", HTTP_AUTHORIZATION=f"Bearer {scim_token}")
    assert response.status_code == 401


def test_replace_changes_the_profile_and_a_new_department_moves_the_unit(scim, unit, other_unit, make_agent):
    created = scim.create(person("pat", department="Human Resources"))
    account = Account.objects.get(username="pat")
    agent = make_agent("hr.pats-agent", agent_owner=account, actor=account)

    # when the directory replaces the person with a new title and department
    replacement = person("pat", department="Finance", given="Patricia")
    replacement.id = created.id
    replacement.title = "Controller"
    scim.replace(replacement)

    # then the person moved unit, keeps the agent, and the move is recorded
    account.refresh_from_db()
    assert account.first_name == "Patricia"
    assert account.job_title == "Controller"
    assert account.business_unit == other_unit
    agent.refresh_from_db()
    assert agent.owner == account
    entry = DirectoryEntry.objects.get(user=account)
    assert entry.previous_unit == unit
    assert AuditEvent.objects.filter(event_type="directory.user_moved_unit", target_id=str(account.pk)).exists()


def test_owner_moved_to_another_unit_shows_on_the_agent_page(scim, unit, other_unit, make_agent, client_for, board):
    created = scim.create(person("pat", department="Human Resources"))
    account = Account.objects.get(username="pat")
    agent = make_agent("hr.pats-agent", agent_owner=account, actor=account)
    scim.modify(
        UserE,
        created.id,
        PatchOp[UserE](operations=[PatchOperation(op="replace", path=f"{ENTERPRISE}:department", value="Finance")]),
    )

    page = client_for(board).get(f"/agents/{agent.key}/")

    assert "Owner moved to another unit" in page.content.decode()


def test_patch_active_false_deprovisions_in_the_same_request(scim, unit, make_agent, board):
    # given a manager and a report who owns two agents and is a delegate on a third
    manager = scim.create(person("mia.manager"))
    report = scim.create(person("rob.report", manager=manager))
    rob = Account.objects.get(username="rob.report")
    mia = Account.objects.get(username="mia.manager")
    first = make_agent("hr.first", agent_owner=rob, actor=rob)
    second = make_agent("hr.second", agent_owner=rob, actor=rob)
    other = make_agent("hr.other")
    services.grant_delegate(other, rob, actor=other.owner)

    # when the directory switches rob off
    scim.modify(UserE, report.id, PatchOp[UserE](operations=[PatchOperation(op="replace", path="active", value=False)]))

    # then, with no sweep in between: deactivated, findings open, proposals to the manager, delegation gone
    rob.refresh_from_db()
    assert rob.is_active is False
    assert set(
        Finding.objects.filter(kind=FindingKind.ORPHANED_OWNER, resolved_at__isnull=True).values_list(
            "agent__key", flat=True
        )
    ) == {"hr.first", "hr.second"}
    proposals = HandoverProposal.objects.filter(status=HandoverStatus.PENDING)
    assert {(p.agent.key, p.proposed_to, p.basis) for p in proposals} == {
        ("hr.first", mia, HandoverBasis.MANAGER),
        ("hr.second", mia, HandoverBasis.MANAGER),
    }
    assert not other.delegations.filter(user=rob).exists()
    assert not services.can_change_agent(rob, other)
    # nothing deleted: the account and its agents keep the name, and the trail says what happened
    assert Account.objects.filter(username="rob.report").exists()
    first.refresh_from_db()
    assert first.owner == rob
    assert AuditEvent.objects.filter(event_type="directory.user_deprovisioned", target_repr=str(rob)).exists()
    assert scim.query(UserE, report.id).active is False
    assert second


def test_delete_deprovisions_and_falls_back_to_the_unit_head(scim, unit, make_agent, employee):
    unit.head = employee
    unit.save()
    created = scim.create(person("lone"))
    lone = Account.objects.get(username="lone")
    make_agent("hr.lone-agent", agent_owner=lone, actor=lone)

    scim.delete(UserE, created.id)

    lone.refresh_from_db()
    assert lone.is_active is False
    proposal = HandoverProposal.objects.get()
    assert proposal.proposed_to == employee
    assert proposal.basis == HandoverBasis.UNIT_HEAD
    assert Finding.objects.filter(kind=FindingKind.ORPHANED_OWNER, agent__key="hr.lone-agent").exists()


def test_group_membership_changes_move_roles(scim, admin):
    services.map_group_to_role(actor=admin, group_name="AI Governance Board", role=Role.BOARD)
    ann = scim.create(person("ann"))
    ben = scim.create(person("ben"))

    # when the directory creates the group with ann, then swaps ann for ben by PATCH
    group = scim.create(
        Group(display_name="AI Governance Board", members=[GroupMember(value=ann.id, ref=f"{BASE}/Users/{ann.id}")])
    )
    assert Role.BOARD in role_names(Account.objects.get(username="ann"))
    scim.modify(
        Group,
        group.id,
        PatchOp[Group](
            operations=[
                PatchOperation(op="add", path="members", value=[{"value": ben.id}]),
                PatchOperation(op="remove", path=f'members[value eq "{ann.id}"]'),
            ]
        ),
    )

    # then roles follow the groups
    assert Role.BOARD not in role_names(Account.objects.get(username="ann"))
    assert Role.BOARD in role_names(Account.objects.get(username="ben"))
    listed = scim.query(Group, query_parameters={"filter": 'displayName eq "AI Governance Board"'})
    assert [m.value for m in listed.resources[0].members] == [ben.id]

    # and deleting the group takes the role away
    scim.delete(Group, group.id)
    assert Role.BOARD not in role_names(Account.objects.get(username="ben"))


def test_a_mapping_added_later_gives_the_role_to_current_members(scim, admin):
    ann = scim.create(person("ann"))
    scim.create(Group(display_name="Leaders", members=[GroupMember(value=ann.id)]))
    assert role_names(Account.objects.get(username="ann")) == frozenset()

    services.map_group_to_role(actor=admin, group_name="leaders", role=Role.LEADERSHIP)

    assert role_names(Account.objects.get(username="ann")) == {Role.LEADERSHIP}


def test_microsoft_entra_style_patches_are_understood(scim, make_agent):
    # Entra capitalises operations, sends booleans as strings and removes members by value
    created = scim.create(person("eve"))
    group = scim.create(Group(display_name="Leaders", members=[GroupMember(value=created.id)]))
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}

    removed = scim.request(
        "PATCH",
        f"{BASE}/Groups/{group.id}",
        json={**patch, "Operations": [{"op": "Remove", "path": "members", "value": [{"value": created.id}]}]},
    )
    switched_off = scim.request(
        "PATCH",
        f"{BASE}/Users/{created.id}",
        json={**patch, "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )

    assert removed.status_code == 200
    assert scim.query(Group, group.id).members is None
    assert switched_off.status_code == 200
    assert Account.objects.get(username="eve").is_active is False
