"""Keeping ownership true: governance's side of directory sync and of retiring agents.

Registered with the registry's hooks from ``GovernanceConfig.ready()``: when the directory deprovisions
an owner, the ``orphaned_owner`` check reconciles in the same transaction, so the findings are open when
the SCIM request returns instead of at the next sweep.
"""

from governance.choices import FindingKind


def on_owner_deprovisioned(user, agent_ids, actor) -> None:
    """Open the orphaned_owner findings of the agents just orphaned, in the caller's transaction."""
    if not agent_ids:
        return
    from governance import checks

    checks.reconcile_now(FindingKind.ORPHANED_OWNER)
