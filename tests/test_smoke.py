"""The server starts, answers redis-py, redis-cli and the in-process API."""


def test_set_get_resp2(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"


def test_resp3(r3):
    r3.set("k", "v")
    assert r3.get("k") == b"v"


def test_cli(server, r):
    assert server.cli("SET", "a", "1").strip() == "OK"
    assert server.cli("INCR", "a").strip() == "2"


def test_inprocess(db):
    assert db.execute("SET", "k", "v") == "OK"
    assert db.execute("GET", "k") == b"v"
