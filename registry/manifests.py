"""Registration as code: the agent manifest, its JSON Schema, and the plan of applying manifests.

A manifest is one agent's record and its versions, as a team keeps it in its repository (YAML or
JSON). ``plan()`` compares manifests with the registry and says, per agent, whether applying them
creates, updates or leaves it unchanged, field by field. ``registry.services.apply_manifests``
then carries the plan out through the ordinary services, so every rule still holds.

Everything a plan needs is read up front in a fixed number of queries (agents, people, units,
tools, versions and their grants, each by one ``IN`` lookup), so the cost per manifest is what the
services themselves spend.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import jsonschema
import yaml
from django.db import models

from registry.choices import AutonomyLevel, DataClassification, Lifecycle, Pattern, ToolAccess, Topology
from registry.models import KEY_PATTERN, Agent, AgentVersion, AgentVersionTool, BusinessUnit, Tool, User

API_VERSION = "agent-registry/v1"
SCHEMA_PATH = "/api/v1/schemas/agent-manifest.json"
MAX_MANIFESTS = 1000

# Agent fields a manifest may set, besides key, owner, business unit, lifecycle and versions.
TEXT_FIELDS = (
    "name",
    "description",
    "escalation_contact",
    "escalation_procedure",
    "objective",
    "allowed_actions",
    "forbidden_actions",
    "inputs",
    "actions",
    "business_outcome",
    "metric_name",
    "metric_unit",
)
CHOICE_FIELDS = {
    "pattern": Pattern,
    "topology": Topology,
    "data_classification": DataClassification,
}
BOOLEAN_FIELDS = (
    "runs_in_development",
    "runs_in_staging",
    "runs_in_production",
    "external_facing",
    "handles_personal_data",
    "handles_regulated_data",
)
DECIMAL_FIELDS = ("metric_baseline", "metric_target", "metric_current")
COUNT_FIELDS = ("eligible_users", "active_users")
VERSION_TEXT_FIELDS = (
    "model_provider",
    "model_name",
    "model_version",
    "prompt_version",
    "orchestration_version",
    "change_summary",
)
REQUIRED = ("apiVersion", "kind", "key", "name", "owner", "business_unit", "pattern", "autonomy_level",
            "data_classification")  # fmt: skip
# The order a plan lists an agent's fields in.
PLAN_FIELDS = (
    "name",
    "owner",
    "business_unit",
    *TEXT_FIELDS[1:],
    *CHOICE_FIELDS,
    "autonomy_level",
    *BOOLEAN_FIELDS,
    *DECIMAL_FIELDS,
    *COUNT_FIELDS,
    "lifecycle",
)


def _max_length(name: str, model=Agent) -> int | None:
    return model._meta.get_field(name).max_length


def manifest_schema(base_url: str = "") -> dict:
    """The JSON Schema (draft 2020-12) of one agent manifest, built from the model so they never drift."""
    properties: dict = {
        "apiVersion": {"const": API_VERSION, "description": "The manifest format's version."},
        "kind": {"const": "Agent"},
        "key": {
            "type": "string",
            "pattern": KEY_PATTERN,
            "maxLength": _max_length("key"),
            "description": "The agent's stable key, matched against telemetry (gen_ai.agent.id).",
        },
        "owner": {"type": "string", "description": "Username of the accountable owner: an active person."},
        "business_unit": {"type": "string", "description": "Short name (slug) of the business unit."},
        "autonomy_level": {"type": "integer", "enum": list(AutonomyLevel.values)},
        "lifecycle": {
            "enum": list(Lifecycle.values),
            "description": "The wanted lifecycle state; reached by one allowed move from the current one.",
        },
        "versions": {
            "type": "array",
            "description": "Versions are records of what ran: new labels are added, existing ones never change.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "model_provider", "model_name"],
                "properties": {
                    "label": {"type": "string", "minLength": 1, "maxLength": _max_length("label", AgentVersion)},
                    **{
                        name: {"type": "string", "maxLength": _max_length(name, AgentVersion)}
                        for name in VERSION_TEXT_FIELDS
                        if name != "change_summary"
                    },
                    "change_summary": {"type": "string", "maxLength": 4000},
                    "tools": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["tool"],
                            "properties": {
                                "tool": {"type": "string", "description": "The catalog tool's key."},
                                "access": {"enum": list(ToolAccess.values), "default": ToolAccess.READ},
                            },
                        },
                    },
                },
            },
        },
    }
    for name in TEXT_FIELDS:
        properties[name] = {"type": "string", "maxLength": _max_length(name)}
    properties["name"]["minLength"] = 1
    for name, choices in CHOICE_FIELDS.items():
        properties[name] = {"enum": list(choices.values)}
    for name in BOOLEAN_FIELDS:
        properties[name] = {"type": "boolean"}
    for name in DECIMAL_FIELDS:
        properties[name] = {"type": ["number", "string", "null"], "pattern": r"^-?\d{1,12}(\.\d{1,2})?$"}
    for name in COUNT_FIELDS:
        properties[name] = {"type": ["integer", "null"], "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}{SCHEMA_PATH}",
        "title": "Agent manifest",
        "description": "One AI agent's registry record and its versions, kept as code beside the agent.",
        "type": "object",
        "additionalProperties": False,
        "required": list(REQUIRED),
        "properties": properties,
    }


_VALIDATOR = jsonschema.Draft202012Validator(manifest_schema())


def load_documents(text: str) -> list:
    """Manifests from YAML or JSON text: one document, a list, or several YAML documents."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ValueError(f"The manifests are not valid YAML or JSON: {exc}") from exc
    if len(documents) == 1 and isinstance(documents[0], list):
        return documents[0]
    if len(documents) == 1 and isinstance(documents[0], dict) and "manifests" in documents[0]:
        return documents[0]["manifests"]
    return documents


