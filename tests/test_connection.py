"""Connection commands (PING, ECHO, SELECT, AUTH, HELLO, RESET, QUIT) and CLIENT, through
redis-py, redis-cli and the in-process API."""

import re
import socket
import time

import pytest
import redis

from conftest import ServerProcess


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A server started with --requirepass."""
    proc = ServerProcess(tmp_path_factory.mktemp("secured"), "--requirepass", "s3cret").start()
    yield proc
    proc.stop()


@pytest.fixture
def r2(server):
    """A RESP2 redis-py client (redis-py 8 speaks RESP3 unless told)."""
    client = server.client(protocol=2)
    yield client
    client.close()


def raw(server, data: bytes, replies: int) -> list:
    """Send data on a fresh socket; the first `replies` reply lines (simple replies only)."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(data)
        buffer = b""
        while buffer.count(b"\r\n") < replies:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buffer += chunk
    return buffer.decode().split("\r\n")[:replies]


WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled."


def error_of(call, *args) -> str:
    # redis-py raises AuthenticationError, not a ResponseError, for NOAUTH and WRONGPASS.
    with pytest.raises(redis.RedisError) as e:
        call(*args)
    return str(e.value)


# -- PING, ECHO, SELECT ---------------------------------------------------------------

def test_ping_echo(r, server, db):
    assert r.ping() is True
    assert server.cli("PING", "hello") == "hello\n"
    assert error_of(r.execute_command, "PING", "a", "b") == \
        "wrong number of arguments for 'ping' command"
    assert r.echo("x y") == b"x y"
    assert server.cli("PING").strip() == "PONG"
    assert db.execute("PING") == "PONG"
    assert db.execute("ECHO", "e") == b"e"


def test_select(server, r):
    c = server.client()
    c.set("k", "db0")
    assert c.execute_command("SELECT", "15") is True
    assert c.get("k") is None
    c.set("k", "db15")
    assert c.execute_command("SELECT", "0") is True
    assert c.get("k") == b"db0"
    assert error_of(c.execute_command, "SELECT", "16") == "DB index is out of range"
    assert error_of(c.execute_command, "SELECT", "-1") == "DB index is out of range"
    assert error_of(c.execute_command, "SELECT", "abc") == \
        "value is not an integer or out of range"
    assert error_of(c.execute_command, "SELECT", "99999999999") == \
        "value is not an integer or out of range"
    assert server.cli("-n", "15", "GET", "k").strip() == "db15"
    c.close()


# -- AUTH and requirepass --------------------------------------------------------------

def test_commands_refused_until_auth(secured):
    assert raw(secured, b"GET k\r\nCLIENT ID\r\nAUTH wrong\r\nAUTH nobody s3cret\r\n"
                        b"AUTH s3cret\r\nSET k v\r\n", 6) == [
        "-NOAUTH Authentication required.", "-NOAUTH Authentication required.",
        WRONGPASS, WRONGPASS, "+OK", "+OK"]


def test_auth_with_username_and_client_option(secured):
    c = secured.client(protocol=2, password="s3cret")
    assert c.ping() is True
    c.close()
    c = secured.client(protocol=3, username="default", password="s3cret")
    assert c.ping() is True
    c.close()


def test_noauth_inside_multi_aborts_exec(secured):
    with socket.create_connection(("127.0.0.1", secured.port)) as sock:
        sock.sendall(b"MULTI\r\n")
        assert sock.recv(100) == b"-NOAUTH Authentication required.\r\n"


def test_quit_and_hello_allowed_before_auth(secured):
    assert raw(secured, b"HELLO 2 AUTH default s3cret SETNAME early\r\nCLIENT GETNAME\r\n",
               28)[-2:] == ["$5", "early"]
    noauth = ("-NOAUTH HELLO must be called with the client already authenticated, otherwise "
              "the HELLO AUTH <user> <pass> option can be used to authenticate the client and "
              "select the RESP protocol version at the same time")
    assert raw(secured, b"HELLO 3\r\n", 1) == [noauth]
    assert raw(secured, b"HELLO 3 AUTH default bad\r\n", 1) == [WRONGPASS]
    with socket.create_connection(("127.0.0.1", secured.port)) as sock:
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(100) == b"+OK\r\n"
        assert sock.recv(100) == b""


