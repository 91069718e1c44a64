"""Helpers shared by the browser tests."""

from __future__ import annotations

PASSWORD = "pw-labelhub-1"  # tests.factories.UserFactory's password


def expect():
    """Playwright's ``expect``, imported late so collecting tests needs no browser."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def log_in(page, base_url: str, username: str) -> None:
    """Log in through the login form and wait for the home page."""
    page.goto(f"{base_url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect()(page.get_by_role("heading", name="My projects")).to_be_visible()
