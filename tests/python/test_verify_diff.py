"""Differential test: python-fido2 and keygate's verification core agree on
signature validity for a corpus of valid and mutated U2F messages.

The corpus is a JSON file written by tests/verify/verify_python.rs, named by
KEYGATE_VERIFY_CORPUS. Each case carries keygate's verdict; python-fido2
(RegistrationData.verify / SignatureData.verify) gives its own. Only the
signature verdict is compared: python-fido2 checks neither user presence nor
counters nor client data.
"""

import json
import os

import pytest
from fido2.ctap1 import RegistrationData, SignatureData


def load_corpus():
    path = os.environ.get("KEYGATE_VERIFY_CORPUS")
    if not path:
        pytest.fail("KEYGATE_VERIFY_CORPUS is not set: run through cargo test --test verify verify_python")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fido2_verdict(case):
    data = bytes.fromhex(case["data"])
    app_param = bytes.fromhex(case["app_param"])
    client_param = bytes.fromhex(case["challenge_param"])
    try:
        if case["kind"] == "registration":
            RegistrationData(data).verify(app_param, client_param)
        else:
            SignatureData(data).verify(app_param, client_param, bytes.fromhex(case["public_key"]))
    except Exception:  # noqa: BLE001 - any refusal (parse or signature) is "invalid"
        return False
    return True


def test_corpus_is_meaningful():
    corpus = load_corpus()
    kinds = {(c["kind"], c["keygate_valid"]) for c in corpus}
    for kind in ("registration", "authentication"):
        assert (kind, True) in kinds, f"no valid {kind} in the corpus"
        assert (kind, False) in kinds, f"no invalid {kind} in the corpus"


def test_signature_verdicts_agree():
    corpus = load_corpus()
    disagreements = [
        f"{c['name']}: keygate={c['keygate_valid']} fido2={not c['keygate_valid']}"
        for c in corpus
        if fido2_verdict(c) != c["keygate_valid"]
    ]
    assert not disagreements, f"{len(disagreements)} of {len(corpus)} cases disagree:\n" + "\n".join(
        disagreements[:50]
    )
