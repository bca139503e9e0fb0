"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBEs, PUBLISH and PUBSUB, in RESP2 and RESP3."""

import socket
import time

import pytest

import alchemy


def next_message(pubsub, timeout: float = 2.0):
    """The next message a redis-py PubSub receives, failing the test if none comes."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message received")


def brief(message) -> tuple:
    return message["type"], message["pattern"], message["channel"], message["data"]


def wait_until(condition, timeout: float = 5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


class Raw:
    """A bare socket, to see the exact bytes the server sends."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, *commands: bytes) -> None:
        self.sock.sendall(b"".join(c + b"\r\n" for c in commands))

    def expect(self, expected: bytes) -> None:
        data = b""
        while len(data) < len(expected):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data == expected

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server):
    conn = Raw(server.port)
    yield conn
    conn.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def subscribers(server, protocol):
    """Two redis-py PubSub objects speaking the protocol under test."""
    clients = [server.client(protocol=protocol) for _ in range(2)]
    pubsubs = [c.pubsub() for c in clients]
    yield pubsubs
    for p, c in zip(pubsubs, clients):
        p.close()
        c.close()


def test_confirmations_count_every_subscription(subscribers):
    p, _ = subscribers
    p.subscribe("a", "b")
    p.psubscribe("c*")
    assert [brief(next_message(p)) for _ in range(3)] == [
        ("subscribe", None, b"a", 1),
        ("subscribe", None, b"b", 2),
        ("psubscribe", None, b"c*", 3),
    ]
    p.subscribe("a")  # already subscribed: still confirmed, count unchanged
    assert brief(next_message(p)) == ("subscribe", None, b"a", 3)


def test_publish_reaches_channel_and_pattern_subscribers(r, subscribers):
    first, second = subscribers
    first.subscribe("news")
    second.subscribe("news")
    second.psubscribe("n*", "x*")
    next_message(first)
    for _ in range(3):
        next_message(second)
    assert r.publish("news", "hello") == 3
    assert brief(next_message(first)) == ("message", None, b"news", b"hello")
    received = {brief(next_message(second)) for _ in range(2)}
    assert received == {("message", None, b"news", b"hello"),
                        ("pmessage", b"n*", b"news", b"hello")}
    assert r.publish("nothing", "x") == 1
    assert brief(next_message(second)) == ("pmessage", b"n*", b"nothing", b"x")
    assert first.get_message(timeout=0.2) is None
    assert r.publish("other", "x") == 0


def test_unsubscribe_without_arguments_leaves_every_channel(r, subscribers):
    p, _ = subscribers
    p.subscribe("a", "b")
    p.psubscribe("p*")
    for _ in range(3):
        next_message(p)
    p.unsubscribe()
    left = [brief(next_message(p)) for _ in range(2)]
    # Channels leave in no particular order; the counts go down one by one, and the
    # pattern subscription still counts.
    assert sorted(channel for _, _, channel, _ in left) == [b"a", b"b"]
    assert [(kind, count) for kind, _, _, count in left] == [("unsubscribe", 2),
                                                            ("unsubscribe", 1)]
    assert r.publish("a", "x") == 0
    assert r.publish("pq", "x") == 1
    assert brief(next_message(p)) == ("pmessage", b"p*", b"pq", b"x")
    p.punsubscribe()
    assert brief(next_message(p)) == ("punsubscribe", None, b"p*", 0)
    assert r.publish("pq", "x") == 0


def test_unsubscribe_from_unknown_channel_is_confirmed(subscribers):
    p, _ = subscribers
    p.subscribe("a")
    next_message(p)
    p.unsubscribe("zz")
    assert brief(next_message(p)) == ("unsubscribe", None, b"zz", 1)


def test_pubsub_introspection(r, subscribers):
    first, second = subscribers
    first.subscribe("alpha", "beta")
    second.subscribe("alpha")
    first.psubscribe("a*", "b*")
    second.psubscribe("a*")
    for _ in range(4):
        next_message(first)
    for _ in range(2):
        next_message(second)
    assert sorted(r.pubsub_channels()) == [b"alpha", b"beta"]
    assert r.pubsub_channels("a*") == [b"alpha"]
    assert r.pubsub_channels("zz*") == []
    assert r.pubsub_numsub("alpha", "beta", "gamma") == [
        (b"alpha", 2), (b"beta", 1), (b"gamma", 0)]
    assert r.pubsub_numsub() == []
    assert r.pubsub_numpat() == 2  # distinct patterns, as Redis 7.0 counts them
    second.close()
    wait_until(lambda: r.pubsub_numsub("alpha") == [(b"alpha", 1)])
    assert r.pubsub_numpat() == 2
    first.punsubscribe("a*")
    next_message(first)
    assert r.pubsub_numpat() == 1
    first.unsubscribe("beta")
    next_message(first)
    assert r.pubsub_channels() == [b"alpha"]


