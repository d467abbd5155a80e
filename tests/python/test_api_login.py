"""python-fido2's Ctap1 (a U2F host nobody here wrote) drives the soft token
and enrolls and logs in through keygate's JSON API with `requests`.

The Rust side (tests/clients/api_python.rs) starts `keygate serve` with a user that
has no key yet and passes KEYGATE_URL, KEYGATE_USER and KEYGATE_PASSWORD.
"""

import base64
import json
import os
from hashlib import sha256

import requests
from fido2.ctap1 import Ctap1

from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
USER = os.environ["KEYGATE_USER"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_data(typ, challenge, origin):
    return json.dumps({"typ": typ, "challenge": challenge, "origin": origin}).encode()


def api(path, body=None, token=None, method="POST"):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.request(method, URL + path, json=body, headers=headers, timeout=10)


def test_ctap1_enrolls_and_logs_in_through_the_json_api(tmp_path):
    token = Token(tmp_path, "udp").start()
    try:
        ctap1 = Ctap1(token.device())

        first = api("/api/v1/login", {"username": USER, "password": PASSWORD})
        assert first.status_code == 200, first.text
        assert first.json()["second_factor"] == "none"
        session = first.json()["session_token"]

        start = api("/api/v1/keys/register/start", token=session).json()
        cd = client_data("navigator.id.finishEnrollment", start["registerRequests"][0]["challenge"], start["origin"])
        app_param = sha256(start["appId"].encode()).digest()
        registration = ctap1.register(sha256(cd).digest(), app_param)
        registration.verify(app_param, sha256(cd).digest())  # python-fido2's own check
        finish = api("/api/v1/keys/register/finish",
                     {"registrationData": b64(bytes(registration)), "clientData": b64(cd), "name": "ctap1"},
                     token=session)
        assert finish.status_code == 200, finish.text
        assert len(finish.json()["recovery_codes"]) == 10

        login = api("/api/v1/login", {"username": USER, "password": PASSWORD}).json()
        assert login["second_factor"] == "u2f"
        handle = login["registeredKeys"][0]["keyHandle"]
        assert unb64(handle) == registration.key_handle
        cd = client_data("navigator.id.getAssertion", login["challenge"], login["origin"])
        signature = ctap1.authenticate(sha256(cd).digest(), app_param, registration.key_handle)
        signature.verify(app_param, sha256(cd).digest(), registration.public_key)
        body = {"login_id": login["login_id"], "keyHandle": handle,
                "signatureData": b64(bytes(signature)), "clientData": b64(cd)}
        done = api("/api/v1/login/u2f", body)
        assert done.status_code == 200, done.text
        keys = api("/api/v1/keys", token=done.json()["session_token"], method="GET").json()["keys"]
        assert [k["name"] for k in keys] == ["ctap1"]
        assert keys[0]["counter"] == signature.counter

        replay = api("/api/v1/login/u2f", body)
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "challenge_used"
    finally:
        token.stop()