def schema_errors(manifest) -> dict[str, list[str]]:
    """Field-level messages for what the schema refuses, keyed by the field's path ("versions.0.label")."""
    errors: dict[str, list[str]] = defaultdict(list)
    for error in _VALIDATOR.iter_errors(manifest):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            path = f"{path}.{missing}" if path else missing
            errors[path].append("This field is required.")
        elif error.validator == "additionalProperties":
            errors[path or "non_field_errors"].append(error.message)
        else:
            errors[path or "non_field_errors"].append(error.message)
    return dict(errors)


@dataclass
class VersionPlan:
    label: str
    action: str  # "create" or "unchanged"
    fields: dict
    grants: list  # [(tool_key, access)]


@dataclass
class AgentPlan:
    """What applying one manifest does to one agent."""

    index: int
    key: str
    action: str = "unchanged"  # "create", "update" or "unchanged"
    agent: Agent | None = None
    values: dict = field(default_factory=dict)  # model values the manifest sets (owner, unit as instances)
    changes: dict = field(default_factory=dict)  # field -> {"old": ..., "new": ...} (JSON values)
    versions: list[VersionPlan] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "key": self.key,
            "action": self.action,
            "changes": self.changes,
            "versions": [{"label": v.label, "action": v.action} for v in self.versions],
        }


def _json(value):
    if isinstance(value, models.Model):
        return getattr(value, "username", None) or getattr(value, "slug", None) or value.pk
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decimal(value):
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return value


@dataclass
class Lookups:
    """Everything the manifests refer to, read in one query per table."""

    agents: dict[str, Agent]
    users: dict[str, User]
    units: dict[str, BusinessUnit]
    tools: dict[str, Tool]
    versions: dict[int, dict[str, AgentVersion]]
    grants: dict[int, set[tuple[str, str]]]

    @classmethod
    def load(cls, manifests: list[dict], user) -> "Lookups":
        keys = {m.get("key") for m in manifests if isinstance(m.get("key"), str)}
        usernames = {m.get("owner") for m in manifests if isinstance(m.get("owner"), str)}
        slugs = {m.get("business_unit") for m in manifests if isinstance(m.get("business_unit"), str)}
        tool_keys = {
            g.get("tool")
            for m in manifests
            for v in m.get("versions") or []
            if isinstance(v, dict)
            for g in v.get("tools") or []
            if isinstance(g, dict)
        }
        # Agents beyond the caller's sight count as existing (a key is unique registry-wide);
        # whether the caller may change them is the services' answer.
        agents = {a.key: a for a in Agent.objects.filter(key__in=keys).select_related("owner", "business_unit")}
        versions: dict[int, dict[str, AgentVersion]] = defaultdict(dict)
        grants: dict[int, set[tuple[str, str]]] = defaultdict(set)
        if agents:
            for version in AgentVersion.objects.filter(agent__in=agents.values()):
                versions[version.agent_id][version.label] = version
            for grant in AgentVersionTool.objects.filter(version__agent__in=agents.values()).values_list(
                "version_id", "tool__key", "access"
            ):
                grants[grant[0]].add((grant[1], grant[2]))
        return cls(
            agents=agents,
            users={u.username: u for u in User.objects.filter(username__in=usernames)},
            units={u.slug: u for u in BusinessUnit.objects.for_user(user, "view").filter(slug__in=slugs)},
            tools={t.key: t for t in Tool.objects.for_user(user, "view").filter(key__in=tool_keys)},
            versions=versions,
            grants=grants,
        )