def test_requirepass_with_cli(secured):
    assert "NOAUTH" in secured.cli("GET", "k")
    assert secured.cli("--no-auth-warning", "-a", "s3cret", "PING").strip() == "PONG"


def test_auth_without_requirepass(server, r):
    assert error_of(r.execute_command, "AUTH", "x") == (
        "AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    # The default user has no password: any password is accepted with the user name.
    assert r.execute_command("AUTH", "default", "anything") is True
    assert raw(server, b"AUTH other x\r\n", 1) == [WRONGPASS]
    assert error_of(r.execute_command, "AUTH", "a", "b", "c") == "syntax error"


def test_config_set_requirepass_takes_effect(server, r):
    assert r.config_set("requirepass", "newpass") is True
    try:
        # Connections already open stay authenticated, new ones must AUTH.
        assert r.ping() is True
        assert raw(server, b"PING\r\nAUTH newpass\r\nPING\r\n", 3) == [
            "-NOAUTH Authentication required.", "+OK", "+PONG"]
        fresh = server.client(password="newpass")
        assert fresh.ping() is True
        fresh.close()
    finally:
        r.config_set("requirepass", "")
    anyone = server.client(protocol=3)
    assert anyone.ping() is True
    anyone.close()


def test_in_process_requirepass(db):
    db.execute("CONFIG", "SET", "requirepass", "pw")
    client = db.new_client()
    assert db.call(client, [b"GET", b"k"]).message == "NOAUTH Authentication required."
    assert db.call(client, [b"AUTH", b"pw"]).text == "OK"
    assert db.call(client, [b"GET", b"k"]) is None


# -- HELLO --------------------------------------------------------------------------------

def test_hello(server, r2):
    r = r2
    flat = r.execute_command("HELLO")
    reply = dict(zip(flat[::2], flat[1::2]))
    assert reply[b"server"] == b"redis"
    assert reply[b"version"] == b"7.0.15"
    assert reply[b"proto"] == 2
    assert reply[b"mode"] == b"standalone"
    assert reply[b"role"] == b"master"
    assert reply[b"modules"] == []
    assert reply[b"id"] == r.client_id()
    assert error_of(r.execute_command, "HELLO", "4") == \
        "NOPROTO unsupported protocol version"
    assert error_of(r.execute_command, "HELLO", "x") == \
        "Protocol version is not an integer or out of range"
    assert error_of(r.execute_command, "HELLO", "3", "BOGUS") == \
        "Syntax error in HELLO option 'BOGUS'"


def test_hello_3_switches_protocol_and_setname(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"HELLO 3 AUTH default x SETNAME conn1\r\n")
        data = b""
        while b"modules" not in data:
            data += sock.recv(4096)
        assert data.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
        assert b"$5\r\nproto\r\n:3\r\n" in data
        sock.sendall(b"CLIENT GETNAME\r\nGET nosuch\r\nHELLO 2\r\n")
        data = b""
        while b"modules" not in data:
            data += sock.recv(4096)
        assert data.startswith(b"$5\r\nconn1\r\n_\r\n*14\r\n")


def test_resp3_client(r3):
    assert r3.execute_command("HELLO")[b"proto"] == 3
    assert r3.client_getname() is None


# -- RESET --------------------------------------------------------------------------------

def test_reset(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"HELLO 3\r\nSELECT 3\r\nCLIENT SETNAME named\r\nMULTI\r\nRESET\r\n"
                     b"CLIENT INFO\r\n")
        data = b""
        while not data.endswith(b"\n\r\n"):
            data += sock.recv(4096)
    assert data.split(b"+OK\r\n+OK\r\n+OK\r\n", 1)[1].startswith(b"+RESET\r\n$")
    info = parse_line(data.split(b"\r\n")[-2].decode().rstrip("\n"))
    assert (info["name"], info["db"], info["resp"], info["multi"]) == ("", "0", "2", "-1")


# -- CLIENT -------------------------------------------------------------------------------

LIST_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
               "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp",
               "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"]


def parse_line(line: str) -> dict:
    return dict(field.split("=", 1) for field in line.split(" "))


