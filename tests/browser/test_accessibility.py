"""Every page of the site passes axe-core's WCAG 2.1 A and AA rules, for every role that can open it.

The pages are not listed by hand: ``site_pages()`` walks Django's URL resolver and
fills each path parameter with a real object of a small portfolio (from the model the
route is named after, then by parameter name), so a page added later is checked without
touching this module. Each role signs in once; every route is first probed in-process
as that role (status, content type and the structure of the page), and each HTML page
is then opened in the browser and checked with axe, once per distinct structure (see
``RegionSignatures``). API, admin, static files, downloads, htmx fragments and POST-only
actions are not pages and are left out by rule; ``SKIPPED_ROUTES`` names the few other
routes left out, each with its reason.

The coverage guard fails when a route's parameter cannot be filled (naming the URL
pattern and the parameter) and when a route is neither skipped nor a page any role can
open, so no page escapes the check. See docs/accessibility.md.
"""

import hashlib
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import assert_no_axe_violations, axe_violations, field, format_axe_violations, login

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's password
ROLES = ("owner", "delegate", "employee", "board", "leadership", "admin")

# Routes that are not walked, each with its reason. Everything else that is not API, admin
# or static must be a page some role can open (or a download / a POST-only action).
SKIPPED_ROUTES: dict[str, str] = {
    "oidc_authentication_init": "redirects to the external identity provider's sign-in page",
    "oidc_authentication_callback": "only answers the identity provider's redirect (state and code)",
    "oidc_logout": "signs out and redirects to the identity provider",
    "logout": "POST-only sign-out; the button is checked on every page's top bar",
    "registry:landing": "only redirects to the role's landing page (every one of which is walked)",
    "governance:index": "only redirects to the reader's governance page (overview, queue or what they owe)",
    "governance:fria-pdf": "a PDF download of a submitted FRIA; the FRIA form page itself is walked",
    "governance:incident-regulator-report": "a PDF download of a serious incident; the incident page is walked",
}
# Path prefixes that are not HTML pages of the site.
# (``scim/``: the SCIM 2.0 protocol API, JSON for identity providers behind a bearer token, like ``api/``.)
SKIPPED_PREFIXES = ("api/", "admin/", "static/", "media/", "v1/", "scim/")
# Pages that need a query string to show anything, with the one to use.
QUERIES: dict[str, dict[str, str]] = {
    "telemetry:identity-detail": {"identity": "matrix.shadow"},
    "telemetry:identity-register": {"identity": "matrix.shadow"},
}
# Path parameters filled by name, from the portfolio built below.
PARAMETERS_BY_NAME = {
    "key": lambda data: data.agent.key,
    "slug": lambda data: data.unit.slug,
    "code": lambda data: "scope",
    "version": lambda data: data.policy_version,
    "fmt": lambda data: "csv",
    "tool_key": lambda data: data.mcp_tool.key,
}
# Route names whose model name does not follow from the route name.
MODEL_ALIASES = {
    "mcp": "mcpserver",
    "condition": "reviewcondition",
    "source": "telemetrysource",
    "identity": "identityalias",
}


@dataclass
class SitePage:
    name: str
    pattern: str
    url: str | None = None
    problem: str = ""


def walk(patterns=None, namespace="", prefix=""):
    """(qualified name, full pattern, URLPattern) for every route of the site."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, ns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", prefix + str(entry.pattern), entry


def is_not_a_page(name: str, pattern: str) -> bool:
    return name.startswith(("api:", "admin:")) or name in SKIPPED_ROUTES or pattern.startswith(SKIPPED_PREFIXES)


def model_for(route_name: str):
    """The model a route is named after: ``governance:finding-detail`` -> governance.Finding."""
    namespace, _, name = route_name.rpartition(":")
    stem = name.split("-")[0].replace("_", "")
    stem = MODEL_ALIASES.get(stem, stem)
    candidates = list(apps.get_app_config(namespace).get_models()) if namespace in apps.app_configs else []
    candidates += [m for m in apps.get_models() if m not in candidates]
    for model in candidates:
        if model._meta.model_name == stem:
            return model
    for model in candidates:
        if model._meta.model_name.endswith(stem):
            return model
    return None


def _row_of(model, data):
    """The portfolio's richest object of a model (the agent and unit every role has a view of), else its first row."""
    preferred = getattr(data, "preferred", {}).get(model._meta.label)
    return preferred if preferred is not None else model.objects.order_by("pk").first()


