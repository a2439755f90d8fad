"""The rules in force as Cedar: a policy set, its schema and the entities, built from the same snapshot
the decision API answers from, so a gateway with a Cedar engine decides offline exactly as we do.

How the rules map (namespace ``AgentRegistry``):

- principal ``Agent::"<key>"``, a member of its ``BusinessUnit`` chain and of its ``Pattern``;
- action ``Action::"run"`` on ``Environment::"<env>"``, or ``Action::"read" | "write" | "execute"`` on a
  ``Tool::"<key>"`` (a member of its ``McpServer``); the access a call needs *is* the action;
- context: ``environment`` (always), ``irreversible``, ``category``, ``amount_cents`` (the amount rounded
  up to the cent) and ``now`` (epoch seconds, for the monitoring switch);
- grants are per environment on the agent: ``read_<env>`` holds every granted tool, ``write_<env>``
  those granted write or execute, ``execute_<env>`` those granted execute (read < write < execute);
- two ``permit`` policies; every refusal is a ``forbid`` annotated ``@reason("<code>")``, and each
  stop in force is one ``forbid`` of its own, so Cedar's determining policies name the reason.

An unknown principal has no attributes, so no ``permit`` holds (each asks ``principal has lifecycle``):
default deny, ``unregistered``.
Subject resolution (aliases, URN/ARN ids) is the gateway's job with Cedar; the API does it itself.
"""

import math

from registry.choices import Environment, Pattern, StopScope
from runtime.snapshot import Snapshot

NS = "AgentRegistry"
ENVS = tuple(Environment.values)
ACCESS_SETS = ("read", "write", "execute")
RANK = {"read": 0, "write": 1, "execute": 2}


def uid(kind: str, value) -> dict:
    return {"type": f"{NS}::{kind}", "id": str(value)}


def ref(kind: str, value) -> dict:
    return {"__entity": uid(kind, value)}


def _quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def schema() -> dict:
    """The Cedar schema (JSON form)."""
    tool_set = {"type": "Set", "element": {"type": "Entity", "name": "Tool"}}
    agent_attrs = {
        "lifecycle": {"type": "String"},
        "autonomy": {"type": "Long"},
        "prod_released": {"type": "Boolean"},
        "critical_finding": {"type": "Boolean"},
        "threshold_cents": {"type": "Long", "required": False},
        "monitoring_deadline": {"type": "Long", "required": False},
    }
    for env in ENVS:
        for access in ACCESS_SETS:
            agent_attrs[f"{access}_{env}"] = tool_set
    return {
        NS: {
            "entityTypes": {
                "Agent": {
                    "memberOfTypes": ["BusinessUnit", "Pattern"],
                    "shape": {"type": "Record", "attributes": agent_attrs},
                },
                "BusinessUnit": {"memberOfTypes": ["BusinessUnit"], "shape": {"type": "Record", "attributes": {}}},
                "Pattern": {"shape": {"type": "Record", "attributes": {}}},
                "Tool": {
                    "memberOfTypes": ["McpServer"],
                    "shape": {"type": "Record", "attributes": {"max_access": {"type": "String"}}},
                },
                "McpServer": {"shape": {"type": "Record", "attributes": {}}},
                "Environment": {"shape": {"type": "Record", "attributes": {}}},
                "Stop": {
                    "shape": {
                        "type": "Record",
                        "attributes": {
                            "scope": {"type": "String"},
                            "target": {"type": "String"},
                            "reason": {"type": "String"},
                        },
                    }
                },
            },
            "actions": {
                "run": {
                    "appliesTo": {"principalTypes": ["Agent"], "resourceTypes": ["Environment"], "context": _context()}
                },
                **{
                    access: {
                        "appliesTo": {"principalTypes": ["Agent"], "resourceTypes": ["Tool"], "context": _context()}
                    }
                    for access in ACCESS_SETS
                },
            },
        }
    }


def _context() -> dict:
    return {
        "type": "Record",
        "attributes": {
            "environment": {"type": "String"},
            "irreversible": {"type": "Boolean", "required": False},
            "category": {"type": "String", "required": False},
            "amount_cents": {"type": "Long", "required": False},
            "now": {"type": "Long", "required": False},
        },
    }


