"""python-fido2's side of the CTAP2 golden tests (tests/verify/ctap2_python.rs).

KEYGATE_CTAP2_CORPUS holds keygate's encodings with the values they carry.
Requests: python-fido2's `Ctap2` is given the same parameters, on a device
that records the CBOR payload it sends; the payloads go to KEYGATE_CTAP2_OUT
for the Rust side to compare byte for byte. Responses: python-fido2 decodes
keygate's bytes, every field is checked, signatures verified, and its
canonical encoding of what it decoded must be keygate's bytes.
"""

import json
import os
from hashlib import sha256

import pytest
from cryptography import x509
from fido2 import cbor
from fido2.attestation import Attestation, AttestationType
from fido2.cose import ES256
from fido2.ctap import CtapDevice
from fido2.ctap2 import AssertionResponse, AttestationResponse, Ctap2, Info
from fido2.hid import CAPABILITY, CTAPHID
from fido2.webauthn import AttestationObject

CORPUS = json.loads(open(os.environ["KEYGATE_CTAP2_CORPUS"]).read())
OUT = os.environ["KEYGATE_CTAP2_OUT"]
H = bytes.fromhex


class Recorder(CtapDevice):
    """A CTAPHID device that records the CBOR payloads python-fido2 sends and
    answers each command with keygate's encoding of a successful response."""

    def __init__(self, answers):
        self.answers = answers
        self.sent = []

    @property
    def capabilities(self):
        return CAPABILITY.CBOR

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        assert cmd == CTAPHID.CBOR
        self.sent.append(bytes(data))
        return b"\x00" + self.answers[data[0]]

    def close(self):
        pass

    @classmethod
    def list_devices(cls):
        return iter(())


def sec1(cose_key):
    return b"\x04" + cose_key[-2] + cose_key[-3]


def opt(value, convert=lambda v: v):
    return None if value is None else convert(value)


def send(ctap2, case):
    """Calls the Ctap2 method for `case` with its parameters."""
    kind = case["kind"]
    if kind == "get_info":
        ctap2.get_info()
    elif kind == "reset":
        ctap2.reset()
    elif kind == "make_credential":
        user = dict(case["user"], id=H(case["user"]["id"]))
        key_params = [{"type": "public-key", "alg": alg} for alg in case["algorithms"]]
        exclude = [{"type": "public-key", "id": H(i)} for i in case["exclude_list"]] or None
        ctap2.make_credential(H(case["client_data_hash"]), case["rp"], user, key_params, exclude, None,
                              case["options"], opt(case["pin_uv_param"], H), case["pin_uv_protocol"])
    elif kind == "get_assertion":
        allow = [{"type": "public-key", "id": H(i)} for i in case["allow_list"]] or None
        ctap2.get_assertion(case["rp_id"], H(case["client_data_hash"]), allow, None, case["options"],
                            opt(case["pin_uv_param"], H), case["pin_uv_protocol"])
    else:
        raise AssertionError(kind)


def test_requests_as_python_fido2_sends_them():
    answers = {
        Ctap2.CMD.GET_INFO: H(CORPUS["get_info"][0]["body"]),
        Ctap2.CMD.MAKE_CREDENTIAL: H(CORPUS["make_credential"][0]["body"]),
        Ctap2.CMD.GET_ASSERTION: H(CORPUS["get_assertion"][0]["body"]),
        Ctap2.CMD.RESET: b"",
    }
    device = Recorder(answers)
    ctap2 = Ctap2(device)  # strict: keygate's answers must be canonical
    sent = {}
    for case in CORPUS["requests"]:
        before = len(device.sent)
        send(ctap2, case)
        assert len(device.sent) == before + 1, case["name"]
        sent[case["name"]] = device.sent[-1].hex()
        # The Rust side compares too, with keygate's parser on top; a
        # difference shows here first, as a CBOR diff.
        assert device.sent[-1] == H(case["keygate"]), (
            case["name"], cbor.decode(device.sent[-1][1:] or b"\xa0"), cbor.decode(H(case["keygate"])[1:] or b"\xa0"))
    with open(OUT, "w") as out:
        json.dump(sent, out)


