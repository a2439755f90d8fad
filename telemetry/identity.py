"""How telemetry names an agent, and how a name maps to a registered agent.

An identity is one string: the agent's stable id (its registry key, or
``gen_ai.agent.id``), or, where the id is missing or unstable, ``name@service``.
Some agent frameworks make up a random UUID per process when no id is
configured; such ids change on every restart, so they never identify anything.
"""

import re
from dataclasses import dataclass

UUID_SHAPE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
MAX_IDENTITY_LENGTH = 300
UNKNOWN_SERVICE = "unknown_service"


def is_unstable_id(value: str) -> bool:
    return bool(UUID_SHAPE.match(value or ""))


@dataclass(frozen=True)
class Identity:
    value: str
    agent_name: str = ""
    service_name: str = ""
    by_name: bool = False


def identify(
    agent_id: str | None, agent_name: str | None, service_name: str | None, *, provider_assigned: bool = False
) -> Identity | None:
    """The identity for these attributes, or None when nothing stable names the agent.

    ``provider_assigned``: the id comes from an identity provider (``gen_ai.agent.identity.id``), so
    it is stable even when it is UUID-shaped (directory object ids are)."""
    agent_id = (agent_id or "").strip()
    agent_name = (agent_name or "").strip()
    service_name = (service_name or "").strip()
    if agent_id and (provider_assigned or not is_unstable_id(agent_id)):
        return Identity(agent_id[:MAX_IDENTITY_LENGTH], agent_name[:200], service_name[:200])
    if agent_name:
        value = f"{agent_name}@{service_name or UNKNOWN_SERVICE}"
        return Identity(value[:MAX_IDENTITY_LENGTH], agent_name[:200], service_name[:200], by_name=True)
    return None


def candidate_keys(identity: Identity) -> list[str]:
    """Registry keys that could claim this identity: the id itself, or a name equal to a key."""
    if identity.by_name:
        return [identity.agent_name]
    return [identity.value]