def test_pubsub_help_and_errors(r):
    help_lines = r.execute_command("PUBSUB", "HELP")
    assert help_lines[0] == b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"NUMSUB [<channel> ...]" in help_lines
    errors = {
        ("PUBSUB", "foo"): "unknown subcommand 'foo'. Try PUBSUB HELP.",
        ("PUBSUB", "CHANNELS", "a", "b"):
            "unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.",
        ("PUBSUB", "NUMPAT", "x"): "wrong number of arguments for 'pubsub|numpat' command",
        ("PUBSUB", "help", "x"): "wrong number of arguments for 'pubsub|help' command",
        ("PUBSUB",): "wrong number of arguments for 'pubsub' command",
        ("PUBLISH", "a"): "wrong number of arguments for 'publish' command",
        ("SUBSCRIBE",): "wrong number of arguments for 'subscribe' command",
        ("PSUBSCRIBE",): "wrong number of arguments for 'psubscribe' command",
    }
    for args, text in errors.items():
        with pytest.raises(Exception) as info:
            r.execute_command(*args)
        assert str(info.value) == text


def test_resp2_frames_and_subscribed_mode(raw):
    raw.send(b"UNSUBSCRIBE", b"PUNSUBSCRIBE")
    raw.expect(b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
               b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n")
    raw.send(b"SUBSCRIBE a b a", b"PSUBSCRIBE a* b*")
    raw.expect(b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
               b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
               b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n"
               b"*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n"
               b"*3\r\n$10\r\npsubscribe\r\n$2\r\nb*\r\n:4\r\n")
    raw.send(b"GET x", b"PING", b"PING hi")
    raw.expect(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
               b"QUIT / RESET are allowed in this context\r\n"
               b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
               b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n")
    raw.send(b"PUNSUBSCRIBE", b"UNSUBSCRIBE b", b"UNSUBSCRIBE")
    raw.expect(b"*3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:3\r\n"
               b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nb*\r\n:2\r\n"
               b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n"
               b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n")
    raw.send(b"GET x")  # no subscriptions left: a normal connection again
    raw.expect(b"$-1\r\n")


def test_resp2_messages_and_reset(server, raw):
    raw.send(b"PSUBSCRIBE n*", b"SUBSCRIBE news")
    raw.expect(b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
               b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n")
    assert server.cli("PUBLISH", "news", "hi") == "2\n"
    raw.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
               b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
    raw.send(b"RESET", b"GET x")
    raw.expect(b"+RESET\r\n$-1\r\n")
    assert server.cli("PUBLISH", "news", "hi") == "0\n"


def test_resp3_pushes_on_a_normal_connection(raw):
    raw.send(b"HELLO 3")
    raw.sock.recv(65536)
    raw.send(b"SUBSCRIBE a", b"PSUBSCRIBE *", b"SET x 1", b"GET x")
    raw.expect(b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
               b">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:2\r\n"
               b"+OK\r\n$1\r\n1\r\n")
    # Publishing to itself: the messages come before the reply, as in Redis.
    raw.send(b"PUBLISH a hello")
    raw.expect(b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
               b">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$5\r\nhello\r\n"
               b":2\r\n")
    raw.send(b"UNSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE", b"PUNSUBSCRIBE")
    raw.expect(b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
               b">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n"
               b">3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:0\r\n"
               b">3\r\n$12\r\npunsubscribe\r\n_\r\n:0\r\n")


def test_in_process_api():
    db = alchemy.Database()
    with pytest.raises(alchemy.AlchemyError, match="SUBSCRIBE isn't allowed"):
        db.execute("SUBSCRIBE", "a")
    with pytest.raises(alchemy.AlchemyError, match="PSUBSCRIBE isn't allowed"):
        db.execute("PSUBSCRIBE", "a*")
    assert db.execute("PUBLISH", "a", "x") == 0
    assert db.execute("PUBSUB", "NUMPAT") == 0
    assert db.execute("UNSUBSCRIBE") == [b"unsubscribe", None, 0]


def test_subscribe_confirmations_ignore_client_reply_off(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"CLIENT REPLY OFF\r\nSUBSCRIBE a b\r\n")
    expected = b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
    got = b""
    sock.settimeout(5)
    while len(got) < len(expected):
        got += sock.recv(4096)
    assert got == expected
    sock.close()
