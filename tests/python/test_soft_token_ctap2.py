"""python-fido2's CTAP2 host drives `keygate soft-token serve --protocol ctap2|both`.

The token runs as the real binary on a UDP or a Unix datagram socket (the
connection of test_soft_token.py). python-fido2's `Ctap2` sends the CBOR
commands and parses the answers itself (canonical CBOR enforced), its
`Fido2Client` runs whole ceremonies that its `Fido2Server` verifies, and its
attestation verifiers check the `packed` statements against the fixture CA.
"""

import os
import signal
from collections import namedtuple
import threading
import time
from hashlib import sha256

import pytest
from cryptography import x509
from fido2.attestation import Attestation, AttestationType, AttestationVerifier, InvalidSignature
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.cose import ES256
from fido2.ctap import STATUS, CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY, CTAPHID
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    AuthenticatorData,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    UserVerificationRequirement,
)

from test_soft_token import APP, FIXTURES, Token, register

RP = {"id": "localhost", "name": "keygate"}
USER = {"id": b"user-1", "name": "alice", "displayName": "Alice"}
ES256_PARAMS = [{"type": "public-key", "alg": ES256.ALGORITHM}]
FLAGS = AuthenticatorData.FLAG
ERR = CtapError.ERR


@pytest.fixture(params=[("udp", "ctap2"), ("unix", "ctap2"), ("udp", "both"), ("unix", "both")],
                ids=lambda p: "-".join(p))
def token(request, tmp_path):
    kind, protocol = request.param
    t = Token(tmp_path, kind, protocol=protocol).start()
    yield t
    if t.proc.poll() is None:
        t.stop()


@pytest.fixture(params=["udp", "unix"])
def both(request, tmp_path):
    """A token that speaks CTAP2 and U2F, the default."""
    t = Token(tmp_path, request.param, protocol="both").start()
    yield t
    if t.proc.poll() is None:
        t.stop()


# A credential as assert_signed needs it (AttestedCredentialData has both).
Credential = namedtuple("Credential", "credential_id public_key")


def descriptor(credential_id):
    return {"type": "public-key", "id": credential_id}


def sec1(cose_key):
    """The uncompressed point U2F uses for a COSE ES256 key."""
    return b"\x04" + cose_key[-2] + cose_key[-3]


def make(ctap2, **kwargs):
    """makeCredential for localhost, checked the way a platform checks it."""
    client_data_hash = os.urandom(32)
    att = ctap2.make_credential(client_data_hash, RP, USER, kwargs.pop("key_params", ES256_PARAMS), **kwargs)
    assert att.fmt == "packed"
    auth_data = att.auth_data
    assert auth_data.rp_id_hash == APP
    assert auth_data.flags & (FLAGS.UP | FLAGS.AT) == FLAGS.UP | FLAGS.AT
    assert not auth_data.flags & (FLAGS.UV | FLAGS.ED)
    credential = auth_data.credential_data
    assert credential.aaguid == ctap2.info.aaguid
    assert 0 < len(credential.credential_id) <= ctap2.info.max_cred_id_length
    assert isinstance(credential.public_key, ES256)
    result = Attestation.for_type("packed")().verify(att.att_stmt, auth_data, client_data_hash)
    assert result.attestation_type == AttestationType.BASIC
    return credential


def assert_signed(ctap2, credential, up=True):
    """getAssertion with `credential` allowed; its counter."""
    client_data_hash = os.urandom(32)
    options = None if up else {"up": False}
    assertion = ctap2.get_assertion(RP["id"], client_data_hash, [descriptor(credential.credential_id)],
                                    options=options)
    assert assertion.credential["id"] == credential.credential_id
    assertion.verify(client_data_hash, credential.public_key)
    assert assertion.auth_data.rp_id_hash == APP
    assert bool(assertion.auth_data.flags & FLAGS.UP) == up
    assert not assertion.auth_data.flags & (FLAGS.AT | FLAGS.ED | FLAGS.UV)
    assert assertion.user is None and assertion.number_of_credentials is None
    return assertion.auth_data.counter


