"""Fixtures shared by the real-client tests: a user with the soft token as
her key, and Debian's Chromium under Playwright."""

import os

import pytest

from browser_session import CHROMIUM
from signin import KeyHolder
from test_soft_token import Token


@pytest.fixture(scope="module")
def alice(tmp_path_factory):
    """alice (password from KEYGATE_PASSWORD) with the soft token enrolled as her key."""
    token = Token(tmp_path_factory.mktemp("token"), "udp").start()
    holder = KeyHolder(os.environ["KEYGATE_URL"], "alice", os.environ["KEYGATE_PASSWORD"], token)
    holder.enroll()
    yield holder
    token.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium (Playwright's own download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
