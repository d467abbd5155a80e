"""Chromium under Playwright with a CDP virtual authenticator, and the
`keygate` binary, as the browser tests use them."""

import os
import subprocess
from pathlib import Path

KEYGATE = os.environ["KEYGATE_BIN"]
SHOTS = Path(os.environ.get("KEYGATE_SCREENSHOTS", "target/screenshots"))
CHROMIUM = os.environ.get("KEYGATE_TEST_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def keygate(*args, stdin=None):
    done = subprocess.run([KEYGATE, *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Session:
    """A page with a CDP virtual authenticator holding `credential`."""

    def __init__(self, browser, protocol, credential, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        self.authenticator = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": protocol, "transport": "usb", "hasResidentKey": False,
            "hasUserVerification": False, "automaticPresenceSimulation": True}})["authenticatorId"]
        if credential:
            self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.authenticator, "credential": credential})

    def credential(self):
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})["credentials"]
        assert len(found) == 1, found
        return found[0]

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / (name + ".png")), full_page=True)

    def close(self):
        self.context.close()
