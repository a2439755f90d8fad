"""What governance does when the registry changes an agent (registered in GovernanceConfig.ready)."""

from django.utils import timezone

from governance import gate
from governance.models import Control, Release, RiskPolicy
from governance.services import assessments as assessment_services
from governance.services import reviews as review_services
from registry import services as registry_services
from registry.choices import Environment, Lifecycle


def on_agent_changed(agent, before: dict, after: dict, actor) -> None:
    """A risk fact changed: the assessment is stale; "until changed" evidence covering it ends;
    raising autonomy or going external-facing sends a production agent back to review."""
    now = timezone.now()
    risk_changes = {name: after[name] for name in after if name in assessment_services.RISK_FACTS}
    if risk_changes:
        assessment_services.mark_assessment_stale(agent, actor=actor, changed=risk_changes, now=now)
    controls = list(Control.objects.filter(policy=RiskPolicy.objects.current()))
    assessment_services.invalidate_until_changed_evidence(
        agent, actor=actor, changed_fields=list(after), controls=controls, now=now
    )
    raised_autonomy = "autonomy_level" in after and (after["autonomy_level"] or 0) > (before.get("autonomy_level") or 0)
    went_external = after.get("external_facing") is True and not before.get("external_facing")
    if agent.lifecycle == Lifecycle.PRODUCTION and (raised_autonomy or went_external):
        what = "its autonomy level was raised" if raised_autonomy else "it became external-facing"
        registry_services.transition_agent(
            agent, Lifecycle.IN_REVIEW, actor=None, reason=f"Back to review: {what} while in production."
        )
        agent.refresh_from_db()


def on_transition(agent, from_state: str, to_state: str, actor) -> None:
    """Entering production deploys the approved release of the released version and keeps a
    periodic review scheduled."""
    if to_state == Lifecycle.PRODUCTION:
        version = gate.release_version_for(agent)
        release = Release.objects.filter(agent=agent, version=version, environment=Environment.PRODUCTION).first()
        if release is not None:
            review_services.mark_deployed(release, actor=actor)
    if to_state in (Lifecycle.APPROVED, Lifecycle.PILOT, Lifecycle.PRODUCTION):
        review_services.ensure_periodic_review(agent)


def on_mcp_server_event(server, event: str) -> None:
    """A scan or the board's approval of an MCP server: once it commits, run the mcp_tool_changed check
    so the finding opens (or resolves) at once rather than at the next sweep."""
    from django.db import transaction

    from governance import tasks
    from governance.choices import FindingKind

    transaction.on_commit(lambda: tasks.run_check.delay(FindingKind.MCP_TOOL_CHANGED))
