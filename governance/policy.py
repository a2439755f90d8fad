"""Pure policy functions: the risk tier of a set of answers, and the cadences of a tier.

Nothing here touches the database except :func:`current_policy`; the tier
function takes the policy as an argument so any past assessment can be
re-scored under the version it used.
"""

from dataclasses import dataclass
from datetime import timedelta

from registry.choices import RISK_TIER_ORDER, Lifecycle, RiskTier

TIERS = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL]

# An agent running without a confirmed tier is watched as closely as a high-tier
# one: the absence of an assessment is no reason to relax.
UNASSESSED_TIER = RiskTier.HIGH

# Readable names of the answers, for the reasons a tier gives.
FACTOR_LABELS = {
    "autonomy_level": "autonomy level",
    "external_facing": "external-facing",
    "data_classification": "data classification",
    "personal_or_regulated_data": "personal or regulated data",
    "action_impact": "action impact",
    "irreversible_actions": "irreversible actions",
    "people_affected": "people affected",
}


@dataclass(frozen=True)
class TierResult:
    tier: str
    score: int
    reasons: list[str]

    def __iter__(self):
        # Unpacks as (tier, score, reasons).
        return iter((self.tier, self.score, self.reasons))


def _get(policy, name):
    return policy[name] if isinstance(policy, dict) else getattr(policy, name)


def answer_key(value) -> str:
    """How an answer is spelled as a key of the policy's weight tables (JSON keys are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def max_tier(*tiers: str) -> str:
    present = [t for t in tiers if t]
    return max(present, key=lambda t: RISK_TIER_ORDER[t]) if present else RiskTier.LOW


def tier_at_least(tier: str, floor: str) -> bool:
    return bool(tier) and RISK_TIER_ORDER[tier] >= RISK_TIER_ORDER[floor]


def tier_for_score(score: int, thresholds: dict) -> str:
    tier = RiskTier.LOW
    for candidate in (RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL):
        if score >= thresholds[candidate]:
            tier = candidate
    return tier


def _matches(answers: dict, condition: dict) -> bool:
    return all(answers.get(name) == value for name, value in condition.items())


def compute_tier(answers: dict, policy) -> TierResult:
    """The risk tier of a questionnaire's answers under a policy: (tier, score, reasons).

    Score is the sum of each factor's weight; the tier follows from the score
    thresholds, then floors raise it (pattern, autonomy with irreversible or
    financial/legal actions, EU AI Act category). Floors only ever raise.
    """
    weights = _get(policy, "weights")
    reasons: list[str] = []
    score = 0
    for factor, table in weights.items():
        value = answers[factor]
        points = table.get(answer_key(value))
        if points is None:
            raise ValueError(f"{factor}={value!r} is not an answer the policy knows")
        score += points
        if points:
            reasons.append(f"{FACTOR_LABELS.get(factor, factor)} {answer_key(value).replace('_', ' ')}: +{points}")
    thresholds = _get(policy, "thresholds")
    tier = tier_for_score(score, thresholds)
    reasons.append(f"score {score} gives {tier}")

    floor = _get(policy, "pattern_floors").get(answers.get("pattern", ""))
    if floor and RISK_TIER_ORDER[floor] > RISK_TIER_ORDER[tier]:
        tier = floor
        reasons.append(f"pattern {answers['pattern'].replace('_', ' ')} is at least {floor}")

    for rule in _get(policy, "autonomy_floors"):
        if answers.get("autonomy_level") != rule["autonomy_level"]:
            continue
        if any(_matches(answers, condition) for condition in rule["with_any"]):
            if RISK_TIER_ORDER[rule["tier"]] > RISK_TIER_ORDER[tier]:
                tier = rule["tier"]
                reasons.append(f"{rule.get('reason', 'autonomy floor')} is {rule['tier']}")

    effect = _get(policy, "eu_ai_act").get(answers.get("eu_ai_act_category") or "", {})
    eu_floor = effect.get("tier_floor")
    if eu_floor and RISK_TIER_ORDER[eu_floor] > RISK_TIER_ORDER[tier]:
        tier = eu_floor
        reasons.append(f"EU AI Act {answers['eu_ai_act_category'].replace('_', '-')} is at least {eu_floor}")
    return TierResult(tier=tier, score=score, reasons=reasons)


def blocks_approval(eu_ai_act_category: str, policy) -> bool:
    """Whether this EU AI Act category forbids approving the agent for any environment."""
    return bool(_get(policy, "eu_ai_act").get(eu_ai_act_category or "", {}).get("blocks_approval"))


def current_policy():
    """The policy version in force (the newest)."""
    from governance.models import RiskPolicy

    return RiskPolicy.objects.current()


def review_interval(tier: str, policy=None) -> timedelta:
    """How often a tier is reviewed periodically."""
    policy = policy or current_policy()
    return timedelta(days=_get(policy, "cadences")[tier or UNASSESSED_TIER]["review_days"])


def monitoring_window(tier: str, lifecycle: str, policy=None) -> timedelta | None:
    """How long an agent of this tier may stay silent in this lifecycle state, or None where it need not report.

    Production and pilot have their own windows (domain cadence table); other
    states are not watched. An agent without a tier is treated as UNASSESSED_TIER.
    Used by the telemetry layer's lapsed-monitoring check and by the
    ``monitoring`` system control.
    """
    key = {Lifecycle.PRODUCTION: "silence_production_hours", Lifecycle.PILOT: "silence_pilot_hours"}.get(lifecycle)
    if key is None:
        return None
    policy = policy or current_policy()
    return timedelta(hours=_get(policy, "cadences")[tier or UNASSESSED_TIER][key])