def ctap_error(call, *args, **kwargs):
    with pytest.raises(CtapError) as failed:
        call(*args, **kwargs)
    return failed.value.code


def test_get_info_and_capabilities(token):
    dev = token.device()
    assert dev.capabilities & CAPABILITY.CBOR and dev.capabilities & CAPABILITY.WINK
    info = Ctap2(dev).get_info()
    assert info.aaguid and len(bytes(info.aaguid)) == 16
    assert info.options == {"rk": False, "up": True, "plat": False}
    assert info.max_msg_size == 7609
    assert info.algorithms == [{"alg": -7, "type": "public-key"}]
    assert info.transports == ["usb"]
    assert 61 <= info.max_cred_id_length <= 255
    assert info.pin_uv_protocols == [] and "clientPin" not in info.options
    if token.protocol == "ctap2":
        assert info.versions == ["FIDO_2_0"]
        assert dev.capabilities & CAPABILITY.NMSG
        # No U2F at all: MSG is an unknown command.
        assert ctap_error(dev.call, CTAPHID.MSG, bytes([0, 3, 0, 0, 0])) == ERR.INVALID_COMMAND
        with pytest.raises(CtapError):
            Ctap1(dev).get_version()
    else:
        assert info.versions == ["U2F_V2", "FIDO_2_0"]
        assert not dev.capabilities & CAPABILITY.NMSG
        assert Ctap1(dev).get_version() == "U2F_V2"


def test_a_u2f_token_has_no_ctap2(tmp_path):
    token = Token(tmp_path, "udp", protocol="u2f").start()
    try:
        dev = token.device()
        assert not dev.capabilities & CAPABILITY.CBOR
        with pytest.raises(ValueError):
            Ctap2(dev)
        assert ctap_error(dev.call, CTAPHID.CBOR, b"\x04") == ERR.INVALID_COMMAND
    finally:
        token.stop()


def test_make_credential_and_get_assertion(token):
    ctap2 = Ctap2(token.device())
    credential = make(ctap2)
    first = assert_signed(ctap2, credential)
    assert [assert_signed(ctap2, credential) for _ in range(3)] == [first + 1, first + 2, first + 3]
    # up:false signs without the presence flag, from the same counter.
    assert assert_signed(ctap2, credential, up=False) == first + 4
    # The first allowed credential that belongs to the RP signs.
    other = make(ctap2)
    client_data_hash = os.urandom(32)
    allow = [descriptor(os.urandom(64)), descriptor(other.credential_id), descriptor(credential.credential_id)]
    assertion = ctap2.get_assertion(RP["id"], client_data_hash, allow)
    assert assertion.credential["id"] == other.credential_id
    assertion.verify(client_data_hash, other.public_key)
    assert assertion.auth_data.counter > first + 4


def test_the_attestation_chains_to_the_fixture_ca(token):
    ctap2 = Ctap2(token.device())
    client_data_hash = os.urandom(32)
    att = ctap2.make_credential(client_data_hash, RP, USER, ES256_PARAMS)
    assert att.att_stmt["alg"] == -7
    assert att.att_stmt["x5c"] == [(FIXTURES / "attestation.der").read_bytes()]
    cert = x509.load_der_x509_certificate(att.att_stmt["x5c"][0])
    aaguid = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"))
    assert not aaguid.critical and aaguid.value.value[2:] == bytes(ctap2.info.aaguid)
    # The signature covers authData || clientDataHash: another hash fails.
    packed = Attestation.for_type("packed")()
    packed.verify(att.att_stmt, att.auth_data, client_data_hash)
    with pytest.raises(InvalidSignature):
        packed.verify(att.att_stmt, att.auth_data, os.urandom(32))


class FixtureCa(AttestationVerifier):
    """Trusts the soft token's test CA, as a `trusted-ca` server would."""

    def ca_lookup(self, attestation_result, auth_data):
        return (FIXTURES / "ca.der").read_bytes()


