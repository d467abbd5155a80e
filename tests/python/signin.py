"""Sign-in for applications (login.php, /dialog/oauth) done the way DESIGN §5
lets any program do it: python-fido2's Ctap1 drives the soft token, and the
JSON API carries the application's request in the `for` field. The page is
fetched first, as a browser would, to check it is the sign-in bound to the
request.
"""

import base64
import json
from hashlib import sha256

import requests
from fido2.ctap1 import Ctap1


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_data(typ, challenge, origin):
    return json.dumps({"typ": typ, "challenge": challenge, "origin": origin}).encode()


class KeyHolder:
    """A user with a password and the soft token as their security key."""

    def __init__(self, url, user, password, token):
        self.url = url
        self.user = user
        self.password = password
        self.ctap1 = Ctap1(token.device())
        self.key_handle = None

    def api(self, path, body, bearer=None):
        headers = {"Authorization": "Bearer " + bearer} if bearer else {}
        return requests.post(self.url + path, json=body, headers=headers, timeout=10)

    def enroll(self):
        """Enrolls the soft token (the user has no key yet)."""
        first = self.api("/api/v1/login", {"username": self.user, "password": self.password}).json()
        assert first["second_factor"] == "none", first
        session = first["session_token"]
        start = self.api("/api/v1/keys/register/start", None, session).json()
        cd = client_data("navigator.id.finishEnrollment", start["registerRequests"][0]["challenge"], start["origin"])
        registration = self.ctap1.register(sha256(cd).digest(), sha256(start["appId"].encode()).digest())
        finish = self.api("/api/v1/keys/register/finish",
                          {"registrationData": b64(bytes(registration)), "clientData": b64(cd), "name": "soft"},
                          session)
        assert finish.status_code == 200, finish.text
        self.key_handle = registration.key_handle

    def start(self, for_request):
        return self.api("/api/v1/login",
                        {"username": self.user, "password": self.password, "for": for_request})

    def sign_in_for(self, for_request):
        """Password, then the key; returns the finish answer's redirect_to."""
        login = self.start(for_request)
        assert login.status_code == 200, login.text
        login = login.json()
        assert login["second_factor"] == "u2f", login
        cd = client_data("navigator.id.getAssertion", login["challenge"], login["origin"])
        app_param = sha256(login["appId"].encode()).digest()
        signature = self.ctap1.authenticate(sha256(cd).digest(), app_param, self.key_handle)
        done = self.api("/api/v1/login/u2f", {"login_id": login["login_id"], "keyHandle": b64(self.key_handle),
                                              "signatureData": b64(bytes(signature)), "clientData": b64(cd)})
        assert done.status_code == 200, done.text
        return done.json()["redirect_to"]