def _first_alternative(pattern: URLPattern, param: str) -> str | None:
    """The first value a regex route spells out for a parameter (``(?P<fmt>pdf|md)`` -> "pdf")."""
    found = re.search(rf"\(\?P<{param}>([a-z0-9_]+(?:\|[a-z0-9_]+)*)\)", pattern.pattern.regex.pattern)
    return found.group(1).split("|")[0] if found else None


def fill(name: str, pattern: URLPattern, data) -> tuple[dict, str]:
    """The path parameters of a route, filled with real objects; or the reason one cannot be.

    A parameter is first read from the model the route is named after when that model has a field
    of the parameter's name (``pk``/``id`` and integer parameters: its primary key); otherwise from
    PARAMETERS_BY_NAME (e.g. the agent's ``key`` on governance pages)."""
    converters = pattern.pattern.converters
    params = list(converters) or list(pattern.pattern.regex.groupindex)
    model = model_for(name)
    kwargs = {}
    for param in params:
        is_pk = param in ("pk", "id") or type(converters.get(param)).__name__ == "IntConverter"
        field_name = "pk" if is_pk else param
        has_field = model is not None and (is_pk or any(f.name == param for f in model._meta.concrete_fields))
        if has_field and (obj := _row_of(model, data)) is not None:
            kwargs[param] = getattr(obj, field_name)
            continue
        if (choice := _first_alternative(pattern, param)) is not None:
            kwargs[param] = choice  # a route that lists its values (technical-file.<pdf|md>)
            continue
        if param in PARAMETERS_BY_NAME:
            kwargs[param] = PARAMETERS_BY_NAME[param](data)
            continue
        if has_field:
            return {}, f"parameter {param!r} cannot be filled (no {model.__name__} row in the portfolio)"
        if is_pk:
            return {}, f"parameter {param!r} cannot be filled (no model named after {name!r})"
        return {}, f"parameter {param!r} cannot be filled (unknown parameter name; add it to PARAMETERS_BY_NAME)"
    return kwargs, ""


def site_pages(data) -> list[SitePage]:
    pages = []
    for name, pattern_text, pattern in walk():
        if is_not_a_page(name, pattern_text):
            continue
        kwargs, problem = fill(name, pattern, data)
        page = SitePage(name, pattern_text, problem=problem)
        if not problem:
            query = QUERIES.get(name)
            page.url = reverse(name, kwargs=kwargs) + (f"?{urlencode(query)}" if query else "")
        pages.append(page)
    return pages


def portfolio(request) -> SimpleNamespace:
    """A small realistic portfolio: the portfolio tests' world (8 agents in every state, findings,
    tools, maturity) plus the leave assistant with an assessment waiting, file evidence, a review
    approved with a condition, a release, an incident, a waiver, telemetry from a source (with a
    sighting and an unknown identity), an alias and a finding raised by a check."""
    from datetime import timedelta

    from django.utils import timezone

    from governance.models import RiskPolicy
    from governance.services import continuity
    from registry import services
    from tests.governance import permission_routes as governance_routes
    from tests.registry import permission_routes as registry_routes
    from tests.registry.mcp_fixtures import listed
    from tests.registry.test_cards import as_json, card_v1
    from tests.telemetry import permission_routes as telemetry_routes

    get = request.getfixturevalue
    world = get("world")
    c = SimpleNamespace(
        agent=get("agent"), owner=get("owner"), board=get("board"), admin=get("admin"), version=get("version"), extra={}
    )
    governance_routes.submitted_assessment(c)
    governance_routes.evidence_file(c)
    governance_routes.condition(c)
    governance_routes.incident(c)
    governance_routes.waiver(c)
    telemetry_routes.reported(c)
    telemetry_routes.alias(c)
    telemetry_routes.finding(c)
    # today's pages, with data: MCP servers (approved with a change waiting, and awaiting approval),
    # a stop in force, a handover, an attestation campaign
    c.unit, c.employee = get("unit"), get("employee")
    registry_routes.deprovisioned_owner_with_handover(c)
    changed = get("approved_mcp_server")
    services.record_mcp_scan(
        changed,
        [
            listed("read_leave_balance", "Read leave days and the carry-over.", readOnlyHint=True),
            listed("submit_leave_request", "File a leave request."),
        ],
    )
    awaiting = services.register_mcp_server(
        actor=c.owner,
        key="hr.payroll-tools",
        name="Payroll tools",
        url="http://127.0.0.1:9/payroll",
        business_unit=c.unit,
        description="Payroll tools awaiting the board.",
    )
    services.record_mcp_scan(awaiting, [listed("read_payslip", "Read a payslip.", readOnlyHint=True)])
    stop = services.start_stop("agent", world.a2, actor=c.admin, reason="Leaking answers to customers")
    services.propose_card(c.agent, as_json(card_v1()), actor=c.owner)  # the card page shows what would change
    campaign = continuity.open_campaign(
        actor=c.board, name="Spring attestation", deadline=timezone.now() + timedelta(days=21)
    )
    policy_version = RiskPolicy.objects.current().version
    return SimpleNamespace(
        agent=c.agent,
        unit=world.hr,
        policy_version=policy_version,
        world=world,
        mcp_tool=changed.tools.get(mcp_name="read_leave_balance"),
        preferred={
            "registry.Agent": c.agent,
            "registry.BusinessUnit": world.hr,
            "registry.McpServer": changed,
            "registry.Stop": stop,
            "governance.AttestationCampaign": campaign,
        },
    )


