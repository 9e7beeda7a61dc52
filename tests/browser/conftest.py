"""Fixtures of the browser tests."""

from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_URL = "/__test__/axe.min.js"


def watched(page):
    """A tab that records what the browser refused (CSP) or failed at in
    `page.problems`, and can load axe-core as a same-origin script, which
    the CSP allows."""
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.route(f"**{AXE_URL}", lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"))
    return page


@pytest.fixture
def clinician_page(page, knowledge_base, clinician):
    """A signed-out tab for the clinician's tests, watched (above)."""
    return watched(page)
