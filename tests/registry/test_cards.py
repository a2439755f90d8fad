"""A2A Agent Cards: both spec versions (built with the official A2A SDK's types), signatures, re-import."""

import copy

import pytest
from a2a.compat.v0_3 import types as a2a_v03
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill
from a2a.utils.signing import create_agent_card_signer
from django.core.exceptions import PermissionDenied, ValidationError
from google.protobuf.json_format import MessageToDict
from jwcrypto import jwk

from registry import services
from registry.models import Agent, AuditEvent
from registry.models import AgentCard as AgentCardRow

PROVIDER = "Aldermoor Labs"


def card_v1(**overrides) -> AgentCard:
    fields = {
        "name": "Travel planner",
        "description": "Plans business trips within the travel policy.",
        "version": "2.1.0",
        "provider": AgentProvider(organization=PROVIDER, url="https://labs.example.com"),
        "supported_interfaces": [
            AgentInterface(
                url="https://agents.example.com/travel/a2a", protocol_binding="JSONRPC", protocol_version="1.0"
            )
        ],
        "capabilities": AgentCapabilities(streaming=True),
        "default_input_modes": ["text/plain"],
        "default_output_modes": ["text/plain"],
        "skills": [
            AgentSkill(id="book-trip", name="Book a trip", description="Books flights and hotels", tags=["travel"]),
            AgentSkill(id="check-policy", name="Check policy", description="Checks a trip", tags=["policy"]),
        ],
    }
    fields.update(overrides)
    return AgentCard(**fields)


def as_json(card: AgentCard) -> dict:
    return MessageToDict(card)


def card_v03() -> dict:
    card = a2a_v03.AgentCard(
        name="Invoice reader",
        description="Reads supplier invoices.",
        url="https://agents.example.com/invoices/a2a",
        preferred_transport="JSONRPC",
        protocol_version="0.3.0",
        version="0.9.0",
        provider=a2a_v03.AgentProvider(organization=PROVIDER, url="https://labs.example.com"),
        capabilities=a2a_v03.AgentCapabilities(streaming=False),
        default_input_modes=["application/pdf"],
        default_output_modes=["application/json"],
        additional_interfaces=[
            a2a_v03.AgentInterface(url="https://agents.example.com/invoices/grpc", transport="GRPC")
        ],
        skills=[a2a_v03.AgentSkill(id="read-invoice", name="Read invoice", description="Extracts lines", tags=["ap"])],
    )
    return card.model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.fixture
def signing_key():
    return jwk.JWK.generate(kty="EC", crv="P-256", kid="labs-2026")


@pytest.fixture
def trusted(admin, signing_key):
    return services.trust_card_key(
        actor=admin, provider=PROVIDER, kid="labs-2026", public_jwk=signing_key.export_public(as_dict=True)
    )


def signed(card: AgentCard, key: jwk.JWK, kid: str = "labs-2026") -> dict:
    signer = create_agent_card_signer(
        signing_key=key.export_to_pem(private_key=True, password=None),
        protected_header={"kid": kid, "alg": "ES256", "jku": None, "typ": "JOSE"},
    )
    return as_json(signer(card))


def register(card, owner, unit, key="travel.planner", **extra):
    return services.register_agent_from_card(
        card,
        actor=owner,
        owner=owner,
        key=key,
        business_unit=unit,
        pattern="workplace_services",
        autonomy_level=2,
        data_classification="internal",
        **extra,
    )


def test_a_1_0_card_fills_identity_purpose_skills_and_endpoint(owner, unit):
    agent = register(as_json(card_v1()), owner, unit)
    assert agent.name == "Travel planner"
    assert agent.objective == "Plans business trips within the travel policy."
    assert agent.endpoint_url == "https://agents.example.com/travel/a2a"
    assert [c["id"] for c in agent.capabilities] == ["book-trip", "check-policy"]
    assert agent.capabilities[0]["tags"] == ["travel"]
    row = agent.card
    assert (row.spec_version, row.signature, row.provider) == ("1.0", "unverified", PROVIDER)
    # owner, unit and classification came from the person registering
    assert (agent.owner, agent.business_unit, agent.data_classification) == (owner, unit, "internal")


def test_a_0_3_card_is_read_from_url_and_protocol_version(owner, unit):
    agent = register(card_v03(), owner, unit, key="ap.invoice-reader")
    assert agent.endpoint_url == "https://agents.example.com/invoices/a2a"
    assert agent.card.spec_version == "0.3"
    assert [c["id"] for c in agent.capabilities] == ["read-invoice"]


