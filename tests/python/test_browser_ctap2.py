"""Debian's Chromium signs in with a FIDO2 credential the CLI made over CTAP2.

`keygate key enroll --protocol ctap2` registers a CTAP2-only soft token
(`--protocol ctap2`: it announces NMSG and refuses U2F messages, so the
enrolment is a WebAuthn registration through authenticatorMakeCredential).
The credential is exported (`keygate soft-token export-credential`) into
Chromium's virtual authenticator speaking CTAP2 (CDP `WebAuthn.addCredential`)
and signs in at /sign-in; moved on, with its counter, to a U2F virtual
authenticator, it signs in again.
"""

import json
import os

import pytest
import requests
from playwright.sync_api import expect

from browser_session import Session, keygate
from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]
ENGINE = os.environ["KEYGATE_ENGINE"]
USER = "fido2-user"


@pytest.fixture(scope="module")
def ctap2_credential(tmp_path_factory):
    """The CTAP2-only soft token enrolled by the CLI over CTAP2, exported."""
    token = Token(tmp_path_factory.mktemp("token"), "udp", protocol="ctap2").start()
    try:
        out = keygate("key", "enroll", "--server", URL, "--user", USER, "--device", token.listen, "--protocol",
                      "ctap2", "--name", "fido2 key", "--password-stdin", stdin=PASSWORD + "\n")
        assert "enrolled key" in out, out
    finally:
        token.stop()
    login = requests.post(URL + "/api/v1/login", json={"username": USER, "password": PASSWORD}, timeout=10).json()
    assert login["second_factor"] == "u2f", login
    handles = [k["keyHandle"] for k in login["registeredKeys"]]
    assert len(handles) == 1, login
    exported = json.loads(keygate("soft-token", "export-credential", "--state", str(token.state),
                                  "--rp-id", "localhost", "--key-handle", handles[0]))
    assert exported["rpId"] == "localhost" and exported["isResidentCredential"] is False
    return exported


CARRIED = {}


@pytest.mark.parametrize("protocol", ["ctap2", "u2f"])
def test_a_ctap2_enrolled_key_signs_in_from_chromium(browser, ctap2_credential, protocol):
    credential = CARRIED.get("credential", ctap2_credential)
    session = Session(browser, protocol, credential)
    page = session.page
    try:
        page.goto(URL + "/sign-in")
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(URL + "/account")
        expect(page.locator("p.lead")).to_contain_text(USER)
        expect(page.locator("#keys")).to_contain_text("fido2 key")
        session.shot(f"ctap2-enrolled-{protocol}-{ENGINE}")
        carried = session.credential()
        assert carried["credentialId"] == ctap2_credential["credentialId"]
        assert carried["signCount"] > credential["signCount"]
        CARRIED["credential"] = carried
    finally:
        session.close()
