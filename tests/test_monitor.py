"""MONITOR: every command the server runs, shown to the monitoring clients as Redis shows it."""

import re
import socket

import pytest
import redis

LINE = re.compile(rb"^\+(\d+\.\d{6}) \[(\d+) (\S+)\] (.*)\r\n$")


class Monitor:
    """A raw connection in MONITOR mode: its lines as (db, source, arguments text)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b"MONITOR\r\n")
        assert self.file.readline() == b"+OK\r\n"

    def next(self) -> tuple:
        match = LINE.match(self.file.readline())
        assert match, "not a MONITOR line"
        return int(match[2]), match[3], match[4]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def monitor(server):
    watching = Monitor(server.port)
    yield watching
    watching.close()


def test_commands_are_shown_with_database_source_and_quoted_arguments(server, r, monitor):
    address = r.client_info()["addr"]
    assert monitor.next()[2] == b'"CLIENT" "INFO"'
    r.execute_command("SELECT", "3")
    r.set("k", 'a "b"\n\x01')
    r.execute_command("SELECT", "0")
    assert monitor.next() == (3, address.encode(), b'"SELECT" "3"')  # shown once run
    assert monitor.next() == (3, address.encode(), b'"SET" "k" "a \\"b\\"\\n\\x01"')
    assert monitor.next()[2] == b'"SELECT" "0"'


def test_secrets_and_admin_commands_are_not_shown(server, monitor):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        # AUTH fails (no password is set); HELLO's takes any; CONFIG is admin: not shown.
        raw.sendall(b"AUTH secret\r\nHELLO 2 AUTH default secret\r\nCONFIG GET port\r\n"
                    b"PING\r\n")
        assert raw.makefile("rb").readline().startswith(b"-ERR AUTH")
    assert monitor.next()[2] == b'"AUTH" "(redacted)"'
    assert monitor.next()[2] == b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"'
    assert monitor.next()[2] == b'"PING"'


def test_scripts_and_transactions_in_the_order_they_ran(server, r, monitor):
    """A script is shown as it starts, before its commands; EXEC after its commands."""
    r.eval("redis.call('set', KEYS[1], ARGV[1])", 1, "k", "v")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1")
    pipe.execute()
    assert monitor.next()[2].startswith(b'"EVAL" ')
    assert monitor.next()[1:] == (b"lua", b'"set" "k" "v"')
    assert [monitor.next()[2] for _ in range(3)] == [b'"MULTI"', b'"SET" "a" "1"', b'"EXEC"']


def test_reset_ends_monitor_mode(server, r, monitor):
    monitor.sock.sendall(b"RESET\r\n")
    assert monitor.file.readline() == b"+RESET\r\n"  # no longer shown its own commands
    r.set("unseen", "1")
    monitor.sock.sendall(b"PING\r\n")
    assert monitor.file.readline() == b"+PONG\r\n"  # no MONITOR line came first


def test_only_a_network_client_can_monitor(server, r):
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        r.eval("return redis.call('MONITOR')", 0)
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("MONITOR")
    with pytest.raises(redis.ResponseError, match="DENY BLOCKING"):
        pipe.execute()
