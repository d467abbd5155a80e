"""facebook-sdk 3.1.0, a real third-party Graph client, against a running
keygate (DESIGN §2): the OAuth dialog completed over HTTP by python-fido2 with
the soft token (§5), the code exchanged, the token extended, /me read,
debug_token before and after DELETE /me/permissions, an app token, and a
client code traded for a machine token.
"""

import os
from urllib.parse import parse_qs, urlparse

import facebook
import pytest
import requests


SERVER = os.environ["KEYGATE_URL"]
APP_ID = os.environ["KEYGATE_APP_ID"]
SECRET = os.environ["KEYGATE_APP_SECRET"]
REDIRECT = os.environ["KEYGATE_REDIRECT_URI"]
UID = os.environ["KEYGATE_UID"]

facebook.FACEBOOK_GRAPH_URL = SERVER + "/"
facebook.FACEBOOK_WWW_URL = SERVER + "/"




def dialog_code(alice, **extra):
    """The dialog as a browser sees it, then password and key through §5."""
    graph = facebook.GraphAPI(version="3.1")
    url = graph.get_auth_url(APP_ID, REDIRECT, perms=["email"], state="st-123", **extra)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Sign in" in page.text, page.text
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    redirect_to = alice.sign_in_for({"oauth": {
        "client_id": query["client_id"], "redirect_uri": query["redirect_uri"],
        "state": query["state"], "scope": query["scope"]}})
    assert redirect_to.startswith(REDIRECT + "?"), redirect_to
    back = parse_qs(urlparse(redirect_to).query)
    assert back["state"] == ["st-123"]
    return back["code"][0]


def test_the_whole_token_life(alice):
    code = dialog_code(alice)
    short = facebook.GraphAPI(version="3.1").get_access_token_from_code(code, REDIRECT, APP_ID, SECRET)
    assert short["token_type"] == "bearer" and short["expires_in"] == 7200
    # A code works once, and its second use revokes what it bought (RFC 6749 4.1.2).
    with pytest.raises(facebook.GraphAPIError) as used:
        facebook.GraphAPI(version="3.1").get_access_token_from_code(code, REDIRECT, APP_ID, SECRET)
    assert used.value.code == 100
    with pytest.raises(facebook.GraphAPIError) as revoked:
        facebook.GraphAPI(short["access_token"], version="3.1").get_object("me")
    assert revoked.value.code == 190
    short = facebook.GraphAPI(version="3.1").get_access_token_from_code(dialog_code(alice), REDIRECT, APP_ID, SECRET)

    extended = facebook.GraphAPI(short["access_token"], version="3.1").extend_access_token(APP_ID, SECRET)
    assert extended["expires_in"] >= 5_000_000
    assert extended["access_token"] != short["access_token"]
    again = facebook.GraphAPI(short["access_token"], version="3.1").extend_access_token(APP_ID, SECRET)
    assert again["access_token"] != extended["access_token"]  # a new token each time

    me = facebook.GraphAPI(extended["access_token"], version="3.1").get_object("me")
    assert me == {"id": UID, "name": "alice"}

    graph = facebook.GraphAPI(version="3.1")
    info = graph.debug_access_token(extended["access_token"], APP_ID, SECRET)["data"]
    assert info["is_valid"] is True and info["user_id"] == UID and info["app_id"] == APP_ID
    assert info["type"] == "USER" and "email" in info["scopes"]

    # Client code → a token for one machine, then the same machine again.
    client_code = requests.get(SERVER + "/v3.1/oauth/client_code", timeout=10, params={
        "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": REDIRECT,
        "access_token": extended["access_token"]}).json()["code"]
    machine = requests.get(SERVER + "/oauth/access_token", timeout=10, params={
        "client_id": APP_ID, "redirect_uri": REDIRECT, "code": client_code}).json()
    assert machine["machine_id"] and machine["access_token"]
    assert facebook.GraphAPI(machine["access_token"], version="3.1").get_object("me")["id"] == UID

    # The user takes everything back: the token is now reported invalid.
    result = facebook.GraphAPI(extended["access_token"], version="3.1").delete_object("me/permissions")
    assert result == {"success": True}
    info = graph.debug_access_token(extended["access_token"], APP_ID, SECRET)["data"]
    assert info["is_valid"] is False and info["error"]["code"] == 190
    with pytest.raises(facebook.GraphAPIError) as gone:
        facebook.GraphAPI(extended["access_token"], version="3.1").get_object("me")
    assert gone.value.code == 190

    app_token = graph.get_app_access_token(APP_ID, SECRET)
    assert app_token.startswith(APP_ID + "|")
    assert graph.get_app_access_token(APP_ID, SECRET) != app_token  # new each call
    # An issued app token inspects tokens like app_id|secret does.
    fresh = facebook.GraphAPI(version="3.1").get_access_token_from_code(
        dialog_code(alice), REDIRECT, APP_ID, SECRET)["access_token"]
    answer = requests.get(SERVER + "/debug_token", timeout=10,
                          params={"input_token": fresh, "access_token": app_token}).json()
    assert answer["data"]["is_valid"] is True


def test_refusals_in_the_graph_shape(alice):
    graph = facebook.GraphAPI(version="3.1")
    with pytest.raises(facebook.GraphAPIError) as bad_secret:
        graph.get_app_access_token(APP_ID, "not-the-secret")
    assert bad_secret.value.code == 1 and bad_secret.value.type == "OAuthException"
    code = dialog_code(alice)
    with pytest.raises(facebook.GraphAPIError) as moved:
        graph.get_access_token_from_code(code, REDIRECT + "/other", APP_ID, SECRET)
    assert moved.value.code == 100
    assert moved.value.result["error"]["error_subcode"] == 36008
    # The right redirect_uri still works after the mismatch.
    assert graph.get_access_token_from_code(code, REDIRECT, APP_ID, SECRET)["access_token"]
    # An unregistered redirect_uri: error 191 on the dialog page, no redirect.
    page = requests.get(SERVER + "/v3.1/dialog/oauth", timeout=10, allow_redirects=False,
                        params={"client_id": APP_ID, "redirect_uri": "https://evil.example/cb"})
    assert page.status_code == 400 and "191" in page.text
    # Cancel returns to the app with access_denied and the state.
    cancel = requests.get(SERVER + "/dialog/oauth/cancel", timeout=10, allow_redirects=False,
                          params={"client_id": APP_ID, "redirect_uri": REDIRECT, "state": "s1"})
    assert cancel.status_code in (302, 303)
    back = parse_qs(urlparse(cancel.headers["location"]).query)
    assert back["error"] == ["access_denied"] and back["state"] == ["s1"]
