"""The RESP front through raw sockets: framing, inline commands, pipelining, broken streams,
many connections, command errors and transactions, with Redis 7.0's exact reply texts."""

import resource
import socket
import threading
import time

import pytest
import redis


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def read_exactly(sock: socket.socket, expected: bytes) -> bytes:
    """Read len(expected) bytes (or what arrives before the peer closes)."""
    data = b""
    while len(data) < len(expected):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def request(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


# -- inline commands ----------------------------------------------------------------

def test_inline_ping(server):
    with connect(server) as sock:
        sock.sendall(b"PING\r\n")
        assert read_exactly(sock, b"+PONG\r\n") == b"+PONG\r\n"


def test_inline_without_cr_and_empty_lines(server):
    with connect(server) as sock:
        sock.sendall(b"\r\n\nPING\nECHO hi\r\n")
        assert read_exactly(sock, b"+PONG\r\n$2\r\nhi\r\n") == b"+PONG\r\n$2\r\nhi\r\n"


def test_inline_quoted_arguments(server, r):
    with connect(server) as sock:
        sock.sendall(b'SET "a key" \'it\\\'s\'\r\nSET hex "\\x41\\n"\r\n')
        assert read_exactly(sock, b"+OK\r\n+OK\r\n") == b"+OK\r\n+OK\r\n"
    assert r.get("a key") == b"it's"
    assert r.get("hex") == b"A\n"


def test_inline_then_multibulk_on_one_connection(server):
    with connect(server) as sock:
        sock.sendall(b"SET k v\r\n")
        assert read_exactly(sock, b"+OK\r\n") == b"+OK\r\n"
        sock.sendall(request(b"GET", b"k"))
        assert read_exactly(sock, b"$1\r\nv\r\n") == b"$1\r\nv\r\n"


# -- pipelining ---------------------------------------------------------------------

def test_pipeline_of_10000_commands_in_one_write(server, r):
    payload = b"".join(request(b"SET", b"k%d" % i, b"v%d" % i) for i in range(5000))
    payload += b"".join(request(b"GET", b"k%d" % i) for i in range(5000))
    expected = b"+OK\r\n" * 5000 + b"".join(
        b"$%d\r\nv%d\r\n" % (len(b"v%d" % i), i) for i in range(5000))
    with connect(server) as sock:
        sock.sendall(payload)
        assert read_exactly(sock, expected) == expected
    assert r.dbsize() == 5000


def test_request_split_across_writes(server):
    data = request(b"ECHO", b"x" * 100000)
    with connect(server) as sock:
        for i in range(0, len(data), 997):
            sock.sendall(data[i:i + 997])
        expected = b"$100000\r\n" + b"x" * 100000 + b"\r\n"
        assert read_exactly(sock, expected) == expected


# -- broken streams -----------------------------------------------------------------

@pytest.mark.parametrize("stream, error", [
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b"*1\r\n$-10\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b'SET a "b\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"SET a 'b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b'SET a "b"c\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
])
def test_malformed_stream_errors_and_closes(server, r, stream, error):
    other = server.client()
    other.set("survivor", "yes")
    with connect(server) as sock:
        sock.sendall(stream)
        assert read_until_closed(sock) == error
    assert other.get("survivor") == b"yes"
    assert other.ping() is True
    other.close()


def test_replies_before_a_protocol_error_are_sent(server):
    with connect(server) as sock:
        sock.sendall(b'PING\r\nECHO a\r\nSET x "y\r\nPING\r\n')
        assert read_until_closed(sock) == (
            b"+PONG\r\n$1\r\na\r\n-ERR Protocol error: unbalanced quotes in request\r\n")


def test_negative_and_empty_multibulk_are_ignored(server):
    with connect(server) as sock:
        sock.sendall(b"*-1\r\n" + request(b"PING"))
        assert read_exactly(sock, b"+PONG\r\n") == b"+PONG\r\n"
        sock.sendall(b"*0\r\n" + request(b"PING"))
        assert read_exactly(sock, b"+PONG\r\n") == b"+PONG\r\n"


def test_bulk_longer_than_proto_max_bulk_len_is_refused(server, r):
    assert r.config_set("proto-max-bulk-len", "1mb") is True
    try:
        with connect(server) as sock:
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n" + b"x" * 1000)
            assert read_until_closed(sock) == b"-ERR Protocol error: invalid bulk length\r\n"
        with connect(server) as sock:  # at the limit is fine
            sock.sendall(request(b"SET", b"k", b"x" * 1024 * 1024))
            assert read_exactly(sock, b"+OK\r\n") == b"+OK\r\n"
    finally:
        r.config_set("proto-max-bulk-len", "512mb")
    assert r.strlen("k") == 1024 * 1024


def test_too_big_inline_request_is_refused(server):
    with connect(server) as sock:
        try:
            sock.sendall(b"x" * (70 * 1024))
        except OSError:
            pass
        assert read_until_closed(sock).startswith(b"-ERR Protocol error: too big inline request")


# -- many clients -------------------------------------------------------------------

def test_1000_concurrent_connections(server, r):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    socks = [connect(server) for _ in range(1000)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(request(b"SET", b"c%d" % i, b"%d" % i) + request(b"GET", b"c%d" % i))
        for i, sock in enumerate(socks):
            expected = b"+OK\r\n$%d\r\n%d\r\n" % (len(b"%d" % i), i)
            assert read_exactly(sock, expected) == expected
        assert r.info("clients")["connected_clients"] >= 1001
    finally:
        for sock in socks:
            sock.close()
    assert r.dbsize() == 1000


def test_clients_in_threads_do_not_see_each_other(server, r):
    errors = []

    def work(n):
        try:
            client = server.client()
            for i in range(200):
                client.set(f"t{n}:{i}", i)
                assert client.get(f"t{n}:{i}") == str(i).encode()
            client.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert r.dbsize() == 1600


# -- command errors, as Redis words them ---------------------------------------------

def test_unknown_command_error(server):
    with connect(server) as sock:
        sock.sendall(request(b"NOSUCH", b"a", b"b") + request(b"nosuch"))
        expected = (b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"
                    b"-ERR unknown command 'nosuch', with args beginning with: \r\n")
        assert read_exactly(sock, expected) == expected


def test_unknown_command_shows_at_most_128_bytes_of_arguments(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("nosuch", "a" * 200, "b")
    assert str(e.value) == ("unknown command 'nosuch', with args beginning with: '"
                            + "a" * 128 + "' ")


def test_wrong_arity_errors(r):
    for args, name in [(("GET",), "get"), (("GET", "a", "b"), "get"), (("SET", "a"), "set"),
                       (("CONFIG", "GET"), "config|get"),
                       (("CLIENT", "SETNAME"), "client|setname")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == f"wrong number of arguments for '{name}' command"


def test_unknown_subcommand_error(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "nosuch")
    assert str(e.value) == "unknown subcommand 'nosuch'. Try CONFIG HELP."


# -- transactions ---------------------------------------------------------------------

def test_multi_exec(server, r):
    with connect(server) as sock:
        sock.sendall(request(b"MULTI") + request(b"SET", b"a", b"1") + request(b"INCR", b"a")
                     + request(b"GET", b"a") + request(b"EXEC"))
        expected = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
        assert read_exactly(sock, expected) == expected


def test_exec_runs_every_command_even_after_a_runtime_error(r):
    pipe = r.pipeline()
    pipe.set("s", "x").incr("s").set("after", "1")
    result = pipe.execute(raise_on_error=False)
    assert result[0] is True
    assert isinstance(result[1], redis.ResponseError)
    assert r.get("after") == b"1"


def test_execabort_on_a_queued_error(server, r):
    with connect(server) as sock:
        sock.sendall(request(b"MULTI") + request(b"SET", b"a", b"1") + request(b"GET")
                     + request(b"NOSUCH") + request(b"EXEC") + request(b"GET", b"a"))
        expected = (b"+OK\r\n+QUEUED\r\n"
                    b"-ERR wrong number of arguments for 'get' command\r\n"
                    b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
                    b"-EXECABORT Transaction discarded because of previous errors.\r\n"
                    b"$-1\r\n")
        assert read_exactly(sock, expected) == expected


def test_discard_and_misuse_errors(server, r):
    with connect(server) as sock:
        sock.sendall(request(b"EXEC") + request(b"DISCARD") + request(b"MULTI")
                     + request(b"MULTI") + request(b"SET", b"d", b"1") + request(b"DISCARD")
                     + request(b"GET", b"d") + request(b"MULTI") + request(b"WATCH", b"d")
                     + request(b"DISCARD"))
        expected = (b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n"
                    b"-ERR MULTI calls can not be nested\r\n+QUEUED\r\n+OK\r\n$-1\r\n+OK\r\n"
                    b"-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n")
        assert read_exactly(sock, expected) == expected


def test_watch_aborts_when_another_client_writes(server, r):
    other = server.client()
    r.set("w", "1")
    with connect(server) as sock:
        sock.sendall(request(b"WATCH", b"w") + request(b"MULTI") + request(b"SET", b"w", b"2"))
        assert read_exactly(sock, b"+OK\r\n+OK\r\n+QUEUED\r\n") == b"+OK\r\n+OK\r\n+QUEUED\r\n"
        other.set("w", "other")
        sock.sendall(request(b"EXEC"))
        assert read_exactly(sock, b"*-1\r\n") == b"*-1\r\n"
    assert r.get("w") == b"other"
    other.close()


def test_watch_aborts_when_the_same_client_writes(server, r):
    with connect(server) as sock:
        sock.sendall(request(b"WATCH", b"x") + request(b"SET", b"x", b"1") + request(b"MULTI")
                     + request(b"GET", b"x") + request(b"EXEC"))
        expected = b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n"
        assert read_exactly(sock, expected) == expected


def test_watch_untouched_key_lets_exec_run_and_unwatch_forgets(server, r):
    other = server.client()
    pipe = r.pipeline()
    pipe.watch("u")
    other.set("unrelated", "1")
    pipe.multi()
    pipe.set("u", "mine")
    assert pipe.execute() == [True]
    pipe = r.pipeline()
    pipe.watch("u")
    pipe.unwatch()
    other.set("u", "theirs")
    pipe.multi()
    pipe.set("u", "mine again")
    assert pipe.execute() == [True]
    other.close()


def test_watch_aborts_on_flushall_and_expiry(server, r):
    r.set("f", "1")
    pipe = r.pipeline()
    pipe.watch("f")
    server.client().flushall()
    pipe.multi()
    pipe.set("f", "2")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    r.set("e", "1", px=50)
    pipe = r.pipeline()
    pipe.watch("e")
    time.sleep(0.1)
    pipe.multi()
    pipe.set("e", "2")
    with pytest.raises(redis.WatchError):
        pipe.execute()


@pytest.mark.parametrize("start", [b"\x00", b"*\x00", b"$\x00", b"*1\r\n$\x00"])
def test_header_never_finished_is_refused(server, start):
    # Redis waits at most 64 KB for a header line; the stream is then refused and closed.
    with connect(server) as sock:
        sock.sendall(start)
        sent = 0
        try:
            while sent < 10 * 1024 * 1024:
                sock.sendall(b"A" * 1024)
                sent += 1024
        except OSError:
            pass
        assert b"Protocol error" in read_until_closed(sock)


def test_request_split_between_arguments(server, r):
    # The second read starts with an argument's `$`: it must continue the request, not be
    # taken for a new (inline) one.
    with connect(server) as sock:
        for cut in (b"$1\r\nv\r\n", b"1\r\nv\r\n", b"\r\nv\r\n", b"v\r\n"):
            whole = request(b"SET", b"k", b"v")
            head = whole[:len(whole) - len(cut)]
            sock.sendall(head)
            time.sleep(0.05)
            sock.sendall(cut)
            assert read_exactly(sock, b"+OK\r\n") == b"+OK\r\n"
        big = request(b"MSET", *[b"k%d" % i if j == 0 else b"v" for i in range(20000)
                                 for j in (0, 1)])
        for i in range(0, len(big), 4096):
            sock.sendall(big[i:i + 4096])
        assert read_exactly(sock, b"+OK\r\n") == b"+OK\r\n"
    assert r.dbsize() == 20001
