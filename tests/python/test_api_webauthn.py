"""python-fido2's Fido2Client (a CTAP2 host nobody here wrote) makes a
credential on a CTAP2-only soft token and signs in with it through keygate's
WebAuthn endpoints: the server, not python-fido2's own, verifies both.

The Rust side (tests/clients/api_python.rs) starts `keygate serve` with
origin http://localhost:PORT on SQLite or PostgreSQL and a user without a
key, and passes KEYGATE_URL, KEYGATE_USER and KEYGATE_PASSWORD.
"""

import os

import requests
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.webauthn import (
    AuthenticationResponse,
    CredentialRequestOptions,
    CredentialCreationOptions,
    RegistrationResponse,
)

from test_soft_token import Token

URL = os.environ["KEYGATE_URL"]
USER = os.environ["KEYGATE_USER"]
PASSWORD = os.environ["KEYGATE_PASSWORD"]


def api(path, body=None, token=None, method="POST"):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.request(method, URL + path, json=body, headers=headers, timeout=10)


def as_json(response):
    """A python-fido2 response in the `PublicKeyCredential.toJSON()` shape."""
    return dict(response)


def test_fido2_client_enrolls_and_signs_in_through_keygate(tmp_path):
    token = Token(tmp_path, "unix", protocol="ctap2").start()
    try:
        client = Fido2Client(token.device(), DefaultClientDataCollector(URL), UserInteraction())
        assert "FIDO_2_0" in client.info.versions  # CTAP2: the token has U2F switched off

        first = api("/api/v1/login", {"username": USER, "password": PASSWORD})
        assert first.status_code == 200, first.text
        assert first.json()["second_factor"] == "none"
        session = first.json()["session_token"]

        start = api("/api/v1/keys/webauthn/register/start", token=session)
        assert start.status_code == 200, start.text
        options = CredentialCreationOptions.from_dict(start.json())
        registration = client.make_credential(options.public_key)
        assert isinstance(registration, RegistrationResponse)
        assert registration.response.attestation_object.fmt == "packed"
        finish = api("/api/v1/keys/webauthn/register/finish",
                     {"credential": as_json(registration), "name": "fido2"}, token=session)
        assert finish.status_code == 200, finish.text
        assert "CN=keygate soft-token" in finish.json()["attestation_subject"], finish.text
        assert len(finish.json()["recovery_codes"]) == 10

        counters = []
        for _ in range(2):
            login = api("/api/v1/login", {"username": USER, "password": PASSWORD}).json()
            assert login["second_factor"] == "u2f"
            request = CredentialRequestOptions.from_dict({"publicKey": login["publicKey"]})
            assertion = client.get_assertion(request.public_key).get_response(0)
            assert isinstance(assertion, AuthenticationResponse)
            body = {"login_id": login["login_id"], "credential": as_json(assertion)}
            done = api("/api/v1/login/webauthn", body)
            assert done.status_code == 200, done.text
            counters.append(assertion.response.authenticator_data.counter)
            replay = api("/api/v1/login/webauthn", body)
            assert replay.status_code == 409, replay.text
            assert replay.json()["error"]["code"] == "challenge_used"
        assert counters[1] > counters[0]
        keys = api("/api/v1/keys", token=done.json()["session_token"], method="GET").json()["keys"]
        assert [(k["name"], k["counter"]) for k in keys] == [("fido2", counters[1])]
    finally:
        token.stop()
