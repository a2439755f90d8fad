"""Which controls an agent must satisfy, and why: derived from policy data, never picked by hand."""

from dataclasses import dataclass, field

from governance.choices import EUAIActCategory
from governance.policy import tier_at_least
from registry.choices import DataClassification, Pattern, mode_for_autonomy


@dataclass(frozen=True)
class Facts:
    """What the applicability rules read about one agent (and its assessment)."""

    tier: str
    pattern: str
    mode: str
    external_facing: bool
    data_classification: str
    personal_data: bool = False
    regulated_data: bool = False
    eu_ai_act_category: str = ""

    @classmethod
    def of(cls, agent, assessment=None) -> "Facts":
        """The facts of an agent: its own fields, its tier and the EU AI Act category of its assessment."""
        return cls(
            tier=(assessment.tier if assessment is not None else agent.risk_tier) or "",
            pattern=agent.pattern,
            mode=agent.mode or mode_for_autonomy(agent.autonomy_level),
            external_facing=agent.external_facing,
            data_classification=agent.data_classification,
            personal_data=agent.handles_personal_data,
            regulated_data=agent.handles_regulated_data,
            eu_ai_act_category=assessment.eu_ai_act_category if assessment is not None else "",
        )


@dataclass(frozen=True)
class Requirement:
    control: object
    reasons: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.control.code


def _label(enum, value: str) -> str:
    try:
        return str(enum(value).label)
    except ValueError:
        return value


def clause_reason(clause: dict, facts: Facts) -> str | None:
    """The reason one applicability clause gives for this agent, or None when it does not match."""
    if clause.get("always"):
        return "every agent"
    if "tier_at_least" in clause:
        return f"tier {facts.tier}" if tier_at_least(facts.tier, clause["tier_at_least"]) else None
    if "mode" in clause:
        return "execute mode (autonomy level 3 or above)" if facts.mode == clause["mode"] else None
    if "external_facing" in clause:
        return "external-facing" if facts.external_facing == clause["external_facing"] else None
    if "pattern" in clause:
        return f"pattern {_label(Pattern, facts.pattern)}" if facts.pattern in clause["pattern"] else None
    if "personal_or_regulated_data" in clause:
        kinds = [k for k, on in (("personal", facts.personal_data), ("regulated", facts.regulated_data)) if on]
        return f"handles {' and '.join(kinds)} data" if kinds and clause["personal_or_regulated_data"] else None
    if "data_classification" in clause:
        if facts.data_classification in clause["data_classification"]:
            return f"{_label(DataClassification, facts.data_classification).lower()} data"
        return None
    if "eu_ai_act" in clause:
        if facts.eu_ai_act_category in clause["eu_ai_act"]:
            return f"EU AI Act {_label(EUAIActCategory, facts.eu_ai_act_category)}"
        return None
    raise ValueError(f"unknown applicability clause {clause!r}")


def derive_requirements(facts: Facts, controls) -> list[Requirement]:
    """The controls that apply to these facts, each with every reason that makes it apply, in catalog order."""
    required = []
    for control in controls:
        reasons = [r for clause in control.applies_when if (r := clause_reason(clause, facts)) is not None]
        if reasons:
            required.append(Requirement(control=control, reasons=reasons))
    return required