def test_fido2_client_speaks_ctap2_and_fido2_server_verifies(token):
    rp = PublicKeyCredentialRpEntity(name="keygate", id="localhost")
    server = Fido2Server(rp, attestation=AttestationConveyancePreference.DIRECT, verify_attestation=FixtureCa())
    client = Fido2Client(token.device(), DefaultClientDataCollector("http://localhost"), UserInteraction())
    # The CTAP2 backend, not the CTAP1 fallback (which reports only U2F_V2).
    assert "FIDO_2_0" in client.info.versions
    user = PublicKeyCredentialUserEntity(id=b"user-1", name="alice")
    options, state = server.register_begin(user, user_verification=UserVerificationRequirement.DISCOURAGED)
    registration = client.make_credential(options.public_key)
    # The CTAP1 fallback would have built a fido-u2f statement.
    assert registration.response.attestation_object.fmt == "packed"
    auth_data = server.register_complete(state, registration)
    credentials = [auth_data.credential_data]
    counters = []
    for _ in range(2):
        options, state = server.authenticate_begin(credentials,
                                                   user_verification=UserVerificationRequirement.DISCOURAGED)
        assertion = client.get_assertion(options.public_key)
        response = assertion.get_response(0)
        server.authenticate_complete(state, credentials, response)
        assert response.response.authenticator_data.is_user_present()
        counters.append(response.response.authenticator_data.counter)
    assert counters[1] > counters[0] >= 1
    # A second registration with the first credential excluded is refused.
    options, state = server.register_begin(user, credentials,
                                           user_verification=UserVerificationRequirement.DISCOURAGED)
    with pytest.raises(ClientError) as excluded:
        client.make_credential(options.public_key)
    assert excluded.value.code == ClientError.ERR.DEVICE_INELIGIBLE
    assert excluded.value.cause.code == ERR.CREDENTIAL_EXCLUDED


def test_one_credential_and_one_counter_for_ctap2_and_u2f(both):
    dev = both.device()
    ctap2, ctap1 = Ctap2(dev), Ctap1(dev)
    # Made over CTAP2, used over U2F.
    credential = make(ctap2)
    c1 = assert_signed(ctap2, credential)
    client = os.urandom(32)
    sig = ctap1.authenticate(client, APP, credential.credential_id)
    sig.verify(APP, client, sec1(credential.public_key))
    assert sig.counter == c1 + 1
    # Made over U2F, used over CTAP2.
    reg = register(ctap1)
    u2f_credential = Credential(reg.key_handle, ES256.from_ctap1(reg.public_key))
    assert assert_signed(ctap2, u2f_credential) == c1 + 2
    client = os.urandom(32)
    sig = ctap1.authenticate(client, APP, reg.key_handle)
    sig.verify(APP, client, reg.public_key)
    assert sig.counter == c1 + 3
    assert assert_signed(ctap2, credential) == c1 + 4
    # Excluding the U2F key handle refuses a CTAP2 registration too.
    assert ctap_error(ctap2.make_credential, os.urandom(32), RP, USER, ES256_PARAMS,
                      exclude_list=[descriptor(reg.key_handle)]) == ERR.CREDENTIAL_EXCLUDED


def test_a_credential_outlives_a_change_of_protocol(tmp_path):
    token = Token(tmp_path, "unix", protocol="ctap2").start()
    ctap2 = Ctap2(token.device())
    credential = make(ctap2)
    before = assert_signed(ctap2, credential)
    token.stop()
    token.protocol = "u2f"
    token.start()
    client = os.urandom(32)
    sig = Ctap1(token.device()).authenticate(client, APP, credential.credential_id)
    sig.verify(APP, client, sec1(credential.public_key))
    assert sig.counter == before + 1
    token.stop()
    token.protocol = "ctap2"
    token.start()
    try:
        assert assert_signed(Ctap2(token.device()), credential) == before + 2
    finally:
        token.stop()


