"""The ``maturity_trap`` background check, registered with the governance layer's checks at start-up.

Governance owns findings and runs the checks; the maturity model lives here,
one layer up. So portfolio hands governance a callable instead of governance
importing portfolio.
"""

from portfolio.choices import Dimension

MATURITY_TRAP = "maturity_trap"


def maturity_trap_conditions(now) -> dict[int, str]:
    """agent id -> a sentence naming the short dimensions, for every agent in the maturity trap now."""
    from portfolio import services

    conditions = {}
    for agent_id, traps in services.maturity_trap_agents(now).items():
        parts = ", ".join(f"{Dimension(t.dimension).label.lower()} short by {t.gap}" for t in traps)
        worst = Dimension(traps[0].dimension).label.lower()
        conditions[agent_id] = f"Its pattern needs more maturity than its unit has: {parts}. Scale-breaker: {worst}."
    return conditions


def register_maturity_trap_check() -> bool:
    """Add the check to governance's list of extra checks, if governance offers one.

    Returns whether it was registered. Governance's findings framework reads
    ``governance.hooks.extra_checks`` (kind, callable(now) -> {agent_id: detail}).
    """
    try:
        from governance import hooks as governance_hooks
    except ImportError:
        return False
    registry = getattr(governance_hooks, "extra_checks", None)
    if registry is None:
        return False
    entry = (MATURITY_TRAP, maturity_trap_conditions)
    if isinstance(registry, dict):
        registry[MATURITY_TRAP] = maturity_trap_conditions
    elif entry not in registry:
        registry.append(entry)
    return True
