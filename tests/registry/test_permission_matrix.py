"""The permission matrix: every registered route x every persona x method, from one declarative table.

The table is the union of ``ROUTES`` in every ``tests/<app>/permission_routes.py``
(see tests/permission_matrix.py for how an app adds its entries). The coverage
guards below fail when a route or a management command exists that nothing
covers, so each new page, endpoint or command must extend the table.
"""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

import tests
from registry import services
from registry.models import AuditEvent
from tests.permission_matrix import PERSONAS, Route

TESTS_DIR = Path(tests.__file__).parent

# Named routes the matrix does not walk, each with its reason.
IGNORED_ROUTES: dict[str, str] = {}
# Apps whose helper is still writing tests/<app>/permission_routes.py. Honoured only
# while that module does not exist: the moment it does, every route of the app is
# checked. Empty this when they have landed.
APPS_AWAITING_ENTRIES: dict[str, str] = {
    "governance": "the governance helper's entries",
    "telemetry": "the telemetry helper's entries",
    "portfolio": "the portfolio helper's entries",
}
# The same for management commands whose owners are still writing their tests; each is
# honoured only while no test calls the command.
COMMANDS_AWAITING_TESTS: dict[str, str] = {"load_demo": "the infra helper's demo test"}
# Django's own admin: access to it is covered by admin:index here and tests/registry/test_admin.py.
IGNORED_NAMESPACES = ("admin",)


def has_route_module(app: str) -> bool:
    return (TESTS_DIR / app / "permission_routes.py").exists()


def collect_routes() -> list[Route]:
    routes: list[Route] = []
    for module_info in pkgutil.iter_modules([str(TESTS_DIR)]):
        if not module_info.ispkg:
            continue
        try:
            module = importlib.import_module(f"tests.{module_info.name}.permission_routes")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.{module_info.name}.permission_routes":
                raise
            continue
        routes.extend(module.ROUTES)
    return routes


ROUTES = collect_routes()
CASES = [pytest.param(route, persona, id=f"{route.id}-{persona}") for route in ROUTES for persona in PERSONAS]


def walk_urls(patterns=None, namespace: str = ""):
    """Yield (name, pattern, callback, namespace) for every URL pattern, names qualified by namespace."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk_urls(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else None), entry, entry.callback, namespace.rstrip(":")


def view_app(callback) -> str:
    """The project app a route's view lives in (API routes share the "api" namespace)."""
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
    return view.__module__.split(".", 1)[0]


def api_methods(callback) -> set[str] | None:
    """The HTTP methods a DRF viewset route answers (None for plain views)."""
    actions = getattr(callback, "actions", None)
    if not actions:
        return None
    return {method.upper() for method in actions if method not in ("head", "options")}


# --- The matrix ------------------------------------------------------------------------


class MatrixContext:
    """What routes point at. Any pytest fixture is an attribute (``c.owner``, ``c.agent``, ``c.version``),
    created only when a route touches it, so each case builds just the rows it needs."""

    def __init__(self, request):
        self._request = request
        self.extra: dict = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._request.getfixturevalue(name)
        setattr(self, name, value)
        return value


@pytest.fixture
def version(agent, owner, tool):
    return services.create_version(
        agent, actor=owner, tools=[(tool, "read")], label="1.0.0", model_provider="openai", model_name="gpt-5"
    )


@pytest.fixture
def matrix(request, agent, version):
    """The context every route's kwargs, data and setup receive. The agent (with owner and delegate)
    and its version 1.0.0 always exist (routes may name them by key and label); the rest on first use."""
    return MatrixContext(request)


def send(route: Route, url: str, data, user, token: str | None):
    method = route.method.lower()
    if route.is_api:
        client = APIClient()
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        elif user is not None:
            client.force_authenticate(user=user)
        if method == "get":
            return client.get(url, route.query)
        # A file upload goes as multipart, everything else as JSON.
        uploads = isinstance(data, dict) and any(hasattr(v, "read") for v in data.values())
        return getattr(client, method)(url, data, format="multipart" if uploads else "json")
    client = Client()
    if user is not None:
        client.force_login(user)
    if method == "get":
        return client.get(url, route.query)
    return getattr(client, method)(url, data or {})