def test_error_statuses(token):
    ctap2 = Ctap2(token.device())
    credential = make(ctap2)
    cdh = os.urandom(32)
    # The key already holds an excluded credential (only known ones count).
    assert ctap_error(ctap2.make_credential, cdh, RP, USER, ES256_PARAMS,
                      exclude_list=[descriptor(credential.credential_id)]) == ERR.CREDENTIAL_EXCLUDED
    ctap2.make_credential(cdh, RP, USER, ES256_PARAMS, exclude_list=[descriptor(os.urandom(61))])
    # Resident keys and user verification are not offered.
    assert ctap_error(ctap2.make_credential, cdh, RP, USER, ES256_PARAMS,
                      options={"rk": True}) == ERR.UNSUPPORTED_OPTION
    assert ctap_error(ctap2.make_credential, cdh, RP, USER, ES256_PARAMS,
                      options={"uv": True}) == ERR.UNSUPPORTED_OPTION
    assert ctap_error(ctap2.get_assertion, RP["id"], cdh, [descriptor(credential.credential_id)],
                      options={"uv": True}) == ERR.UNSUPPORTED_OPTION
    # ES256 or nothing; ES256 after an algorithm it lacks is fine.
    rs256 = {"type": "public-key", "alg": -257}
    eddsa = {"type": "public-key", "alg": -8}
    assert ctap_error(ctap2.make_credential, cdh, RP, USER, [rs256, eddsa]) == ERR.UNSUPPORTED_ALGORITHM
    make(ctap2, key_params=[rs256, ES256_PARAMS[0]])
    # Unknown, foreign-RP or no allowed credentials: nothing signs.
    assert ctap_error(ctap2.get_assertion, RP["id"], cdh, [descriptor(os.urandom(61))]) == ERR.NO_CREDENTIALS
    assert ctap_error(ctap2.get_assertion, "example.com", cdh,
                      [descriptor(credential.credential_id)]) == ERR.NO_CREDENTIALS
    assert ctap_error(ctap2.get_assertion, RP["id"], cdh) == ERR.NO_CREDENTIALS
    # A zero-length pinUvAuthParam asks whether a PIN is set: it is not.
    assert ctap_error(ctap2.make_credential, cdh, RP, USER, ES256_PARAMS,
                      pin_uv_param=b"", pin_uv_protocol=1) == ERR.PIN_NOT_SET
    # Requests the parser refuses, straight on the wire.
    dev = ctap2.device
    for payload, status in [(b"\x01\xff", ERR.INVALID_CBOR), (b"\x01", ERR.MISSING_PARAMETER),
                            (b"\x02\xa1\x01\x02", ERR.CBOR_UNEXPECTED_TYPE), (b"\x55", ERR.INVALID_COMMAND)]:
        assert dev.call(CTAPHID.CBOR, payload) == bytes([status]), payload.hex()
    # The token still works.
    assert_signed(ctap2, credential)


def presence_token(tmp_path, protocol="ctap2"):
    return Token(tmp_path, "udp", presence="manual", protocol=protocol).start()


def touched(token, call, hold=0.3):
    """Runs `call(on_keepalive)` in a thread; once the token asks for a touch
    (KEEPALIVE UP-needed) and has waited `hold` seconds, touches it (SIGUSR1).
    Returns what `call` returned, and the KEEPALIVE statuses seen."""
    seen, outcome = [], {}

    def run():
        try:
            outcome["value"] = call(seen.append)
        except Exception as e:  # handed to the test thread
            outcome["error"] = e

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while STATUS.UPNEEDED not in seen:
        assert time.monotonic() < deadline and worker.is_alive(), f"never asked for a touch: {seen} {outcome}"
        time.sleep(0.02)
    time.sleep(hold)
    assert worker.is_alive(), f"answered before the touch: {outcome}"
    token.signal(signal.SIGUSR1)
    worker.join(timeout=10)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], seen


