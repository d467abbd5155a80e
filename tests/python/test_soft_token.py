"""python-fido2, a CTAPHID host nobody here wrote, drives `keygate soft-token`.

The token runs as the real binary (KEYGATE_BIN) on a UDP or a Unix datagram
socket; python-fido2 talks to it through a CtapHidConnection whose packets are
datagrams. Every check here is python-fido2's own parsing and verification.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from hashlib import sha256
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.hid import CAPABILITY, CTAPHID, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    UserVerificationRequirement,
)

KEYGATE = os.environ["KEYGATE_BIN"]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "soft-token"
REPORT = 64
APP = sha256(b"localhost").digest()


class DatagramConnection(CtapHidConnection):
    """One CTAPHID report per datagram, to the token's socket."""

    def __init__(self, family, address, bind=None):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        if bind is not None:
            self.sock.bind(bind)
        self.sock.settimeout(5)
        self.address = address
        self.bound = bind if family == socket.AF_UNIX else None

    def write_packet(self, data):
        assert len(data) == REPORT
        self.sock.sendto(data, self.address)

    def read_packet(self):
        return self.sock.recv(REPORT)

    def close(self):
        self.sock.close()
        if self.bound:
            os.unlink(self.bound)


class Token:
    """A `keygate soft-token serve` process, restartable on the same state."""

    def __init__(self, tmp_path, kind, presence="auto", state=None, protocol=None):
        self.tmp = tmp_path
        self.kind = kind
        self.presence = presence
        self.protocol = protocol
        self.state = state or tmp_path / "token.json"
        self.proc = None
        self.clients = 0
        if kind == "udp":
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", 0))
            self.address = probe.getsockname()
            probe.close()
            self.listen = "udp:%s:%d" % self.address
        else:
            self.address = str(tmp_path / "token.sock")
            self.listen = "unix:" + self.address

    def start(self):
        self.log = open(self.tmp / "token.log", "ab")
        protocol = ["--protocol", self.protocol] if self.protocol else []
        self.proc = subprocess.Popen(
            [KEYGATE, "soft-token", "serve", "--state", str(self.state), "--listen", self.listen,
             "--presence", self.presence, *protocol],
            stdout=self.log, stderr=self.log,
        )
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.logs()
            try:
                self.device(timeout=0.2).close()
                return self
            except (OSError, socket.timeout):
                assert time.monotonic() < deadline, "token never answered INIT:\n" + self.logs()
                time.sleep(0.05)

    def logs(self):
        return (self.tmp / "token.log").read_text(errors="replace")

    def connection(self, timeout=5):
        if self.kind == "udp":
            conn = DatagramConnection(socket.AF_INET, self.address)
        else:
            self.clients += 1
            path = str(self.tmp / ("host%d.sock" % self.clients))
            conn = DatagramConnection(socket.AF_UNIX, self.address, bind=path)
        conn.sock.settimeout(timeout)
        return conn

    def device(self, timeout=5):
        conn = self.connection(timeout)
        descriptor = HidDescriptor(self.listen, 0, 0, REPORT, REPORT, "keygate soft token", None)
        try:
            return CtapHidDevice(descriptor, conn)
        except BaseException:
            conn.close()
            raise

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self.log.close()

    def signal(self, sig):
        self.proc.send_signal(sig)


@pytest.fixture(params=["udp", "unix"])
def token(request, tmp_path):
    t = Token(tmp_path, request.param).start()
    yield t
    if t.proc.poll() is None:
        t.stop()


def register(ctap1, app=APP):
    client = os.urandom(32)
    reg = ctap1.register(client, app)
    reg.verify(app, client)
    return reg


def authenticate(ctap1, reg, app=APP):
    client = os.urandom(32)
    sig = ctap1.authenticate(client, app, reg.key_handle)
    sig.verify(app, client, reg.public_key)
    assert sig.user_presence & 1
    return sig.counter


