"""The attestation policy on the browser path: under `trusted-ca` with only
the soft token's CA as root, a key Chromium's virtual authenticator
registers (its certificate comes from Chromium's own test CA) is refused
with a clear message, and no key is stored."""

import os

import pytest
from playwright.sync_api import expect

from browser_session import Session

URL = os.environ["KEYGATE_URL"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]


@pytest.mark.parametrize("protocol", ["u2f", "ctap2"])
def test_an_untrusted_attestation_is_refused(browser, protocol):
    session = Session(browser, protocol, None)
    page = session.page
    try:
        page.goto(URL + "/sign-in")
        page.get_by_label("User name").fill("policy-user")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(URL + "/account")
        page.get_by_role("button", name="Add a security key").click()
        expect(page.locator("#add-key-error")).to_contain_text("does not chain to a trusted root")
        session.shot(f"account-{protocol}-untrusted-attestation")
        page.reload()
        expect(page.locator("#keys li")).to_have_count(0)
    finally:
        session.close()