def plan(manifests: list, *, user) -> list[AgentPlan]:
    """Compare every manifest with the registry. Errors the plan can see are kept per manifest and field."""
    valid = [m if isinstance(m, dict) else {} for m in manifests]
    lookups = Lookups.load(valid, user)
    plans = []
    seen_keys: dict[str, int] = {}
    for index, manifest in enumerate(manifests):
        key = manifest.get("key") if isinstance(manifest, dict) else None
        item = AgentPlan(index=index, key=key if isinstance(key, str) else "")
        plans.append(item)
        if not isinstance(manifest, dict):
            item.errors["non_field_errors"] = ["A manifest must be an object (a YAML mapping)."]
            continue
        item.errors.update(schema_errors(manifest))
        if item.key and item.key in seen_keys:
            item.errors.setdefault("key", []).append(f"Manifest {seen_keys[item.key]} already describes this agent.")
        seen_keys.setdefault(item.key, index)
        if item.errors:
            continue
        _plan_agent(item, manifest, lookups)
    return plans


def _plan_agent(item: AgentPlan, manifest: dict, lookups: Lookups) -> None:
    values: dict = {}
    owner = lookups.users.get(manifest["owner"])
    if owner is None:
        item.errors["owner"] = [f"No account is called {manifest['owner']}."]
    unit = lookups.units.get(manifest["business_unit"])
    if unit is None:
        item.errors["business_unit"] = [f"No business unit you can see has the short name {manifest['business_unit']}."]
    values["owner"], values["business_unit"] = owner, unit
    for name in (*TEXT_FIELDS, *CHOICE_FIELDS, "autonomy_level", *BOOLEAN_FIELDS, *COUNT_FIELDS, "lifecycle"):
        if name in manifest:
            values[name] = manifest[name]
    for name in DECIMAL_FIELDS:
        if name in manifest:
            values[name] = _decimal(manifest[name])
    item.values = values
    agent = lookups.agents.get(item.key)
    item.agent = agent
    if agent is None:
        item.action = "create"
        item.changes = {
            name: {"old": None, "new": _json(values[name])} for name in PLAN_FIELDS if values.get(name) is not None
        }
    else:
        for name in PLAN_FIELDS:
            if name not in values:
                continue
            old, new = getattr(agent, name), values[name]
            if name in DECIMAL_FIELDS:
                old = _decimal(old)
            if name in ("owner", "business_unit"):
                if new is not None and getattr(agent, f"{name}_id") != new.pk:
                    item.changes[name] = {"old": _json(old), "new": _json(new)}
            elif old != new:
                item.changes[name] = {"old": _json(old), "new": _json(new)}
    existing = lookups.versions.get(agent.pk, {}) if agent else {}
    for position, version in enumerate(manifest.get("versions") or []):
        fields = {name: version.get(name, "") for name in VERSION_TEXT_FIELDS}
        grants = [(g["tool"], g.get("access", ToolAccess.READ)) for g in version.get("tools") or []]
        for tool_key, _access in grants:
            if tool_key not in lookups.tools:
                item.errors.setdefault(f"versions.{position}.tools", []).append(
                    f"No catalog tool has the key {tool_key}."
                )
        current = existing.get(version["label"])
        if current is None:
            item.versions.append(VersionPlan(version["label"], "create", fields, grants))
            continue
        same = all(getattr(current, name) == value for name, value in fields.items()) and set(grants) == (
            lookups.grants.get(current.pk, set())
        )
        if not same:
            item.errors.setdefault(f"versions.{position}.label", []).append(
                f"Version {version['label']} is recorded with other contents; versions never change, "
                "so give this one a new label."
            )
        item.versions.append(VersionPlan(version["label"], "unchanged", fields, grants))
    if agent is not None and (item.changes or any(v.action == "create" for v in item.versions)):
        item.action = "update"
