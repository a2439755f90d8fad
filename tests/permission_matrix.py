"""The building blocks of the generic permission matrix (tests/registry/test_permission_matrix.py).

Each app lists its routes in ``tests/<app>/permission_routes.py`` as a module-level
``ROUTES`` list of :class:`Route` entries; the generic test imports every such
module, so an app adds its pages and API endpoints without touching the test::

    # tests/governance/permission_routes.py
    from tests.permission_matrix import Route, statuses

    ROUTES = [
        Route(
            "governance:review-queue", "GET",
            statuses(403, board=200, admin=200, anonymous=302),
        ),
        Route(
            "api:evidence-accept", "POST",
            statuses(403, board=200, service_account=404, anonymous=401),
            kwargs=lambda c: {"pk": c.evidence().pk},   # c: the MatrixContext
            data=lambda c, user: {"note": "checked"},
            audit="evidence.accepted",
        ),
    ]
    COMMANDS = ["recompute_tiers"]   # management commands this app's tests call

A :class:`Route` names a URL (``namespace:name`` as ``reverse`` takes it) and
one HTTP method, with the status each persona must get (and, with ``withheld``,
what some of them must not read in an answer they do get). ``statuses(default,
**overrides)`` fills the nine personas (owner, delegate, employee, outsider,
board, leadership, admin, service_account, anonymous). When a route is a write
(``audit`` set), every persona that succeeds (status below 400, not anonymous)
must have produced an audit row of that type, and every refused persona none;
a read must never write an audit row.

The coverage guard fails when a named route exists that no app lists (and, for
API viewsets, when one of its HTTP methods is missing), and when a project
management command is called by no test. Pages of Django's own admin are left
to tests/registry/test_admin.py; ``IGNORED_ROUTES`` lists the few others that
the matrix deliberately does not walk, each with its reason.

The context ``c`` passed to ``kwargs``, ``data`` and ``setup`` gives every
pytest fixture by name, created on first use: the personas (``c.owner``,
``c.admin``...), the registry's objects (``c.agent`` owned by owner with
delegate as co-maintainer, ``c.unit``, ``c.tool``, ``c.version``) and any
fixture an app registers in its ``tests/<app>/fixtures.py`` (``c.evidence``).
``c.extra`` is a dict for anything else. ``setup(c)`` runs before the request
and before audit rows are counted.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PERSONAS = ("owner", "delegate", "employee", "outsider", "board", "leadership", "admin", "service_account", "anonymous")
PEOPLE = ("owner", "delegate", "employee", "outsider", "board", "leadership", "admin")


def statuses(default: int, **overrides: int) -> dict[str, int]:
    """The expected status for every persona: ``default`` unless overridden by name."""
    unknown = set(overrides) - set(PERSONAS)
    if unknown:
        raise ValueError(f"unknown personas: {sorted(unknown)}")
    return {persona: overrides.get(persona, default) for persona in PERSONAS}


def _no_kwargs(c) -> dict:
    return {}


def _no_data(c, user):
    return None


def _no_setup(c) -> None:
    return None


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expected: dict[str, int]
    kwargs: Callable = _no_kwargs
    data: Callable = _no_data
    setup: Callable = _no_setup
    audit: str | None = None
    # A short label when one route has several entries for one method (e.g. two transitions).
    label: str = ""
    # Extra query string for GETs (e.g. a search).
    query: dict = field(default_factory=dict)
    # A read that shows restricted material: ``withheld(c)`` is a text (a secret link, a file name)
    # that must appear in the answer of every persona who succeeds, except those in ``withheld_from``,
    # whose answer must not contain it anywhere.
    withheld: Callable | None = None
    withheld_from: tuple[str, ...] = ()

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}{'[' + self.label + ']' if self.label else ''}"