@pytest.fixture
def signed_in(browser, live_server, request):
    """signed_in(role) -> a page in a context of its own, signed in once as that persona."""
    contexts = []

    def open_as(role):
        context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        if role != "anonymous":
            login(page, request.getfixturevalue(role).username, PASSWORD)
        return page

    yield open_as
    for context in contexts:
        context.close()


class RegionSignatures(HTMLParser):
    """The structure of each top-level region of a page's <head> and <body> (skip link, header, main,
    footer), as a short hash: every element with its class, role, ARIA, scope, type and style, and where
    text stands, but not the text itself nor ids, links and values. Two views of a page whose regions
    all have signatures axe has already checked have the same elements, names, landmarks and colours,
    so the walk runs axe once per distinct structure instead of once per view."""

    KEPT = ("class", "role", "scope", "type", "style", "lang", "alt", "title", "colspan", "rowspan", "hidden", "open")
    PRESENCE = ("id", "for", "href", "aria-labelledby", "aria-describedby", "aria-controls", "name", "value")
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.regions: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if len(self.stack) == 2:  # a child of <head> or <body>
            self.parts = []
        kept = [
            f"{k}={v}" if k in self.KEPT or (k.startswith("aria-") and k not in self.PRESENCE) else k
            for k, v in sorted(attrs)
            if k in self.KEPT or k in self.PRESENCE or k.startswith("aria-")
        ]
        self.parts.append(f"<{tag} {' '.join(kept)}>")
        if tag not in self.VOID:
            self.stack.append(tag)
        elif len(self.stack) == 2:
            self._close_region()

    def handle_endtag(self, tag):
        if tag in self.VOID or tag not in self.stack:
            return
        while self.stack and self.stack.pop() != tag:
            pass
        self.parts.append(f"</{tag}>")
        if len(self.stack) == 2:
            self._close_region()

    def handle_data(self, data):
        if data.strip() and self.parts and self.parts[-1] != "T":
            self.parts.append("T")

    def _close_region(self):
        self.regions.add(hashlib.sha1("".join(self.parts).encode(), usedforsecurity=False).hexdigest())


def probe(client: Client, url: str) -> tuple[int, str, set[str]]:
    """(status, kind, region signatures) of a GET as the client's user, without a browser: kind is
    "page" for an HTML document, "fragment" for a piece of HTML that htmx puts into a page, else
    "other" (downloads, JSON)."""
    response = client.get(url)
    if not response.get("Content-Type", "").startswith("text/html"):
        return response.status_code, "other", set()
    html = response.content.decode(response.charset or "utf-8")
    if not html.lstrip().lower().startswith(("<!doctype html", "<html")):
        return response.status_code, "fragment", set()
    parser = RegionSignatures()
    parser.feed(re.sub(r"^\s*<!doctype[^>]*>", "", html, flags=re.I))
    parser.close()
    return response.status_code, "page", parser.regions | {f"status {response.status_code}"}