def test_init_ping_and_wink(token):
    dev = token.device()
    assert dev.version == 2
    assert dev.capabilities & CAPABILITY.WINK
    # By default a FIDO2 key with U2F on (test_soft_token_ctap2.py drives its CTAP2 side).
    assert dev.capabilities & CAPABILITY.CBOR and not dev.capabilities & CAPABILITY.NMSG
    assert dev.ping(b"\x01") == b"\x01"
    big = os.urandom(7000)
    assert dev.ping(big) == big
    dev.wink()
    assert "wink" in token.logs()
    dev.close()


def test_ctap1_register_and_authenticate(token):
    ctap1 = Ctap1(token.device())
    assert ctap1.get_version() == "U2F_V2"
    reg = register(ctap1)
    assert reg.certificate == (FIXTURES / "attestation.der").read_bytes()
    cert = x509.load_der_x509_certificate(reg.certificate)
    assert cert.version == x509.Version.v3
    ca = x509.load_pem_x509_certificate((FIXTURES / "ca.pem").read_bytes())
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    first = authenticate(ctap1, reg)
    assert [authenticate(ctap1, reg) for _ in range(3)] == [first + 1, first + 2, first + 3]
    # "Don't enforce presence" signs too, with the presence flag clear.
    client = os.urandom(32)
    data = client + APP + bytes([len(reg.key_handle)]) + reg.key_handle
    raw = ctap1.send_apdu(ins=Ctap1.INS.AUTHENTICATE, p1=0x08, data=data)
    assert raw[0] == 0 and struct.unpack(">I", raw[1:5])[0] == first + 4


def test_check_only_and_foreign_key_handles(token):
    ctap1 = Ctap1(token.device())
    reg = register(ctap1)
    with pytest.raises(ApduError) as known:
        ctap1.authenticate(os.urandom(32), APP, reg.key_handle, check_only=True)
    assert known.value.code == APDU.USE_NOT_SATISFIED
    other = sha256(b"https://other.example").digest()
    for check_only in (True, False):
        with pytest.raises(ApduError) as foreign:
            ctap1.authenticate(os.urandom(32), other, reg.key_handle, check_only=check_only)
        assert foreign.value.code == APDU.WRONG_DATA
    with pytest.raises(ApduError) as forged:
        ctap1.authenticate(os.urandom(32), APP, os.urandom(61))
    assert forged.value.code == APDU.WRONG_DATA


def test_unknown_instruction_and_class(token):
    ctap1 = Ctap1(token.device())
    with pytest.raises(ApduError) as ins:
        ctap1.send_apdu(ins=0x40)
    assert ins.value.code == 0x6D00
    with pytest.raises(ApduError) as cla:
        ctap1.send_apdu(cla=0x80, ins=Ctap1.INS.VERSION)
    assert cla.value.code == 0x6E00
    with pytest.raises(ApduError) as length:
        ctap1.send_apdu(ins=Ctap1.INS.REGISTER, data=b"\0" * 10)
    assert length.value.code == 0x6700


def test_counter_survives_a_restart(token):
    ctap1 = Ctap1(token.device())
    reg = register(ctap1)
    before = authenticate(ctap1, reg)
    token.stop()
    token.start()
    assert authenticate(Ctap1(token.device()), reg) == before + 1


def test_kill_9_never_repeats_a_counter(token):
    ctap1 = Ctap1(token.device(timeout=1))
    reg = register(ctap1)
    seen = []

    def hammer():
        try:
            while True:
                seen.append(authenticate(ctap1, reg))
        except Exception:  # the token died under us
            pass

    worker = threading.Thread(target=hammer)
    worker.start()
    time.sleep(1.0)
    token.stop(signal.SIGKILL)
    worker.join(timeout=20)
    assert len(seen) > 3, token.logs()
    token.start()
    after = authenticate(Ctap1(token.device()), reg)
    assert after > max(seen), (after, max(seen))


