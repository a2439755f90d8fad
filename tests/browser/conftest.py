"""The browser-test harness: Playwright driving Debian's headless Chromium against pytest-django's live_server.

Add a journey as ``tests/browser/test_<area>_journey.py``; use the ``page``
fixture (a fresh browser context on the live server, so relative URLs work),
``tests.browser.helpers.login(page, username, password)`` and, where a picture helps, the
``screenshot`` fixture. Every test here is marked ``browser``
(``pytest -m "not browser"`` leaves them out). A screenshot of the page is
saved to ``test-artifacts/`` whenever a browser test fails.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(override with CHROMIUM_PATH). Without it the tests skip, unless
REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop in this thread; Django would then
# refuse ORM calls from fixtures and tests as if they ran inside async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
# Generous enough for a loaded CI machine, short enough that a broken page fails fast.
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item so the page fixture can tell a failure.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _require_browser() -> None:
    if Path(CHROMIUM_PATH).exists():
        return
    message = f"Chromium is not installed at {CHROMIUM_PATH} (apt-get install chromium)."
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message + " REQUIRE_BROWSER=1, so browser tests may not skip.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(request, browser, live_server, transactional_db):
    """A fresh browser context (no cookies) whose relative URLs point at the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    if failed:
        _save_screenshot(page, request.node.nodeid, "failure")
    context.close()


@pytest.fixture
def screenshot(request):
    """Call ``screenshot(page, "label")`` to keep a picture of the page in test-artifacts/."""

    def take(page, label: str = "step") -> Path:
        return _save_screenshot(page, request.node.nodeid, label)

    return take


def _save_screenshot(page, nodeid: str, label: str) -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("/")[-1])
    path = ARTIFACTS_DIR / f"{name}-{label}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # noqa: BLE001 (a failed screenshot must not hide the test's own failure)
        print(f"could not save screenshot {path}: {exc}")  # noqa: T201
    return path
