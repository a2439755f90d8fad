"""Steps many browser journeys share. Import them: ``from tests.browser.helpers import login``."""

import re
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


AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page, label: str = "") -> None:
    """Run axe-core (vendored, 4.10.3) on the current page: no WCAG 2.1 A/AA violation may remain."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the devtools protocol: the site's CSP forbids injected <script> tags.
        page.evaluate(AXE_SCRIPT.read_text() + "\n;undefined")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA_TAGS
    )
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert not violations, f"Accessibility violations on {label or page.url}:\n" + "\n".join(violations)
