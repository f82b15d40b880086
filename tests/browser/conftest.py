"""The one headless Chromium of the browser tests: Debian's chromium driven by Playwright (its own
browser download does not work here); each test that asks for `browser` gets a fresh one."""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard_browser import ARGS, CHROMIUM
from tests.fixtures import ARTIFACTS


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()