def test_every_page_passes_axe_for_every_role(request, transactional_db, live_server, signed_in):
    # given: a small portfolio and every page of the site, found by walking the URL resolver
    data = portfolio(request)
    pages = site_pages(data)
    unfillable = [f"{p.pattern} ({p.name}): {p.problem}" for p in pages if p.problem]
    assert not unfillable, "Routes whose URL cannot be built for the accessibility walk:\n" + "\n".join(unfillable)

    checked: dict[str, list[str]] = {p.name: [] for p in pages}  # route -> roles that opened it as a page
    not_pages: set[str] = set()  # downloads, fragments and POST-only actions
    error_pages: dict[int, str] = {}  # one refused page per status, checked once
    failures: list[str] = []
    seen_regions: set[str] = set()  # structure signatures of the page regions axe has checked
    axe_runs = 0
    started = time.monotonic()

    for role in ("anonymous", *ROLES):
        user = None if role == "anonymous" else request.getfixturevalue(role)
        client = Client()
        if user is not None:
            client.force_login(user)
        browser_page = signed_in(role)
        for site_page in pages:
            status, kind, regions = probe(client, site_page.url)
            if status == 405 or (status == 200 and kind != "page"):
                not_pages.add(site_page.name)
                continue
            if kind != "page":
                continue
            if status != 200:
                if status in error_pages:
                    continue
                error_pages[status] = f"{role} GET {site_page.url}"
            # when: the role opens the page in the browser
            if status == 200:
                checked[site_page.name].append(role)
            if regions <= seen_regions:
                continue  # every part of this page, as built, was already checked by axe
            seen_regions |= regions
            axe_runs += 1
            browser_page.goto(site_page.url)
            # (disclosures opened, so what they hide, such as the charts' table views, is checked too)
            browser_page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
            # then: axe finds nothing
            violations = axe_violations(browser_page)
            if violations:
                failures.append(format_axe_violations(violations, context=f"{role} GET {site_page.url} ({status})"))

    elapsed = time.monotonic() - started
    # then: no page has a violation
    assert not failures, "\n\n".join(failures)
    # and every route is a page some role opened and axe checked (or a download, a fragment or a POST-only action)
    escaped = [f"{p.url} ({p.name})" for p in pages if not checked[p.name] and p.name not in not_pages]
    assert not escaped, (
        "Routes that no role could open as an HTML page, so axe never checked them: "
        + ", ".join(escaped)
        + ". Give the portfolio the object they need, a query in QUERIES, or a reason in SKIPPED_ROUTES."
    )
    # and the walk covered the pages of every layer, the error pages and the sign-in page
    assert {"registry:catalog", "governance:queue", "telemetry:source-list", "portfolio:dashboard"} <= {
        name for name, roles in checked.items() if roles
    }
    assert "anonymous" in checked["login"]
    # and today's pages were opened, with their data, by the roles that use them
    todays = {
        "registry:stop-list": "admin",
        "registry:mcp-list": "owner",
        "registry:mcp-detail": "board",
        "registry:handovers": "employee",
        "registry:agent-card": "owner",
        "registry:agent-import": "owner",
        "registry:agent-quick-create": "owner",
        "governance:campaigns": "board",
        "governance:campaign": "board",
        "governance:attestations": "owner",
        "governance:dormant": "owner",
        "governance:overview": "admin",
        "runtime:credentials": "admin",
    }
    missed = {name: role for name, role in todays.items() if role not in checked.get(name, [])}
    assert not missed, f"today's pages not opened by the role that uses them: {missed}"
    assert {403, 404} <= set(error_pages), f"no refused page was checked: {error_pages}"
    print(f"axe walk: {sum(map(len, checked.values()))} page views, {axe_runs} axe runs in {elapsed:.1f}s")  # noqa: T201


