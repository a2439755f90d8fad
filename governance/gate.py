"""The release gate: the one place that decides whether a version may go to an environment.

Pages, the API and the admin never check these rules themselves: the move to
production goes through ``registry.services.transition_agent`` (which calls
:func:`transition_guard`, registered in ``registry.hooks.transition_guards``),
and releasing a version goes through ``governance.services.deploy_release``,
which calls :func:`check_release`. Both run inside the writing transaction.
"""

from django.utils import timezone

from governance import compliance
from governance.choices import EUAIActCategory
from governance.models import Release, RiskAssessment
from registry.choices import Environment, Lifecycle

# Lifecycle states that mean "approved to run somewhere": refused for a prohibited practice.
APPROVED_STATES = (Lifecycle.APPROVED, Lifecycle.PILOT, Lifecycle.PRODUCTION)


def prohibited_assessment(agent) -> RiskAssessment | None:
    """The confirmed or pending assessment that places the agent in a prohibited practice, if any."""
    return (
        RiskAssessment.objects.filter(
            agent=agent, status__in=("confirmed", "submitted"), eu_ai_act_category=EUAIActCategory.PROHIBITED
        )
        .order_by("-submitted_at")
        .first()
    )


def check_release(agent, version, environment: str, now=None) -> list[str]:
    """Everything missing before ``version`` of ``agent`` may go to ``environment``; empty means allowed.

    Every environment: a prohibited EU AI Act practice is refused outright.
    Production additionally needs, each listed separately when missing:
    1. a confirmed risk assessment that is not stale;
    2. a version to release;
    3. the board's approval of that version for production (a Release row);
    4. for every required control: accepted, unexpired evidence (per-release
       controls for this version), a waiver in force, or, for system controls,
       the system's check passing (a control still waiting for its first
       telemetry is not a gap here; the lapsed-monitoring check reports it).
    """
    now = now or timezone.now()
    missing: list[str] = []
    prohibited = prohibited_assessment(agent)
    if prohibited is not None:
        missing.append(
            "The risk assessment places this agent in a practice the EU AI Act prohibits (Art. 5); "
            "it cannot be approved for any environment."
        )
    if environment != Environment.PRODUCTION:
        return missing

    assessment = compliance.current_assessment(agent)
    if assessment is None:
        missing.append("A risk assessment confirmed by the governance board.")
    elif assessment.is_stale:
        missing.append(
            f"A current risk assessment: the confirmed one is stale since {assessment.stale_at:%d %b %Y} "
            f"({assessment.stale_reason})."
        )
    if version is None:
        missing.append("A version to release: record the agent's version first.")
    elif not Release.objects.filter(agent=agent, version=version, environment=environment).exists():
        missing.append(f"The governance board's approval of version {version.label} for production.")
    for status in compliance.checklist(agent, now, version=version, assessment=assessment):
        if status.is_gap:
            missing.append(f"Control {status.code} ({status.control.name}): {status.control_state_label()}.")
    return missing


def release_version_for(agent):
    """The version a move to production releases: the newest recorded version."""
    return agent.versions.order_by("-created_at", "-id").first()


def transition_guard(agent, to_state: str, actor) -> list[str]:
    """Registered in registry.hooks.transition_guards: the gate for lifecycle moves."""
    if to_state == Lifecycle.PRODUCTION:
        return check_release(agent, release_version_for(agent), Environment.PRODUCTION)
    if to_state in APPROVED_STATES and prohibited_assessment(agent) is not None:
        return check_release(agent, None, Environment.DEVELOPMENT)
    return []