def test_client_id_setname_getname(server, r):
    first, second = server.client(), server.client()
    assert first.client_id() != second.client_id()
    assert first.client_getname() is None
    assert first.client_setname("worker-1") is True
    assert first.client_getname() == "worker-1"
    assert error_of(first.execute_command, "CLIENT", "SETNAME", "has space") == \
        "Client names cannot contain spaces, newlines or special characters."
    assert first.execute_command("CLIENT", "SETNAME", "") == b"OK"
    assert first.client_getname() is None
    first.close()
    second.close()


def test_client_list_format(server, r2):
    r = r2
    r.client_setname("lister")
    text = r.execute_command("CLIENT", "LIST").decode()
    assert text.endswith("\n")
    mine = [parse_line(line) for line in text.splitlines()
            if parse_line(line)["id"] == str(r.client_id())]
    assert len(mine) == 1
    fields = mine[0]
    assert list(fields) == LIST_FIELDS
    assert fields["name"] == "lister"
    assert fields["flags"] == "N"
    assert fields["db"] == "0"
    assert fields["multi"] == "-1"
    assert fields["cmd"] == "client|list"
    assert fields["qbuf"] == "26"  # the request being run: *2 $6 client $4 list
    assert fields["user"] == "default"
    assert fields["resp"] == "2"
    assert fields["laddr"] == f"127.0.0.1:{server.port}"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", fields["addr"])
    assert int(fields["fd"]) > 0


def test_client_info_and_flags(server):
    c = server.client()
    c.execute_command("SELECT", "2")
    info = parse_line(c.execute_command("CLIENT", "INFO").decode().rstrip("\n"))
    assert info["db"] == "2"
    assert info["cmd"] == "client|info"
    other = server.client()
    pubsub = other.pubsub()
    pubsub.subscribe("ch")
    pubsub.get_message(timeout=1)
    lines = [parse_line(l) for l in c.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
             .decode().splitlines()]
    assert [l["flags"] for l in lines] == ["P"]
    assert lines[0]["sub"] == "1"
    normal = c.execute_command("CLIENT", "LIST", "TYPE", "normal").decode()
    assert f"id={c.client_id()} " in normal
    assert "flags=P" not in normal
    pubsub.close()
    other.close()
    c.close()


def test_client_list_id_filter_and_errors(server, r):
    other = server.client()
    ids = [r.client_id(), other.client_id()]
    text = r.execute_command("CLIENT", "LIST", "ID", ids[1], 999999).decode()
    assert [parse_line(l)["id"] for l in text.splitlines()] == [str(ids[1])]
    assert error_of(r.execute_command, "CLIENT", "LIST", "TYPE", "bogus") == \
        "Unknown client type 'bogus'"
    assert error_of(r.execute_command, "CLIENT", "LIST", "ID", "x") == "Invalid client ID"
    assert error_of(r.execute_command, "CLIENT", "LIST", "BOGUS") == "syntax error"
    other.close()


def test_client_list_shows_multi(server, r):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"CLIENT SETNAME tx\r\nMULTI\r\nSET a 1\r\nSET b 2\r\n")
        data = b""
        while data.count(b"\r\n") < 4:
            data += sock.recv(4096)
        assert data == b"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n"
        line = [l for l in r.execute_command("CLIENT", "LIST").decode().splitlines()
                if " name=tx " in l]
        fields = parse_line(line[0])
        assert (fields["flags"], fields["multi"]) == ("x", "2")


def test_client_kill_old_form(server, r):
    with socket.create_connection(("127.0.0.1", server.port)) as victim:
        host, port = victim.getsockname()[:2]
        victim.sendall(b"PING\r\n")
        assert victim.recv(100) == b"+PONG\r\n"
        assert r.execute_command("CLIENT", "KILL", f"{host}:{port}") == b"OK"
        assert victim.recv(100) == b""
    assert error_of(r.execute_command, "CLIENT", "KILL", "1.2.3.4:5") == "No such client"
    assert r.ping() is True