def test_several_hosts_on_their_own_channels(token):
    a, b = token.device(), token.device()
    assert a._channel_id != b._channel_id
    ca, cb = Ctap1(a), Ctap1(b)
    reg_a, reg_b = register(ca), register(cb)
    c1 = authenticate(ca, reg_a)
    c2 = authenticate(cb, reg_b)
    assert c2 == c1 + 1
    assert a.ping(b"a" * 300) == b"a" * 300 and b.ping(b"b" * 300) == b"b" * 300


def test_a_busy_token_answers_other_channels_with_channel_busy(token):
    a, b = token.device(), token.device()
    # Host A starts a long PING and stops after its first packet.
    header = struct.pack(">IBH", a._channel_id, 0x80 | CTAPHID.PING, 500)
    a._connection.write_packet((header + b"x" * 57).ljust(REPORT, b"\0"))
    b_header = struct.pack(">IBH", b._channel_id, 0x80 | CTAPHID.PING, 1)
    b._connection.write_packet((b_header + b"y").ljust(REPORT, b"\0"))
    reply = b._connection.read_packet()
    assert struct.unpack(">IBHB", reply[:8]) == (b._channel_id, 0x80 | CTAPHID.ERROR, 1, 0x06)
    # A spurious continuation from B is ignored; A finishes and gets its echo.
    b._connection.write_packet(struct.pack(">IB", b._channel_id, 0).ljust(REPORT, b"\0"))
    for seq in range(8):
        a._connection.write_packet((struct.pack(">IB", a._channel_id, seq) + b"x" * 59).ljust(REPORT, b"\0"))
    first = a._connection.read_packet()
    assert struct.unpack(">IBH", first[:7]) == (a._channel_id, 0x80 | CTAPHID.PING, 500)
    for _ in range(8):
        a._connection.read_packet()
    assert b.ping(b"free") == b"free"


def test_ctaphid_errors_reach_the_host(token):
    dev = token.device()
    with pytest.raises(CtapError) as unknown:
        dev.call(0x55)
    assert unknown.value.code == CtapError.ERR.INVALID_COMMAND
    conn = token.connection()
    conn.write_packet(struct.pack(">IBH", 0x7777, 0x80 | CTAPHID.PING, 1).ljust(REPORT, b"\0"))
    assert conn.read_packet()[4:8] == bytes([0x80 | CTAPHID.ERROR, 0, 1, 0x0B])
    conn.close()


def test_manual_presence_is_polled_until_approved(tmp_path):
    token = Token(tmp_path, "udp", presence="manual").start()
    try:
        ctap1 = Ctap1(token.device())
        polls = []
        result = {}

        def poll():
            client = os.urandom(32)
            while True:
                try:
                    result["reg"] = ctap1.register(client, APP)
                    result["client"] = client
                    return
                except ApduError as e:
                    polls.append(e.code)
                    time.sleep(0.1)

        worker = threading.Thread(target=poll)
        worker.start()
        time.sleep(0.5)
        assert polls and set(polls) == {APDU.USE_NOT_SATISFIED}
        token.signal(signal.SIGUSR1)
        worker.join(timeout=10)
        result["reg"].verify(APP, result["client"])
        # The touch is used up: the next signature needs another one.
        with pytest.raises(ApduError) as held:
            ctap1.authenticate(os.urandom(32), APP, result["reg"].key_handle)
        assert held.value.code == APDU.USE_NOT_SATISFIED
    finally:
        token.stop()