def test_manual_presence_keeps_the_host_informed(tmp_path):
    token = presence_token(tmp_path)
    try:
        ctap2 = Ctap2(token.device())
        cdh = os.urandom(32)
        att, seen = touched(token, lambda ka: ctap2.make_credential(cdh, RP, USER, ES256_PARAMS, on_keepalive=ka))
        assert seen[0] == STATUS.UPNEEDED or seen[:2] == [STATUS.PROCESSING, STATUS.UPNEEDED], seen
        Attestation.for_type("packed")().verify(att.att_stmt, att.auth_data, cdh)
        credential = att.auth_data.credential_data

        # The touch is used up: the next request waits again, and a host
        # that gives up sends CANCEL and gets KEEPALIVE_CANCEL at once.
        seen = []
        event = threading.Event()

        def cancel_when_asked(status):
            seen.append(status)
            if status == STATUS.UPNEEDED:
                event.set()

        started = time.monotonic()
        code = ctap_error(ctap2.get_assertion, RP["id"], os.urandom(32), [descriptor(credential.credential_id)],
                          event=event, on_keepalive=cancel_when_asked)
        assert code == ERR.KEEPALIVE_CANCEL
        assert STATUS.UPNEEDED in seen and time.monotonic() - started < 5

        # up:false needs no touch; a touch given while waiting signs.
        counter = assert_signed(ctap2, credential, up=False)
        cdh = os.urandom(32)
        assertion, _ = touched(token, lambda ka: ctap2.get_assertion(
            RP["id"], cdh, [descriptor(credential.credential_id)], on_keepalive=ka))
        assertion.verify(cdh, credential.public_key)
        assert assertion.auth_data.is_user_present() and assertion.auth_data.counter == counter + 1
    finally:
        token.stop()


class TouchWhenPrompted(UserInteraction):
    """A user who touches the key when the platform asks (prompt_up, which
    python-fido2 calls on KEEPALIVE UP-needed)."""

    def __init__(self, token):
        self.token = token
        self.prompts = 0

    def prompt_up(self):
        self.prompts += 1
        self.token.signal(signal.SIGUSR1)


def test_fido2_client_prompts_for_a_touch_when_the_key_asks(tmp_path):
    token = presence_token(tmp_path)
    try:
        rp = PublicKeyCredentialRpEntity(name="keygate", id="localhost")
        server = Fido2Server(rp)
        user = TouchWhenPrompted(token)
        client = Fido2Client(token.device(), DefaultClientDataCollector("http://localhost"), user)
        options, state = server.register_begin(PublicKeyCredentialUserEntity(id=b"user-2", name="bob"),
                                               user_verification=UserVerificationRequirement.DISCOURAGED)
        credentials = [server.register_complete(state, client.make_credential(options.public_key)).credential_data]
        assert user.prompts == 1
        options, state = server.authenticate_begin(credentials,
                                                   user_verification=UserVerificationRequirement.DISCOURAGED)
        response = client.get_assertion(options.public_key).get_response(0)
        server.authenticate_complete(state, credentials, response)
        assert response.response.authenticator_data.is_user_present()
        assert user.prompts == 2
    finally:
        token.stop()


def test_reset_needs_a_touch_and_forgets_every_credential(tmp_path):
    token = presence_token(tmp_path, protocol="both")
    try:
        dev = token.device()
        ctap2, ctap1 = Ctap2(dev), Ctap1(dev)
        credential, _ = touched(token, lambda ka: make(ctap2, on_keepalive=ka))
        before = assert_signed(ctap2, credential, up=False)
        aaguid = ctap2.info.aaguid

        touched(token, lambda ka: ctap2.reset(on_keepalive=ka))

        assert ctap_error(ctap2.get_assertion, RP["id"], os.urandom(32), [descriptor(credential.credential_id)],
                          options={"up": False}) == ERR.NO_CREDENTIALS
        with pytest.raises(ApduError) as u2f:
            ctap1.authenticate(os.urandom(32), APP, credential.credential_id, check_only=True)
        assert u2f.value.code == APDU.WRONG_DATA
        # The same model of key; the counter never goes back.
        assert Ctap2(dev).get_info().aaguid == aaguid
        fresh, _ = touched(token, lambda ka: make(ctap2, on_keepalive=ka))
        assert assert_signed(ctap2, fresh, up=False) > before
    finally:
        token.stop()


def test_credentials_and_counter_survive_a_restart(token):
    ctap2 = Ctap2(token.device())
    credential = make(ctap2)
    before = assert_signed(ctap2, credential)
    token.stop()
    token.start()
    assert assert_signed(Ctap2(token.device()), credential) == before + 1
