"""Debian's Chromium, driven by Playwright, signs in at login.php with a key
enrolled by `keygate key enroll`: the soft token's credential is exported
(`keygate soft-token export-credential`) into Chromium's virtual
authenticator (CDP `WebAuthn.addCredential`, protocols u2f and ctap2), the
page answers the WebAuthn challenge, and minifb's getSession then gets the
session. A credential re-added with a lower signature counter is refused
with a clear message and a clone alarm in `keygate audit`.

Screenshots of each page state, at desktop and phone width, go to
KEYGATE_SCREENSHOTS.
"""

import json
import os
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import expect

import minifb_py3
from browser_session import PHONE, Session, keygate
from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
DATABASE = os.environ["KEYGATE_DATABASE"]
API_KEY = os.environ["KEYGATE_API_KEY"]
SECRET = os.environ["KEYGATE_SECRET"]
UID = int(os.environ["KEYGATE_UID"])
PASSWORD = os.environ["KEYGATE_PASSWORD"]


@pytest.fixture(scope="module")
def cli_credential(tmp_path_factory):
    """Enrolls the soft token with the CLI and exports its credential."""
    tmp = tmp_path_factory.mktemp("token")
    token = Token(tmp, "udp").start()
    try:
        out = keygate("key", "enroll", "--server", URL, "--user", "alice", "--device", token.listen,
                      "--name", "cli key", "--password-stdin", stdin=PASSWORD + "\n")
        assert "enrolled key" in out, out
    finally:
        token.stop()
    login = requests.post(URL + "/api/v1/login", json={"username": "alice", "password": PASSWORD}, timeout=10).json()
    handle = login["registeredKeys"][0]["keyHandle"]
    exported = keygate("soft-token", "export-credential", "--state", str(token.state), "--rp-id", "localhost",
                       "--key-handle", handle)
    return json.loads(exported)


def login_php():
    fb = minifb_py3.load(URL + "/restserver.php")
    auth_token = fb.call("facebook.auth.createToken", API_KEY, fb.FacebookSecret(SECRET))
    return fb, auth_token, URL + "/login.php?" + urlencode({"api_key": API_KEY, "auth_token": auth_token})


def sign_in(page, password):
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


# Carries the credential from one virtual authenticator to the next, with
# its counter, as moving a key between machines would.
CARRIED = {}


@pytest.mark.parametrize("protocol", ["u2f", "ctap2"])
def test_a_cli_enrolled_key_signs_in_at_login_php(browser, cli_credential, protocol):
    credential = CARRIED.get("credential", cli_credential)
    session = Session(browser, protocol, credential)
    try:
        fb, auth_token, url = login_php()
        page = session.page
        page.goto(url)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.locator(".lead")).to_contain_text("browser-app")
        session.shot(f"login-php-{protocol}-desktop")

        sign_in(page, "wrong password")
        expect(page.locator("#password-error")).to_contain_text("wrong user name or password")
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
        session.shot(f"login-php-{protocol}-wrong-password")

        sign_in(page, PASSWORD)
        page.wait_for_url(URL + "/login.php/done")
        expect(page.get_by_role("status")).to_contain_text("close this window")
        session.shot(f"login-php-{protocol}-done")

        got = fb.call("facebook.auth.getSession", API_KEY, fb.FacebookSecret(SECRET), auth_token=auth_token)
        assert got["uid"] == UID
        CARRIED["credential"] = session.credential()
        assert CARRIED["credential"]["signCount"] > cli_credential["signCount"]
    finally:
        session.close()


def test_the_page_at_phone_width(browser):
    session = Session(browser, "ctap2", None, viewport=PHONE)
    try:
        _, _, url = login_php()
        session.page.goto(url)
        expect(session.page.get_by_role("button", name="Continue")).to_be_visible()
        session.shot("login-php-phone")
        width = session.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways at phone width"
    finally:
        session.close()


def test_a_credential_with_a_lower_counter_is_refused_as_a_clone(browser, cli_credential):
    assert "credential" in CARRIED, "runs after the sign-ins"
    stale = dict(CARRIED["credential"], signCount=cli_credential["signCount"])
    session = Session(browser, "ctap2", stale)
    try:
        _, _, url = login_php()
        session.page.goto(url)
        sign_in(session.page, PASSWORD)
        expect(session.page.locator("#key-error")).to_contain_text("counter went backwards")
        expect(session.page.get_by_role("button", name="Try again")).to_be_hidden()
        expect(session.page.get_by_role("button", name="Use a recovery code instead")).to_be_visible()
        session.shot("login-php-clone-alarm")
        assert session.page.url.startswith(URL + "/login.php?")
    finally:
        session.close()
    audit = keygate("audit", "--user", "alice", "--database", DATABASE)
    assert "clone_alarm" in audit, audit


def test_bad_requests_get_an_error_page(browser):
    session = Session(browser, "ctap2", None)
    try:
        session.page.goto(URL + "/login.php?" + urlencode({"api_key": API_KEY, "auth_token": "0" * 32}))
        expect(session.page.get_by_role("heading")).to_contain_text("expired or was already used")
        session.shot("login-php-expired-token")
        session.page.goto(URL + "/dialog/oauth?client_id=" + API_KEY + "&redirect_uri=https://evil.example/")
        expect(session.page.get_by_role("heading")).to_contain_text("191")
        session.shot("dialog-error-191")
    finally:
        session.close()


def test_an_unregistered_key_gets_a_clear_error_and_a_retry(browser):
    """The authenticator holds a key this account never registered."""
    stranger = Session(browser, "ctap2", None)
    try:
        # A credential for this RP that the server does not know.
        stranger.page.goto(URL + "/sign-in")
        stranger.page.evaluate("""async () => {
            const options = { publicKey: {
                challenge: new Uint8Array(32), rp: { name: "x", id: "localhost" },
                user: { id: new Uint8Array([1]), name: "x", displayName: "x" },
                pubKeyCredParams: [{ type: "public-key", alg: -7 }], attestation: "none" } };
            await navigator.credentials.create(options);
        }""")
        _, _, url = login_php()
        stranger.page.goto(url)
        sign_in(stranger.page, PASSWORD)
        # Browsers report an unknown key like a cancelled ceremony.
        expect(stranger.page.locator("#key-error")).to_contain_text("not registered", timeout=20_000)
        expect(stranger.page.get_by_role("button", name="Try again")).to_be_visible()
        stranger.shot("login-php-unknown-key")
    finally:
        stranger.close()
