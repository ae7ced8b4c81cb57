"""The browser layer's fixtures: one headless Chromium for the session, a signed-in page per
test (shared by every module here: Playwright's sync API allows one instance at a time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.browser import chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[[str], Any]]:
    """``open_page(login_url)``: a signed-in page in a new browser context."""
    contexts: list[Any] = []

    def opener(login_url: str) -> Any:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(login_url)  # the link's page sends its form at once (app.js) ...
        page.wait_for_url(lambda url: "/login" not in url)  # ... and lands on the upload page
        return page

    yield opener
    for context in contexts:
        context.close()