def policies(snap: Snapshot) -> str:
    """The policy set in force (Cedar text)."""
    a = f"{NS}::Action"
    tool_actions = ", ".join(f'{a}::"{x}"' for x in ACCESS_SETS)
    parts = [
        f'@id("permit-run")\npermit (principal is {NS}::Agent, action == {a}::"run", resource is {NS}::Environment)\n'
        "when { principal has lifecycle };",
        f'@id("permit-tools")\npermit (principal is {NS}::Agent, action in [{tool_actions}], resource is {NS}::Tool)\n'
        "when { principal has lifecycle };",
        '@id("retired") @reason("retired")\nforbid (principal, action, resource)\n'
        'when { principal.lifecycle == "retired" };',
        '@id("not-in-production") @reason("not_in_environment")\nforbid (principal, action, resource)\n'
        'when { principal.lifecycle != "retired" && context.environment == "production" && '
        '(principal.lifecycle != "production" || !principal.prod_released) };',
        '@id("not-in-staging") @reason("not_in_environment")\nforbid (principal, action, resource)\n'
        'when { principal.lifecycle != "retired" && context.environment == "staging" && '
        '!(["pilot", "production"].contains(principal.lifecycle)) };',
    ]
    for env in ENVS:
        parts.append(
            f'@id("tool-not-granted-{env}") @reason("tool_not_granted")\n'
            f"forbid (principal, action in [{tool_actions}], resource)\n"
            f'when {{ context.environment == "{env}" && !principal.read_{env}.contains(resource) }};'
        )
        for access in ("write", "execute"):
            parts.append(
                f'@id("access-exceeded-{access}-{env}") @reason("access_exceeded")\n'
                f'forbid (principal, action == {a}::"{access}", resource)\n'
                f'when {{ context.environment == "{env}" && principal.read_{env}.contains(resource) && '
                f"!principal.{access}_{env}.contains(resource) }};"
            )
    parts += [
        '@id("approval-sensitive") @reason("approval_required")\nforbid (principal, action, resource)\n'
        f'when {{ principal.autonomy <= 3 && (action == {a}::"execute" || '
        "(context has irreversible && context.irreversible) || "
        '(context has category && (context.category == "financial" || context.category == "legal"))) };',
        '@id("approval-amount") @reason("approval_required")\nforbid (principal, action, resource)\n'
        "when { principal has threshold_cents && context has amount_cents && "
        "context.amount_cents > principal.threshold_cents };",
    ]
    if snap.deny_open_critical_finding:
        parts.append(
            '@id("open-critical-finding") @reason("open_critical_finding")\nforbid (principal, action, resource)\n'
            'when { principal.critical_finding && context.environment == "production" };'
        )
    if snap.deny_monitoring_lapsed:
        parts.append(
            '@id("monitoring-lapsed") @reason("monitoring_lapsed")\nforbid (principal, action, resource)\n'
            "when { principal has monitoring_deadline && context has now && "
            "principal.monitoring_deadline < context.now };"
        )
    for (scope, target), (stop_id, _reason) in sorted(snap.stops.items(), key=lambda item: item[1][0]):
        head = f'@id("stop-{stop_id}") @reason("stopped")\nforbid '
        if scope == StopScope.AGENT:
            agent = snap.agents.get(target)
            if agent is None:
                continue
            parts.append(head + f"(principal == {NS}::Agent::{_quote(agent.key)}, action, resource);")
        elif scope == StopScope.BUSINESS_UNIT:
            parts.append(
                head + f"(principal in {NS}::BusinessUnit::{_quote(snap.units.get(target, target))}, action, resource);"
            )
        elif scope == StopScope.PATTERN:
            parts.append(head + f"(principal in {NS}::Pattern::{_quote(target)}, action, resource);")
        elif scope == StopScope.TOOL:
            tool = snap.tools.get(target)
            if tool is not None:
                parts.append(head + f"(principal, action, resource == {NS}::Tool::{_quote(tool.key)});")
        elif scope == StopScope.MCP_SERVER:
            parts.append(
                head + f"(principal, action, resource in {NS}::McpServer::{_quote(snap.servers.get(target, target))});"
            )
    return "\n\n".join(parts) + "\n"


