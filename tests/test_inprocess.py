"""The in-process API: `alchemy.Database().execute(...)` with no server and no sockets.

Replies come back as a client would receive them (bulk strings as bytes, integers as int,
nil as None, arrays as lists, statuses as str); error replies raise alchemy.AlchemyError
carrying Redis's text; MULTI/EXEC/WATCH work on the API's own client.
"""

import pytest

import alchemy


@pytest.fixture
def db():
    return alchemy.Database()


def error_of(db, *args) -> str:
    with pytest.raises(alchemy.AlchemyError) as caught:
        db.execute(*args)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def test_reply_types(db):
    assert db.execute("SET", "k", "v") == "OK"
    assert db.execute("GET", "k") == b"v"
    assert db.execute("GET", "missing") is None
    assert db.execute("APPEND", "k", "w") == 2
    assert db.execute("MGET", "k", "missing") == [b"vw", None]
    assert db.execute("PING") == "PONG"
    assert db.execute("SETBIT", "bits", 9, 1) == 0
    assert db.execute("BITFIELD", "bits", "GET", "u8", 8, "OVERFLOW", "FAIL",
                      "INCRBY", "u2", 0, 5) == [64, None]
    assert db.execute("LCS", "k", "k", "IDX") == {b"matches": [[[0, 1], [0, 1]]], b"len": 2}


def test_arguments_of_any_type_are_sent_as_their_text(db):
    assert db.execute("SET", b"raw\xff", 12) == "OK"
    assert db.execute("GET", b"raw\xff") == b"12"
    assert db.execute("INCRBY", "raw\xff".encode("latin-1"), 30) == 42
    assert db.execute("INCRBYFLOAT", "f", 0.5) == b"0.5"
    assert db.execute("set", "lower", "case") == "OK"
    assert db.execute("gEt", "lower") == b"case"


def test_errors_raise_with_redis_text(db):
    db.execute("SET", "k", "v")
    assert error_of(db, "INCR", "k") == "ERR value is not an integer or out of range"
    assert error_of(db, "INCRBY", "n", 2.5) == "ERR value is not an integer or out of range"
    assert error_of(db, "GET") == "ERR wrong number of arguments for 'get' command"
    assert error_of(db, "NOSUCH", "a") == \
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' "
    db.execute("SADD", "set", "m")
    assert error_of(db, "GET", "set") == \
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert error_of(db, "SETBIT", "k", -1, 1) == \
        "ERR bit offset is not an integer or out of range"
    assert error_of(db, "BITFIELD", "k", "GET", "u64", 0) == (
        "ERR Invalid bitfield type. Use something like i16 u8. "
        "Note that u64 is not supported but i64 is.")
    assert error_of(db, "INCRBYFLOAT", "f", "nan") == "ERR value is not a valid float"
    assert isinstance(alchemy.AlchemyError("x"), Exception)


def test_an_error_leaves_data_untouched(db):
    db.execute("SET", "k", "9223372036854775807")
    error_of(db, "INCR", "k")
    assert db.execute("GET", "k") == b"9223372036854775807"
    error_of(db, "SET", "k", "v", "EX", 10, "PX", 10)
    assert db.execute("GET", "k") == b"9223372036854775807"


def test_multi_exec(db):
    assert db.execute("MULTI") == "OK"
    assert db.execute("SET", "a", "1") == "QUEUED"
    assert db.execute("INCR", "a") == "QUEUED"
    assert db.execute("GET", "a") == "QUEUED"
    assert db.execute("EXEC") == ["OK", 2, b"2"]


def test_exec_returns_errors_in_place_without_raising(db):
    db.execute("MULTI")
    db.execute("SET", "a", "x")
    db.execute("INCR", "a")
    db.execute("APPEND", "a", "y")
    ok, error, length = db.execute("EXEC")
    assert ok == "OK" and length == 2
    assert isinstance(error, alchemy.AlchemyError)
    assert error.message == "ERR value is not an integer or out of range"


def test_queueing_error_aborts_exec(db):
    db.execute("MULTI")
    db.execute("SET", "a", "1")
    assert error_of(db, "NOSUCH") == "ERR unknown command 'NOSUCH', with args beginning with: "
    assert error_of(db, "EXEC") == \
        "EXECABORT Transaction discarded because of previous errors."
    assert db.execute("GET", "a") is None


def test_discard_and_state_errors(db):
    assert error_of(db, "EXEC") == "ERR EXEC without MULTI"
    assert error_of(db, "DISCARD") == "ERR DISCARD without MULTI"
    db.execute("MULTI")
    assert error_of(db, "MULTI") == "ERR MULTI calls can not be nested"
    assert error_of(db, "WATCH", "k") == "ERR WATCH inside MULTI is not allowed"
    db.execute("SET", "b", "1")
    assert db.execute("DISCARD") == "OK"
    assert db.execute("GET", "b") is None


def test_watch_abort_is_none(db):
    db.execute("SET", "k", "1")
    assert db.execute("WATCH", "k") == "OK"
    db.execute("SETBIT", "k", 0, 1)   # the API's own write also counts, as in Redis
    db.execute("MULTI")
    db.execute("GET", "k")
    assert db.execute("EXEC") is None
    db.execute("WATCH", "k")
    db.execute("SETBIT", "k", 0, 1)   # no change: the transaction goes through
    db.execute("MULTI")
    db.execute("GET", "k")
    assert db.execute("EXEC") == [b"\xb1"]


def test_select_sticks_and_databases_are_separate(db):
    db.execute("SET", "k", "zero")
    assert db.execute("SELECT", 1) == "OK"
    assert db.execute("GET", "k") is None
    db.execute("SET", "k", "one")
    db.execute("SELECT", 0)
    assert db.execute("GET", "k") == b"zero"
    other = alchemy.Database()
    assert other.execute("GET", "k") is None
