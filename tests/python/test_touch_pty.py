"""`keygate key` on a real terminal: the spinner while the key waits for a
touch, a touch (SIGUSR1 to the soft token) ending the wait, and Ctrl-C typed
on the terminal cancelling it with status 130. Driven through a pseudo-terminal,
so the line discipline turns ^C into SIGINT exactly as a shell would."""

import os
import pty
import select
import signal
import time

BIN = os.environ["KEYGATE_BIN"]
SERVER = os.environ["KEYGATE_SERVER"]
DEVICE = os.environ["KEYGATE_DEVICE"]
TOKEN_PID = int(os.environ["KEYGATE_TOKEN_PID"])
PASSWORD = os.environ["KEYGATE_PASSWORD"]
PROMPT = "Touch your security key"


def spawn(*args):
    pid, fd = pty.fork()
    if pid == 0:
        argv = [BIN, "key", *args, "--server", SERVER, "--user", "alice", "--device", DEVICE, "--password-stdin"]
        os.execv(BIN, argv)
    os.write(fd, (PASSWORD + "\n").encode())
    return pid, fd


def read_until(fd, predicate, timeout=20.0):
    """Collects terminal output until predicate(text) holds or EOF."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if predicate(out.decode("utf-8", "replace")):
            break
    return out.decode("utf-8", "replace")


def finish(pid, fd):
    rest = read_until(fd, lambda _: False, timeout=20.0)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return rest, os.waitstatus_to_exitcode(status)


def test_the_spinner_waits_for_a_touch():
    pid, fd = spawn("enroll", "--name", "pty")
    # The prompt is redrawn on every tick while nobody touches the key.
    seen = read_until(fd, lambda text: text.count(PROMPT) >= 3)
    assert seen.count(PROMPT) >= 3, seen
    os.kill(TOKEN_PID, signal.SIGUSR1)
    rest, code = finish(pid, fd)
    assert code == 0, seen + rest
    assert "enrolled key" in rest, rest


def test_ctrl_c_on_the_terminal_cancels_the_wait():
    pid, fd = spawn("login")
    seen = read_until(fd, lambda text: PROMPT in text)
    assert PROMPT in seen, seen
    os.write(fd, b"\x03")
    rest, code = finish(pid, fd)
    assert code == 130, seen + rest
    assert "cancelled" in rest, rest
    assert "session_token" not in rest, rest