def entities(snap: Snapshot, agent_ids=None) -> list[dict]:
    """Agents (only ``agent_ids`` when given), units, patterns, tools, MCP servers, environments, stops."""
    out = []
    for unit_id, slug in snap.units.items():
        parent = snap.unit_parents.get(unit_id)
        out.append(
            {
                "uid": uid("BusinessUnit", slug),
                "attrs": {},
                "parents": [uid("BusinessUnit", snap.units[parent])] if parent else [],
            }
        )
    out += [{"uid": uid("Pattern", p), "attrs": {}, "parents": []} for p in Pattern.values]
    out += [{"uid": uid("Environment", e), "attrs": {}, "parents": []} for e in ENVS]
    out += [{"uid": uid("McpServer", key), "attrs": {}, "parents": []} for key in snap.servers.values()]
    for tool in snap.tools.values():
        parents = [uid("McpServer", snap.servers[tool.server_id])] if tool.server_id in snap.servers else []
        out.append({"uid": uid("Tool", tool.key), "attrs": {"max_access": tool.max_access}, "parents": parents})
    for agent in snap.agents.values():
        if agent_ids is not None and agent.id not in agent_ids:
            continue
        attrs = {
            "lifecycle": agent.lifecycle,
            "autonomy": agent.autonomy,
            "prod_released": agent.prod_released,
            "critical_finding": agent.id in snap.critical_findings,
        }
        if agent.threshold is not None:
            attrs["threshold_cents"] = int(round(agent.threshold * 100))
        if agent.monitoring_deadline is not None:
            attrs["monitoring_deadline"] = int(agent.monitoring_deadline.timestamp())
        for env in ENVS:
            grants = snap.grants_for(agent.id, env)
            for access in ACCESS_SETS:
                attrs[f"{access}_{env}"] = [
                    ref("Tool", snap.tools[tid].key)
                    for tid, granted in sorted(grants.items())
                    if RANK[granted] >= RANK[access] and tid in snap.tools
                ]
        parents = [uid("BusinessUnit", snap.units[u]) for u in agent.units[-1:]] + [uid("Pattern", agent.pattern)]
        out.append({"uid": uid("Agent", agent.key), "attrs": attrs, "parents": parents})
    for (scope, target), (stop_id, reason) in snap.stops.items():
        out.append(
            {
                "uid": uid("Stop", stop_id),
                "attrs": {"scope": scope, "target": _target_key(snap, scope, target), "reason": reason},
                "parents": [],
            }
        )
    return out


def _target_key(snap: Snapshot, scope: str, target) -> str:
    if scope == StopScope.AGENT:
        agent = snap.agents.get(target)
        return agent.key if agent else str(target)
    if scope == StopScope.BUSINESS_UNIT:
        return snap.units.get(target, str(target))
    if scope == StopScope.TOOL:
        tool = snap.tools.get(target)
        return tool.key if tool else str(target)
    if scope == StopScope.MCP_SERVER:
        return snap.servers.get(target, str(target))
    return str(target)


def export(snap: Snapshot, agent_ids=None) -> dict:
    return {
        "version": snap.policy_version,
        "policies": policies(snap),
        "schema": schema(),
        "entities": entities(snap, agent_ids),
    }


def request_for(ask, tool_key: str | None, now_epoch: int | None = None) -> dict:
    """The Cedar request equivalent to one parsed decision request (keys as entity ids)."""
    context = {"environment": ask.environment, "irreversible": bool(ask.irreversible)}
    if ask.category:
        context["category"] = ask.category
    if ask.amount is not None:
        context["amount_cents"] = math.ceil(ask.amount * 100)
    if now_epoch is not None:
        context["now"] = now_epoch
    if tool_key is None and not ask.is_tool_call:
        return {
            "principal": f"{NS}::Agent::{_quote(ask.subject)}",
            "action": f'{NS}::Action::"run"',
            "resource": f"{NS}::Environment::{_quote(ask.environment)}",
            "context": context,
        }
    return {
        "principal": f"{NS}::Agent::{_quote(ask.subject)}",
        "action": f'{NS}::Action::"{ask.needed_access}"',
        "resource": f"{NS}::Tool::{_quote(tool_key or ask.resource_id)}",
        "context": context,
    }
