"""Steps many browser journeys share. Import them: ``from tests.browser.helpers import login``."""

import re
from functools import cache
from pathlib import Path


def login(page, username: str, password: str) -> None:
    """Sign in through the real sign-in form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/accounts/login/" in page.url:
        raise AssertionError(f"Signing in as {username} failed; the page says: {page.locator('main').inner_text()}")


def logout(page) -> None:
    """Sign out with the button in the top bar."""
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def field(page, label: str):
    """The form control whose label is exactly ``label`` (required fields' labels end in " *")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


AXE_PATH = Path(__file__).parent / "vendor" / "axe.min.js"
# The rule sets of WCAG 2.1 level AA (level A included), as the project's rule names them.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
AXE_RUN = """async (tags) => {
    const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), html: n.html, summary: n.failureSummary})),
    }));
}"""


@cache
def _axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """Run axe-core's WCAG 2.1 A and AA rules on the page as it stands; return the violations.

    The site's Content-Security-Policy forbids inline scripts, so axe is not added as a
    <script> tag: ``page.evaluate`` runs its source through the DevTools protocol, which the
    page's CSP does not govern. It is injected once per document.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    return page.evaluate(AXE_RUN, list(AXE_TAGS))


def format_axe_violations(violations: list[dict], *, context: str = "", nodes_shown: int = 3) -> str:
    """A readable report: rule id, impact, help and the first few offending elements of each violation."""
    lines = [f"{len(violations)} axe-core WCAG 2.1 AA violation(s){' on ' + context if context else ''}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} [{len(violation['nodes'])} element(s)]"
        )
        for node in violation["nodes"][:nodes_shown]:
            html = node["html"] if len(node["html"]) <= 200 else node["html"][:197] + "..."
            lines.append(f"    at {node['target']}: {html}")
        lines.append(f"    see {violation['helpUrl']}")
    return "\n".join(lines)


def assert_no_axe_violations(page, context: str = "") -> None:
    """Fail, with a readable list, when axe-core finds any WCAG 2.1 A/AA violation on the page.

    ``context`` names what was checked (e.g. "owner GET /agents/") in the failure message.
    """
    violations = axe_violations(page)
    if violations:
        raise AssertionError(format_axe_violations(violations, context=context or page.url))


def assert_accessible(page, label: str = "") -> None:
    """The journeys' short name for :func:`assert_no_axe_violations`."""
    assert_no_axe_violations(page, context=label)
