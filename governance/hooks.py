"""Extension points governance owns for the layers above it (portfolio).

Nothing registers here yet; the lists exist so an upper layer can add to the
board queue or the owner's workspace without governance importing it.
"""

from collections.abc import Callable

# (user, now) -> list of queue items {"kind", "title", "url", "tier", "due_at"} added to the board queue.
board_queue_providers: list[Callable] = []

# (kind, check) pairs: extra background checks of upper layers (portfolio's maturity_trap).
# ``check(now) -> {subject: governance.checks.Wanted}`` with subject ("agent", agent_id), or an
# Agent queryset made by ``governance.checks.wanted_rows`` (reconciled without leaving the database);
# the check engine records runs and keeps one open finding per subject and kind.
check_providers: list[tuple[str, Callable]] = []
