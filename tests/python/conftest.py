"""Fixtures shared by the real-client tests that sign in for an application."""

import os

import pytest

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
