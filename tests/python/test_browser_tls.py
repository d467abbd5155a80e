"""Debian's Chromium signs in over HTTPS: `keygate serve --tls-cert
--tls-key` with a certificate from a CA made at test time, the origin
https://localhost:PORT. A key enrolled with `keygate key enroll --ca-file`
is moved into Chromium's virtual authenticator and signs in at /sign-in;
the page is a secure context, the session cookie is `__Host-` and Secure,
and HSTS is sent.

Chromium trusts the server's key through
`--ignore-certificate-errors-spki-list` (KEYGATE_SPKI): a pinned key, so
the page has no certificate error (WebAuthn refuses pages with one).
"""

import json
import os

import pytest
import requests
from playwright.sync_api import expect

from browser_session import CHROMIUM, Session, keygate
from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]
CA_FILE = os.environ["KEYGATE_CA_FILE"]
SPKI = os.environ["KEYGATE_SPKI"]
USER = "tls-user"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--ignore-certificate-errors-spki-list=" + SPKI])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def credential(tmp_path_factory):
    """The soft token enrolled over HTTPS by the CLI (KEYGATE_CA_FILE is set), exported."""
    token = Token(tmp_path_factory.mktemp("token"), "udp").start()
    try:
        out = keygate("key", "enroll", "--server", URL, "--user", USER, "--device", token.listen,
                      "--name", "tls key", "--password-stdin", stdin=PASSWORD + "\n")
        assert "enrolled key" in out, out
    finally:
        token.stop()
    login = requests.post(URL + "/api/v1/login", json={"username": USER, "password": PASSWORD},
                          verify=CA_FILE, timeout=10)
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000"
    handle = login.json()["registeredKeys"][0]["keyHandle"]
    exported = keygate("soft-token", "export-credential", "--state", str(token.state), "--rp-id", "localhost",
                       "--key-handle", handle)
    return json.loads(exported)


def test_a_cli_enrolled_key_signs_in_over_https(browser, credential):
    session = Session(browser, "ctap2", credential)
    page = session.page
    try:
        response = page.goto(URL + "/sign-in")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert page.evaluate("window.isSecureContext && location.protocol") == "https:"
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(URL + "/account")
        expect(page.locator("p.lead")).to_contain_text(USER)
        expect(page.locator("#keys")).to_contain_text("tls key")
        session.shot("account-over-https")

        cookies = {c["name"]: c for c in session.context.cookies()}
        assert "keygate_session" not in cookies, cookies
        host = cookies["__Host-keygate_session"]
        assert host["secure"] and host["httpOnly"] and host["path"] == "/" and host["sameSite"] == "Lax"
        assert session.credential()["signCount"] > credential["signCount"]
    finally:
        session.close()


def test_chromium_refuses_the_server_without_the_pinned_key(browser):
    """The same server to a browser that does not trust it: no page at all."""
    from playwright.sync_api import Error

    plain = browser.browser_type.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    try:
        page = plain.new_page()
        with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(URL + "/sign-in")
    finally:
        plain.close()
