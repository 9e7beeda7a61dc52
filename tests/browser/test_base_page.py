import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_root_page_is_styled_by_local_bootstrap(page):
    page.goto("/")
    assert page.url.endswith("/accounts/login/?next=/screenings/")
    navbar = page.locator("nav.navbar")
    # Bootstrap's .navbar is display:flex; without its CSS a <nav> is block.
    assert navbar.evaluate("el => getComputedStyle(el).display") == "flex"
    assert page.locator("[data-testid=disclaimer]").is_visible()
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert any(href.endswith("/static/bootstrap/css/bootstrap.min.css") for href in sheets)