@pytest.mark.parametrize("kind", ["udp", "unix"])
def test_fido2_client_falls_back_to_ctap1(tmp_path, kind):
    """A U2F-only token: Fido2Client finds no CBOR and speaks CTAP1."""
    token = Token(tmp_path, kind, protocol="u2f").start()
    try:
        rp = PublicKeyCredentialRpEntity(name="keygate", id="localhost")
        server = Fido2Server(rp)
        client = Fido2Client(token.device(), DefaultClientDataCollector("http://localhost"), UserInteraction())
        assert client.info.versions == ["U2F_V2"]
        user = PublicKeyCredentialUserEntity(id=b"user-1", name="alice")
        options, state = server.register_begin(user, user_verification=UserVerificationRequirement.DISCOURAGED)
        registration = client.make_credential(options.public_key)
        assert registration.response.attestation_object.fmt == "fido-u2f"
        auth_data = server.register_complete(state, registration)
        credentials = [auth_data.credential_data]
        assert len(credentials[0].credential_id) == 61
        options, state = server.authenticate_begin(credentials,
                                                   user_verification=UserVerificationRequirement.DISCOURAGED)
        assertion = client.get_assertion(options.public_key)
        response = assertion.get_response(0)
        server.authenticate_complete(state, credentials, response)
        assert response.response.authenticator_data.counter >= 1
    finally:
        token.stop()


def run_keygate(*args, stdin=None):
    return subprocess.run([KEYGATE, "soft-token", *args], input=stdin, capture_output=True, check=True, text=True)


def test_export_to_chromium_shape_and_import_back(tmp_path):
    token = Token(tmp_path, "udp").start()
    ctap1 = Ctap1(token.device())
    reg = register(ctap1)
    counter = authenticate(ctap1, reg)
    token.stop()

    from fido2.utils import websafe_encode
    import base64

    out = run_keygate("export-credential", "--state", str(token.state), "--rp-id", "localhost",
                      "--key-handle", websafe_encode(reg.key_handle))
    exported = json.loads(out.stdout)
    assert set(exported) == {"credentialId", "isResidentCredential", "rpId", "privateKey", "signCount"}
    assert exported["isResidentCredential"] is False and exported["rpId"] == "localhost"
    assert base64.b64decode(exported["credentialId"]) == reg.key_handle
    assert exported["signCount"] == counter
    key = serialization.load_der_private_key(base64.b64decode(exported["privateKey"]), None)
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert public == reg.public_key
    for wrong in (["--rp-id", "example.com", "--key-handle", websafe_encode(reg.key_handle)],
                  ["--rp-id", "localhost", "--key-handle", websafe_encode(os.urandom(61))]):
        failed = subprocess.run([KEYGATE, "soft-token", "export-credential", "--state", str(token.state), *wrong],
                                capture_output=True, text=True)
        assert failed.returncode == 1 and "does not belong" in failed.stderr, failed.stderr

    # A credential made elsewhere (here: a fresh key, as Chromium's
    # getCredentials would return it) is answered for by a new token.
    other = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(48)
    chromium = {"credentials": [{
        "credentialId": base64.b64encode(credential_id).decode(),
        "isResidentCredential": False,
        "rpId": "localhost",
        "privateKey": base64.b64encode(other.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode(),
        "signCount": 41,
        "userHandle": "",
    }]}
    second = tmp_path / "second"
    second.mkdir()
    imported = Token(second, "unix")
    run_keygate("import-credential", "--state", str(imported.state), stdin=json.dumps(chromium))
    state_text = imported.state.read_text()
    imported.start()
    try:
        ctap1 = Ctap1(imported.device())
        client = os.urandom(32)
        sig = ctap1.authenticate(client, APP, credential_id)
        sig.verify(APP, client, other.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        assert sig.counter == 42
        with pytest.raises(ApduError) as foreign:
            ctap1.authenticate(client, sha256(b"example.com").digest(), credential_id)
        assert foreign.value.code == APDU.WRONG_DATA
    finally:
        imported.stop()
    assert json.loads(state_text)["counter"] == 41
    # No secret in the logs.
    logs = imported.logs() + token.logs()
    assert exported["privateKey"] not in logs and json.loads(state_text)["master_key"] not in logs
