"""The ``maturity_trap`` background check, registered with governance's check engine at start-up.

Governance owns findings and runs the checks; the maturity model lives here,
one layer up. So portfolio appends ``("maturity_trap", maturity_trap_check)``
to ``governance.hooks.check_providers`` instead of governance importing
portfolio. The engine keeps one open finding per agent and kind and resolves
it when the agent's unit catches up (or the agent retires).
"""

from portfolio.choices import Dimension

MATURITY_TRAP = "maturity_trap"


def maturity_trap_conditions(now) -> dict[int, dict]:
    """agent id -> {"summary", "details", "worst_gap"} for every agent in the maturity trap now."""
    from portfolio import services

    conditions = {}
    for agent_id, traps in services.maturity_trap_agents(now).items():
        parts = ", ".join(f"{Dimension(t.dimension).label.lower()} short by {t.gap}" for t in traps)
        worst = Dimension(traps[0].dimension).label.lower()
        conditions[agent_id] = {
            "summary": f"Its pattern needs more maturity than its unit has: {parts}. Scale-breaker: {worst}.",
            "details": {
                "scale_breaker": traps[0].dimension,
                "gaps": {t.dimension: t.gap for t in traps},
            },
            "worst_gap": traps[0].gap,
        }
    return conditions


def maturity_trap_check(now) -> dict:
    """The check in the shape governance's engine takes: {("agent", id): Wanted(severity, summary, details)}.

    Two or more levels short in any dimension is high severity; one level, medium.
    """
    from governance.checks import Wanted

    return {
        ("agent", agent_id): Wanted(
            severity="high" if condition["worst_gap"] >= 2 else "medium",
            summary=condition["summary"][:300],
            details=condition["details"],
        )
        for agent_id, condition in maturity_trap_conditions(now).items()
    }


def register_maturity_trap_check() -> bool:
    """Add the check to ``governance.hooks.check_providers`` when governance offers that hook.

    Returns whether it was registered; until governance has a check engine
    the function simply does nothing (``find_maturity_traps`` still serves the
    reports and snapshots).
    """
    try:
        from governance import hooks as governance_hooks
    except ImportError:
        return False
    providers = getattr(governance_hooks, "check_providers", None)
    if providers is None:
        return False
    if not any(kind == MATURITY_TRAP for kind, _ in providers):
        providers.append((MATURITY_TRAP, maturity_trap_check))
    return True