def test_client_kill_filters(server, r):
    a = server.client()
    a_id = a.client_id()
    assert r.execute_command("CLIENT", "KILL", "ID", a_id) == 1
    assert r.execute_command("CLIENT", "KILL", "ID", a_id) == 0
    assert error_of(r.execute_command, "CLIENT", "KILL", "ID", "0") == \
        "client-id should be greater than 0"
    assert error_of(r.execute_command, "CLIENT", "KILL", "TYPE", "bogus") == \
        "Unknown client type 'bogus'"
    assert error_of(r.execute_command, "CLIENT", "KILL", "USER", "bob") == "No such user 'bob'"
    assert error_of(r.execute_command, "CLIENT", "KILL", "ID") == "No such client"
    assert error_of(r.execute_command, "CLIENT", "KILL", "ID", "1", "SKIPME") == "syntax error"
    assert error_of(r.execute_command, "CLIENT", "KILL", "SKIPME", "maybe", "ID", "1") == \
        "syntax error"
    # SKIPME yes (the default) spares the caller; LADDR matches every client here.
    b, c = server.client(), server.client()
    b.ping(), c.ping()
    killed = r.execute_command("CLIENT", "KILL", "LADDR", f"127.0.0.1:{server.port}")
    assert killed >= 2
    assert r.ping() is True
    text = r.execute_command("CLIENT", "LIST").decode()
    assert [parse_line(l)["id"] for l in text.splitlines()] == [str(r.client_id())]
    # SKIPME no kills the caller itself, after its reply.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"CLIENT KILL USER default SKIPME no\r\n")
        data = b""
        while True:
            chunk = sock.recv(100)
            if not chunk:
                break
            data += chunk
        assert data == b":2\r\n"


def test_client_misc_subcommands(r):
    assert r.execute_command("CLIENT", "NO-EVICT", "on") == b"OK"
    assert r.execute_command("CLIENT", "NO-TOUCH", "off") == b"OK"
    assert error_of(r.execute_command, "CLIENT", "NO-EVICT", "maybe") == "syntax error"
    assert error_of(r.execute_command, "CLIENT", "BOGUS") == \
        "unknown subcommand 'BOGUS'. Try CLIENT HELP."
    help_lines = r.execute_command("CLIENT", "HELP")
    assert help_lines[0] == b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"SETNAME <name>" in help_lines


def test_client_with_cli(server):
    out = server.cli("CLIENT", "LIST")
    assert re.match(r"id=\d+ addr=127\.0\.0\.1:\d+ laddr=", out)
    assert "cmd=client|list" in out
    assert re.fullmatch(r"\d+\n", server.cli("CLIENT", "ID"))


def test_client_in_process(db):
    assert isinstance(db.execute("CLIENT", "ID"), int)
    assert db.execute("CLIENT", "SETNAME", "local") == "OK"
    assert db.execute("CLIENT", "GETNAME") == b"local"
    assert db.execute("CLIENT", "LIST") == b""  # the in-process client is not a connection


def test_client_unblock(server, r):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"CLIENT ID\r\n")
        blocked_id = int(sock.recv(100)[1:])
        for reason, answer in [(None, b"*-1\r\n"), ("TIMEOUT", b"*-1\r\n"),
                               ("ERROR", b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")]:
            sock.sendall(b"BLPOP nosuch 0\r\n")
            args = ["CLIENT", "UNBLOCK", blocked_id] + ([reason] if reason else [])
            deadline = time.time() + 5
            while r.execute_command(*args) == 0:
                assert time.time() < deadline
                time.sleep(0.01)
            assert sock.recv(200) == answer
        sock.sendall(b"PING\r\n")
        assert sock.recv(100) == b"+PONG\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", r.client_id()) == 0
    assert r.execute_command("CLIENT", "UNBLOCK", 999999) == 0
    assert error_of(r.execute_command, "CLIENT", "UNBLOCK", 1, "LATER") == \
        "CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    assert error_of(r.execute_command, "CLIENT", "UNBLOCK", "x") == \
        "value is not an integer or out of range"
    assert error_of(r.execute_command, "CLIENT", "UNBLOCK", 1, "ERROR", "x") == \
        "unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."


def test_client_reply_off_skip_on(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY SKIP\r\n"
                     b"CLIENT REPLY ON\r\nGET a\r\n"
                     b"CLIENT REPLY SKIP\r\nGET a\r\nECHO shown\r\n"
                     b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n"
                     b"CLIENT REPLY BOGUS\r\n")
        expected = (b"+OK\r\n$1\r\n1\r\n$5\r\nshown\r\n+OK\r\n+PONG\r\n"
                    b"-ERR syntax error\r\n")
        data = b""
        while len(data) < len(expected):
            data += sock.recv(4096)
        assert data == expected
