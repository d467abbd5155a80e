"""The account pages in Debian's Chromium with a CDP virtual authenticator
(protocols u2f, fido-u2f attestation, and ctap2, packed): first key
registered in the browser (webauthn-rs checks the attestation), sign out,
sign in with password + key, rename, recovery-code sign-in, password change,
and the browser-registered credential moved into the soft token
(`keygate soft-token import-credential`) logging in with `keygate key login`;
then the key removed. Screenshots at desktop and phone width.
"""

import json
import os
import sqlite3
import subprocess

import pytest
import requests
from playwright.sync_api import expect

from browser_session import PHONE, Session, keygate
from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]
DATABASE = os.environ["KEYGATE_DATABASE"]
NEW_PASSWORD = "a brand new passphrase"


def sign_in(page, user, password):
    page.goto(URL + "/sign-in")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize("protocol", ["u2f", "ctap2"])
def test_register_and_manage_a_key_in_the_browser(browser, protocol, tmp_path):
    user = protocol + "-user"
    session = Session(browser, protocol, None)
    page = session.page
    shot = lambda name: session.shot(f"account-{protocol}-{name}")  # noqa: E731
    try:
        # No key yet: the password alone opens the account page, to add one.
        sign_in(page, user, PASSWORD)
        page.wait_for_url(URL + "/account")
        expect(page.locator(".notice")).to_contain_text("Add a security key")
        cookies = {c["name"]: c for c in session.context.cookies()}
        assert cookies["keygate_session"]["httpOnly"] and cookies["keygate_session"]["sameSite"] == "Lax"
        shot("no-key")

        page.get_by_label("Name for a new key").fill("Blue key")
        page.get_by_role("button", name="Add a security key").click()
        expect(page.locator("#codes li")).to_have_count(10)
        codes = page.locator("#codes li").all_inner_texts()
        shot("recovery-codes")
        page.reload()
        expect(page.locator("#keys li")).to_have_count(1)
        expect(page.locator("#keys")).to_contain_text("Blue key")
        shot("one-key")

        page.get_by_role("button", name="Sign out", exact=True).last.click()
        page.wait_for_url(URL + "/sign-in")
        sign_in(page, user, PASSWORD)
        page.wait_for_url(URL + "/account")
        expect(page.locator("p.lead")).to_contain_text(user)

        page.once("dialog", lambda dialog: dialog.accept("Green key"))
        page.locator("#keys li").get_by_role("button", name="Rename").click()
        expect(page.locator("#account-status")).to_contain_text("Key renamed")
        expect(page.locator("#keys")).to_contain_text("Green key")

        # Ten minutes on, new recovery codes need a touch of the key again
        # (step-up); the page asks for it and goes on.
        with sqlite3.connect(DATABASE.removeprefix("sqlite:")) as db:
            db.execute("UPDATE sessions SET created_at = created_at - 600, verified_at = verified_at - 600")
        page.get_by_role("button", name="Generate new recovery codes").click()
        expect(page.locator("#codes li")).to_have_count(10)
        assert page.locator("#codes li").all_inner_texts() != codes
        audit = keygate("audit", "--user", user, "--database", DATABASE)
        assert "step_up" in audit and "recovery_codes_replaced" in audit, audit
        codes = page.locator("#codes li").all_inner_texts()
        page.reload()

        # A recovery code while the key is not touched.
        page.locator("#sign-out").click()
        page.wait_for_url(URL + "/sign-in")
        session.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                         {"authenticatorId": session.authenticator, "enabled": False})
        sign_in(page, user, PASSWORD)
        expect(page.get_by_role("heading", name="Insert and touch your security key")).to_be_visible()
        shot("touch-your-key")
        page.get_by_role("button", name="Use a recovery code instead").click()
        page.get_by_label("Recovery code").fill("0000-0000-0000")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#recovery-error")).to_contain_text("wrong")
        shot("wrong-recovery-code")
        page.get_by_label("Recovery code").fill(codes[0])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(URL + "/account")
        session.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                         {"authenticatorId": session.authenticator, "enabled": True})

        # Password change ends every session, this one too.
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        page.wait_for_url(URL + "/sign-in")
        sign_in(page, user, NEW_PASSWORD)
        page.wait_for_url(URL + "/account")
        shot("signed-in")

        # The same credential in the soft token: `keygate key login` works.
        # (read now: the browser's sign-ins have moved its counter on).
        registered = session.credential()
        state = tmp_path / "imported.json"
        imported = subprocess.run(
            [os.environ["KEYGATE_BIN"], "soft-token", "import-credential", "--state", str(state), "--rp-id", "localhost"],
            input=json.dumps(registered), text=True, capture_output=True)
        assert imported.returncode == 0, imported.stderr + json.dumps(registered)
        token = Token(tmp_path, "udp", state=state).start()
        try:
            out = keygate("key", "login", "--server", URL, "--user", user, "--device", token.listen,
                          "--password-stdin", stdin=NEW_PASSWORD + "\n")
            assert "session_token:" in out, out
        finally:
            token.stop()

        page.reload()
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#keys li").get_by_role("button", name="Remove").click()
        expect(page.locator("#account-status")).to_contain_text("Key removed")
        expect(page.locator("#keys li")).to_have_count(0)
    finally:
        session.close()


def test_account_page_at_phone_width(browser):
    session = Session(browser, "ctap2", None, viewport=PHONE)
    try:
        sign_in(session.page, "phone-user", PASSWORD)
        session.page.wait_for_url(URL + "/account")
        session.page.get_by_role("button", name="Add a security key").click()
        expect(session.page.locator("#codes li")).to_have_count(10)
        session.page.reload()
        session.shot("account-phone")
        width = session.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways at phone width"
    finally:
        session.close()


def test_cookie_sessions_need_the_csrf_token():
    """A cross-site form carries the cookie but not the token: refused."""
    http = requests.Session()
    page = http.get(URL + "/sign-in", timeout=10)
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    login = http.post(URL + "/api/v1/login", json={"username": "csrf-user", "password": PASSWORD},
                      headers={"X-CSRF-Token": token}, timeout=10)
    assert login.status_code == 200 and "session_token" not in login.json(), login.text
    assert "keygate_session" in http.cookies
    forged = http.post(URL + "/api/v1/keys/webauthn/register/start", timeout=10)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    wrong = http.post(URL + "/api/v1/keys/webauthn/register/start", headers={"X-CSRF-Token": token + "x"}, timeout=10)
    assert wrong.status_code == 403
    ok = http.post(URL + "/api/v1/keys/webauthn/register/start", headers={"X-CSRF-Token": token}, timeout=10)
    assert ok.status_code == 200 and ok.json()["publicKey"]["attestation"] == "direct", ok.text
    assert [p["alg"] for p in ok.json()["publicKey"]["pubKeyCredParams"]] == [-7]
    reading = http.get(URL + "/api/v1/sessions", timeout=10)
    assert reading.status_code == 200, reading.text