def decoded(body):
    """cbor.decode, with python-fido2's canonical encoding checked equal."""
    value = cbor.decode(body)
    assert cbor.encode(value) == body, "not canonical"
    return value


@pytest.mark.parametrize("case", CORPUS["get_info"], ids=lambda c: c["name"])
def test_get_info(case):
    info = Info.from_dict(decoded(H(case["body"])))
    assert info.versions == case["versions"]
    assert info.extensions == case["extensions"]
    assert bytes(info.aaguid) == H(case["aaguid"])
    assert info.options == case["options"]
    # python-fido2 fills what a key leaves out with the specification's defaults.
    assert info.max_msg_size == (case["max_msg_size"] or 1024)
    assert info.pin_uv_protocols == case["pin_uv_protocols"]
    assert info.max_creds_in_list == (case["max_creds_in_list"] or 0)
    assert info.max_cred_id_length == (case["max_cred_id_length"] or 0)
    assert info.transports == case["transports"]
    assert info.algorithms == [{"alg": alg, "type": "public-key"} for alg in case["algorithms"]]


@pytest.mark.parametrize("case", CORPUS["make_credential"], ids=lambda c: c["name"])
def test_make_credential_response(case):
    att = AttestationResponse.from_dict(decoded(H(case["body"])))
    assert att.fmt == "packed"
    auth_data = att.auth_data
    assert bytes(auth_data) == H(case["auth_data"])
    assert auth_data.rp_id_hash == sha256(b"localhost").digest()
    assert auth_data.flags == case["flags"] and auth_data.counter == case["sign_count"]
    credential = auth_data.credential_data
    assert bytes(credential.aaguid) == H(case["aaguid"])
    assert credential.credential_id == H(case["credential_id"])
    assert isinstance(credential.public_key, ES256) and sec1(credential.public_key) == H(case["public_key"])
    if case["extensions"] is None:
        assert auth_data.extensions is None
    else:
        assert cbor.encode(auth_data.extensions) == H(case["extensions"])
    x5c = [H(c) for c in case["x5c"]]
    assert att.att_stmt == ({"alg": -7, "sig": H(case["sig"]), "x5c": x5c} if x5c
                            else {"alg": -7, "sig": H(case["sig"])})
    assert att.ep_att is None and att.large_blob_key is None
    cdh = H(case["client_data_hash"])
    if x5c:
        # The test PKI's certificate is not a packed one (no OU "Authenticator
        # Attestation"): the signature is checked with its key directly.
        key = ES256.from_cryptography_key(x509.load_der_x509_certificate(x5c[0]).public_key())
        key.verify(bytes(auth_data) + cdh, att.att_stmt["sig"])
    else:
        result = Attestation.for_type("packed")().verify(att.att_stmt, auth_data, cdh)
        assert result.attestation_type == AttestationType.SELF
    # The WebAuthn attestation object a browser would hand the server.
    obj = AttestationObject(H(case["attestation_object"]))
    assert (obj.fmt, obj.auth_data, obj.att_stmt) == (att.fmt, auth_data, att.att_stmt)
    assert AttestationObject.create(att.fmt, auth_data, att.att_stmt) == H(case["attestation_object"])


@pytest.mark.parametrize("case", CORPUS["get_assertion"], ids=lambda c: c["name"])
def test_get_assertion_response(case):
    assertion = AssertionResponse.from_dict(decoded(H(case["body"])))
    assert dict(assertion.credential) == {"id": H(case["credential_id"]), "type": "public-key"}
    assert bytes(assertion.auth_data) == H(case["auth_data"])
    assert assertion.auth_data.flags == case["flags"] and assertion.auth_data.counter == case["sign_count"]
    assert assertion.auth_data.credential_data is None and assertion.auth_data.extensions is None
    assert assertion.signature == H(case["signature"])
    assert assertion.user == opt(case["user_id"], lambda u: {"id": H(u)})
    assert assertion.number_of_credentials == case["number_of_credentials"]
    assertion.verify(H(case["client_data_hash"]), ES256.from_ctap1(H(case["public_key"])))
