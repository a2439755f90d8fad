"""Steps many browser journeys share. Import them: ``from tests.browser.helpers import login``."""

import re


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