def test_a_card_signed_with_a_trusted_key_is_verified(owner, unit, trusted, signing_key):
    agent = register(signed(card_v1(), signing_key), owner, unit)
    assert agent.card.signature == "verified"
    assert agent.card.signed_with == "labs-2026"


def test_a_tampered_card_is_refused_and_nothing_is_written(owner, unit, trusted, signing_key):
    card = signed(card_v1(), signing_key)
    card["skills"].append({"id": "wire-money", "name": "Wire money", "description": "Pays", "tags": ["finance"]})
    with pytest.raises(ValidationError, match="changed after signing"):
        register(card, owner, unit)
    assert not Agent.objects.filter(key="travel.planner").exists()


def test_a_card_signed_with_a_key_nobody_trusts_stays_unverified(owner, unit, trusted):
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    agent = register(signed(card_v1(), stranger, kid="someone-else"), owner, unit)
    assert agent.card.signature == "unverified"


def test_a_trusted_key_vouches_only_for_its_own_provider(owner, unit, trusted, signing_key):
    card = signed(card_v1(provider=AgentProvider(organization="Other Corp")), signing_key)
    assert register(card, owner, unit).card.signature == "unverified"


def test_only_administrators_trust_keys_and_never_a_private_one(owner, admin, signing_key):
    with pytest.raises(PermissionDenied):
        services.trust_card_key(
            actor=owner, provider=PROVIDER, kid="k", public_jwk=signing_key.export_public(as_dict=True)
        )
    with pytest.raises(ValidationError, match="private"):
        services.trust_card_key(actor=admin, provider=PROVIDER, kid="k", public_jwk=signing_key.export(as_dict=True))


def test_something_that_is_not_a_card_is_refused_on_the_card_field(owner, unit):
    with pytest.raises(ValidationError) as refused:
        register({"name": "No endpoint"}, owner, unit)
    assert "card" in refused.value.message_dict


def test_a_re_imported_card_shows_a_diff_and_changes_nothing_until_the_owner_confirms(owner, delegate, unit):
    agent = register(as_json(card_v1()), owner, unit)
    services.grant_delegate(agent, delegate, actor=owner)
    changed = card_v1(
        supported_interfaces=[AgentInterface(url="https://agents.example.com/travel/v2", protocol_binding="JSONRPC")],
    )
    changed.skills.append(AgentSkill(id="expense-trip", name="File expenses", description="Files them", tags=[]))
    new_card = as_json(changed)
    # when: a delegate re-imports it
    diff = services.card_diff(agent, new_card)
    services.propose_card(agent, new_card, actor=delegate)
    # then: the diff names the new endpoint and skill, and the agent is unchanged
    assert diff["endpoint_url"] == {
        "old": "https://agents.example.com/travel/a2a",
        "new": "https://agents.example.com/travel/v2",
    }
    assert diff["skills"] == {"added": ["expense-trip"], "removed": [], "changed": []}
    agent.refresh_from_db()
    assert agent.endpoint_url == "https://agents.example.com/travel/a2a"
    assert len(agent.capabilities) == 2
    # and only the owner may confirm it
    with pytest.raises(PermissionDenied):
        services.confirm_card(agent, actor=delegate)
    services.confirm_card(agent, actor=owner)
    agent.refresh_from_db()
    assert agent.endpoint_url == "https://agents.example.com/travel/v2"
    assert [c["id"] for c in agent.capabilities] == ["book-trip", "check-policy", "expense-trip"]
    assert AgentCardRow.objects.get(agent=agent).pending_card is None
    event = AuditEvent.objects.get(event_type="agent.card_changed")
    assert event.actor == owner
    assert event.before["endpoint_url"] == "https://agents.example.com/travel/a2a"
    assert len(event.after["capabilities"]) == 3


def test_a_tampered_re_import_is_refused_before_anything_is_kept(owner, unit, trusted, signing_key):
    agent = register(signed(card_v1(), signing_key), owner, unit)
    tampered = copy.deepcopy(signed(card_v1(), signing_key))
    tampered["supportedInterfaces"][0]["url"] = "https://evil.example.net/a2a"
    with pytest.raises(ValidationError):
        services.propose_card(agent, tampered, actor=owner)
    assert AgentCardRow.objects.get(agent=agent).pending_card is None