@pytest.mark.parametrize(("route", "persona"), CASES)
def test_permission_matrix(route, persona, matrix):
    # given
    user = None if persona == "anonymous" else getattr(matrix, persona)
    route.setup(matrix)
    token = None
    if route.is_api and persona == "service_account":
        # Machines call the API with a personal token, as they would in production.
        _, token = services.create_api_token(user, actor=user, name="matrix")
    # URL and body first: they may create the rows they point at (and those rows' audit entries).
    url = reverse(route.name, kwargs=route.kwargs(matrix))
    data = route.data(matrix, user)
    seq_before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    # when
    response = send(route, url, data, user, token)

    # then
    expected = route.expected[persona]
    body = response.content[:300] if response.status_code != expected else b""
    assert response.status_code == expected, f"{route.id} as {persona}: {response.status_code} {body!r}"
    if persona == "anonymous" and expected == 302 and not route.name.startswith(("login", "logout")):
        login_url = "/admin/login/" if route.name.startswith("admin:") else reverse(settings.LOGIN_URL)
        assert response["Location"].startswith(login_url)
    if route.withheld is not None and expected < 400 and persona != "anonymous":
        secret = route.withheld(matrix)
        shown = secret in response.content.decode()
        if persona in route.withheld_from:
            assert not shown, f"{route.id} as {persona} showed {secret!r}"
        else:
            assert shown, f"{route.id} as {persona} should show {secret!r}"
    written = list(AuditEvent.objects.filter(seq__gt=seq_before).values_list("event_type", flat=True))
    # Sign-in, sign-out and refusals are security records of the request itself
    # (registry/auth_audit.py), not writes of the route: checked apart.
    new_events = [event for event in written if not event.startswith("auth.")]
    refused_signed_in = expected == 403 and persona != "anonymous"
    assert ("auth.refused" in written) == refused_signed_in, f"{route.id} as {persona}: auth.refused in {written}"
    succeeded = expected < 400 and persona != "anonymous"
    if route.audit and succeeded:
        assert route.audit in new_events, f"{route.id} as {persona} wrote {new_events}, expected {route.audit}"
    else:
        assert new_events == [], f"{route.id} as {persona} must not write audit rows, wrote {new_events}"


# --- Coverage guards ---------------------------------------------------------------------


def test_every_named_route_has_an_entry_in_the_matrix():
    covered: dict[str, set[str]] = {}
    for route in ROUTES:
        covered.setdefault(route.name, set()).add(route.method)
    missing = []
    for name, pattern, callback, namespace in walk_urls():
        if name is None:
            if namespace.split(":", 1)[0] not in IGNORED_NAMESPACES:
                missing.append(f"unnamed route {pattern.pattern} (name it so the matrix can cover it)")
            continue
        if name.split(":", 1)[0] in IGNORED_NAMESPACES and name != "admin:index" or name in IGNORED_ROUTES:
            continue
        if name not in covered:
            app = view_app(callback)
            if app in APPS_AWAITING_ENTRIES and not has_route_module(app):
                continue
            missing.append(f"{name} (no entry)")
            continue
        methods = api_methods(callback)
        if methods and methods - covered[name]:
            missing.append(f"{name} {sorted(methods - covered[name])}")
    assert missing == [], "Add these routes to a tests/<app>/permission_routes.py:\n" + "\n".join(sorted(set(missing)))


def test_every_matrix_entry_names_a_route_that_exists():
    names = {name for name, _, _, _ in walk_urls() if name}
    assert sorted({route.name for route in ROUTES} - names) == []


PROJECT_APPS = {"registry", "telemetry", "governance", "runtime", "portfolio"}


def test_every_management_command_is_called_by_a_test():
    commands = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)
    sources = "\n".join(path.read_text() for path in TESTS_DIR.rglob("test_*.py"))
    untested = [
        name
        for name in commands
        if not re.search(rf"call_command\(\s*[\"']{name}[\"']", sources) and name not in COMMANDS_AWAITING_TESTS
    ]
    assert untested == [], f"Management commands without a test calling them: {untested}"


def test_the_guard_walks_the_project_apps():
    # The command guard only means something if the project's apps are the ones it looks at.
    assert PROJECT_APPS & {config.label for config in apps.get_app_configs()} >= {"registry"}


def test_matrix_entries_are_unique_and_cover_every_persona():
    ids = [route.id for route in ROUTES]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    assert all(set(route.expected) == set(PERSONAS) for route in ROUTES)