def test_pages_in_the_states_that_matter_pass_axe(request, transactional_db, live_server, signed_in):
    # given: the portfolio, and an owner and a leader signed in
    data = portfolio(request)
    owner = signed_in("owner")

    # when: a form is sent with errors
    owner.goto("/agents/new/")
    field(owner, "Key").fill("Not a key!")
    owner.get_by_role("button", name=re.compile("Register|Save|Create")).click()
    expect(owner.get_by_role("alert").first).to_be_visible()
    # then: the errors shown beside the fields pass
    assert_no_axe_violations(owner, context="agent form with errors")

    # when: a written statement is sent without its text
    owner.goto(f"/governance/agents/{data.agent.key}/evidence/scope/")
    owner.get_by_label("Written statement").check()
    owner.get_by_role("button", name="Submit for review").click()
    expect(owner.get_by_role("alert").first).to_be_visible()
    assert_no_axe_violations(owner, context="evidence form with errors")

    # when: an action succeeds and its message is shown
    owner.goto(f"/governance/agents/{data.agent.key}/assessment/")
    owner.get_by_role("button", name="Submit assessment").click()
    expect(owner.get_by_role("status").first).to_contain_text("Assessment submitted")
    assert_no_axe_violations(owner, context="a page with a success message")

    # when: the catalog's filter panel is used and narrows the results
    owner.goto("/agents/")
    owner.locator("#id_lifecycle").get_by_label("Production").check()
    owner.locator("#id_search").fill("a")
    expect(owner.locator("#results")).to_contain_text("A1")
    assert_no_axe_violations(owner, context="catalog with filters applied")

    # when: the findings list is filtered
    owner.goto("/governance/findings/?severity=critical")
    assert_no_axe_violations(owner, context="findings filtered by severity")

    # when: a leader opens the dashboard and every chart's table view
    leader = signed_in("leadership")
    leader.goto("/portfolio/")
    for details in leader.locator("details").all():
        details.evaluate("el => el.open = true")
    assert_no_axe_violations(leader, context="dashboard with the chart tables open")

    # when: the dashboard names a unit that does not exist (the filter error is shown)
    leader.goto("/portfolio/?business_unit=no-such-unit")
    expect(leader.get_by_role("alert").first).to_be_visible()
    assert_no_axe_violations(leader, context="dashboard with a filter error")

    # when: someone signs in with a wrong password
    anonymous = signed_in("anonymous")
    anonymous.goto("/accounts/login/")
    anonymous.get_by_label("Username").fill("nobody")
    anonymous.get_by_label("Password").fill("wrong")
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous.locator("main")).to_contain_text(re.compile("[Pp]lease|incorrect|not"))
    assert_no_axe_violations(anonymous, context="sign-in with a wrong password")


def test_the_axe_check_names_the_rule_the_element_and_the_page(browser):
    # given: a page with an unlabelled field and an image without a text alternative
    context = browser.new_context()
    page = context.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Broken</title></head><body><main><h1>Broken</h1>'
        '<input id="q" type="text"><img src="data:," width="10" height="10"></main></body></html>'
    )
    try:
        # when: the check runs
        with pytest.raises(AssertionError) as failure:
            assert_no_axe_violations(page, context="a broken page")
    finally:
        context.close()

    # then: the message says where, which rules, how serious, and shows the offending elements
    message = str(failure.value)
    assert message.startswith("2 axe-core WCAG 2.1 AA violation(s) on a broken page:")
    assert "- label (critical): Form elements must have labels" in message
    assert '    at #q: <input id="q" type="text">' in message
    assert "- image-alt (critical)" in message
    assert "dequeuniversity.com/rules/axe/4.14/label" in message


def test_a_route_whose_parameter_cannot_be_filled_is_named_with_its_parameter(db):
    # given: routes added by someone else, with a parameter nobody knows and a model with no row
    from django.urls import path

    from tests.browser.helpers import login as some_view
    from tests.factories import ToolFactory

    unknown = path("widgets/<str:widget_ref>/", some_view, name="widget-detail")
    empty = path("governance/incidents/<int:pk>/", some_view, name="incident-detail")
    data = SimpleNamespace()

    # when / then: the walk says which parameter of which route it could not fill
    assert fill("registry:widget-detail", unknown, data) == (
        {},
        "parameter 'widget_ref' cannot be filled (unknown parameter name; add it to PARAMETERS_BY_NAME)",
    )
    assert fill("governance:incident-detail", empty, data) == (
        {},
        "parameter 'pk' cannot be filled (no Incident row in the portfolio)",
    )
    # and a route named after a model with a field of the parameter's name is filled from its row
    tool_route = path("tools/<str:key>/", some_view, name="tool-detail")
    ToolFactory(key="crm.read", name="CRM read")
    assert fill("registry:tool-detail", tool_route, data) == ({"key": "crm.read"}, "")
    assert model_for("telemetry:source-detail").__name__ == "TelemetrySource"
    assert model_for("governance:condition-close").__name__ == "ReviewCondition"


@pytest.mark.parametrize("template", ["400.html", "403_csrf.html", "500.html", "503.html"])
def test_error_pages_the_walk_cannot_reach_pass_axe(page, template):
    # given: an error page rendered as Django's handlers render it (no request), served from the site's
    # origin so its stylesheet and scripts load as they would
    from django.template.loader import render_to_string

    html = render_to_string(template, {"reason": "CSRF token missing."})
    page.route("**/__error-page__", lambda route: route.fulfill(status=500, content_type="text/html", body=html))

    # when: the browser shows it
    page.goto("/__error-page__")

    # then: it passes
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_no_axe_violations(page, context=template)
