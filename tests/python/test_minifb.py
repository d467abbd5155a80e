"""minifb 1.3, a real third-party client of the legacy REST API, against a
running keygate: createToken, login.php completed over HTTP by python-fido2
with the soft token (DESIGN §5), getSession, a signed session call,
expireSession, and the ended session refused with error 102.
"""

import os
import time
from urllib.parse import urlencode

import pytest
import requests

import minifb_py3

SERVER = os.environ["KEYGATE_URL"]
API_KEY = os.environ["KEYGATE_API_KEY"]
SECRET = os.environ["KEYGATE_SECRET"]
UID = int(os.environ["KEYGATE_UID"])
NEXT = os.environ["KEYGATE_NEXT"]


@pytest.fixture
def fb():
    return minifb_py3.load(SERVER + "/restserver.php")




def complete_login(alice, auth_token, **extra):
    """What a person does at login.php: the page, then password and key."""
    query = {"api_key": API_KEY, "auth_token": auth_token, **extra}
    page = requests.get(SERVER + "/login.php?" + urlencode(query), timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.text
    assert "minifb" in page.text  # the page names the app asking
    return alice.sign_in_for({"legacy": query})


def test_desktop_flow(fb, alice):
    secret = fb.FacebookSecret(SECRET)
    auth_token = fb.call("facebook.auth.createToken", API_KEY, secret)
    assert isinstance(auth_token, str) and len(auth_token) == 32

    with pytest.raises(fb.FacebookError) as refused:
        fb.call("facebook.auth.getSession", API_KEY, secret, auth_token=auth_token)
    assert refused.value.error_code == 100  # the login is not complete yet

    assert complete_login(alice, auth_token, next=NEXT + "/after") == NEXT + "/after"
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


def test_login_php_refuses_what_it_cannot_bind(fb, alice):
    secret = fb.FacebookSecret(SECRET)
    auth_token = fb.call("facebook.auth.createToken", API_KEY, secret)
    # next on a host the app did not register: the done page instead.
    assert complete_login(alice, auth_token, next="https://evil.example/x") == "/login.php/done"
    assert "close this window" in requests.get(SERVER + "/login.php/done", timeout=10).text
    # The token is bound now: a second sign-in for it is refused at once.
    again = alice.start({"legacy": {"api_key": API_KEY, "auth_token": auth_token}})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_request"
    unknown = alice.start({"legacy": {"api_key": API_KEY, "auth_token": "0" * 32}})
    assert unknown.status_code == 400, unknown.text
    page = requests.get(SERVER + "/login.php?" + urlencode({"api_key": "nope", "auth_token": auth_token}), timeout=10)
    assert page.status_code == 400 and "Unknown application" in page.text
    # Extended permissions granted at sign-in can be revoked one by one.
    auth_token = fb.call("facebook.auth.createToken", API_KEY, secret)
    complete_login(alice, auth_token, req_perms="email,offline_access")
    session = fb.call("facebook.auth.getSession", API_KEY, secret, auth_token=auth_token)
    assert fb.call("facebook.auth.revokeExtendedPermission", API_KEY, secret,
                   session_key=session["session_key"], perm="email") is True
    assert fb.call("facebook.auth.revokeAuthorization", API_KEY, secret, session_key=session["session_key"]) is True
    with pytest.raises(fb.FacebookError) as ended:
        fb.call("facebook.users.getLoggedInUser", API_KEY, secret, session_key=session["session_key"])
    assert ended.value.error_code == 102
