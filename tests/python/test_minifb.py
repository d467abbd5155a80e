"""minifb 1.3, a real third-party client of the legacy REST API, against a
running keygate: createToken, sign-in, getSession, a signed session call,
expireSession, and the ended session refused with error 102.

The sign-in is `complete_login`: today the Rust side binds the auth_token
through the store when asked over a file handshake (KEYGATE_LOGIN_DIR);
a browser or python-fido2 driving login.php can take its place without
touching the rest of the flow.
"""

import os
import pathlib
import time

import pytest

import minifb_py3

SERVER = os.environ["KEYGATE_URL"]
API_KEY = os.environ["KEYGATE_API_KEY"]
SECRET = os.environ["KEYGATE_SECRET"]
UID = int(os.environ["KEYGATE_UID"])


def complete_login(auth_token):
    """Signs the test user in for auth_token, as login.php would."""
    handshake = pathlib.Path(os.environ["KEYGATE_LOGIN_DIR"])
    (handshake / "auth_token.tmp").write_text(auth_token)
    (handshake / "auth_token.tmp").rename(handshake / "auth_token")
    deadline = time.monotonic() + 30
    while not (handshake / "bound").exists():
        assert time.monotonic() < deadline, "the login was not completed"
        time.sleep(0.02)


@pytest.fixture
def fb():
    return minifb_py3.load(SERVER + "/restserver.php")


def test_desktop_flow(fb):
    secret = fb.FacebookSecret(SECRET)
    auth_token = fb.call("facebook.auth.createToken", API_KEY, secret)
    assert isinstance(auth_token, str) and len(auth_token) == 32

    with pytest.raises(fb.FacebookError) as refused:
        fb.call("facebook.auth.getSession", API_KEY, secret, auth_token=auth_token)
    assert refused.value.error_code == 100  # the login is not complete yet

    complete_login(auth_token)
    session = fb.call("facebook.auth.getSession", API_KEY, secret, auth_token=auth_token,
                      generate_session_secret=1)
    assert session["uid"] == UID
    assert session["expires"] > time.time() + 23 * 3600
    session_key = session["session_key"]

    # Signed with the app secret, then with the session secret (ss=1).
    assert fb.call("facebook.users.getLoggedInUser", API_KEY, secret, session_key=session_key) == UID
    session_secret = fb.FacebookSecret(session["secret"])
    assert fb.call("facebook.users.getLoggedInUser", API_KEY, session_secret,
                   session_key=session_key, ss=1) == UID
    # minifb's own call_id counter: a repeated number is refused.
    with pytest.raises(fb.FacebookError) as replay:
        fb.call("facebook.users.getLoggedInUser", API_KEY, secret, session_key=session_key, call_id=1)
    assert replay.value.error_code == 103

    # The auth_token was consumed.
    with pytest.raises(fb.FacebookError) as again:
        fb.call("facebook.auth.getSession", API_KEY, secret, auth_token=auth_token)
    assert again.value.error_code == 100

    # XML, as minifb returns it raw when a format is named.
    xml = fb.call("facebook.users.getLoggedInUser", API_KEY, secret, session_key=session_key, format="XML")
    assert b"<users_getLoggedInUser_response" in xml and str(UID).encode() in xml

    assert fb.call("facebook.auth.expireSession", API_KEY, secret, session_key=session_key) is True
    with pytest.raises(fb.FacebookError) as ended:
        fb.call("facebook.users.getLoggedInUser", API_KEY, secret, session_key=session_key)
    assert ended.value.error_code == 102
    # A wrong secret is refused before anything else.
    with pytest.raises(fb.FacebookError) as forged:
        fb.call("facebook.auth.createToken", API_KEY, fb.FacebookSecret("0" * 32))
    assert forged.value.error_code == 104
