"""Fixtures of the browser tests."""

from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_URL = "/__test__/axe.min.js"


@pytest.fixture
def clinician_page(page, knowledge_base, clinician):
    """A page that records what the browser refused (CSP) or failed at, and
    can load axe-core as a same-origin script, which the CSP allows."""
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.route(f"**{AXE_URL}", lambda route: route.fulfill(
        path=str(AXE), content_type="application/javascript"
    ))
    page.problems = problems
    return page
